"""Copy the figures and report of a ``dlkit reproduce`` run into the documentation.

    dlkit reproduce --dataset fashion-mnist --out results
    python docs/refresh_gallery.py results

The figures are stored with a 256-colour palette (the plots have few colours, and the PNGs
shrink to about a third), the report as it was written. The gallery page and the README show
them from docs/lesson/reproduce/, where the report is a page of its own.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from PIL import Image

GALLERY = Path(__file__).resolve().parent / "lesson" / "reproduce"


def refresh(results: Path, gallery: Path = GALLERY) -> list[Path]:
    """Copy results/*.png (palette-quantized) and results/report.md into ``gallery``."""
    pngs = sorted(results.glob("*.png"))
    report = results / "report.md"
    if not pngs or not report.is_file():
        raise FileNotFoundError(f"{results}: expected the PNG figures and report.md of "
                                f"`dlkit reproduce`, found {[p.name for p in results.iterdir()]}")
    gallery.mkdir(parents=True, exist_ok=True)
    written = []
    for png in pngs:
        with Image.open(png) as image:
            palette = image.convert("RGB").quantize(
                colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        palette.save(gallery / png.name, optimize=True)
        written.append(gallery / png.name)
    shutil.copyfile(report, gallery / "report.md")
    return [*written, gallery / "report.md"]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python docs/refresh_gallery.py RESULTS_FOLDER")
    for path in refresh(Path(sys.argv[1])):
        print(path)
