"""Small helpers shared by the hidden checks: validate what the student's code returned.

Everything here runs on the trusted side.  A value that came back from the worker is
untrusted data: before comparing it with a reference, check that it is an array of the
expected shape (and finite), and fail with a bilingual message saying what was expected and
what was seen.
"""

from __future__ import annotations

import numpy as np

from dlkit.gradcheck import normwise_rel_error


def describe(value, lang: str = "en") -> str:
    """A short description of a value for feedback: type, shape, dtype, a few numbers."""
    if isinstance(value, np.ndarray):
        head = np.array2string(value.ravel()[:4], precision=4, separator=", ")
        if lang == "ja":
            return f"形状 {value.shape} {value.dtype} の配列（最初の値 {head}）"
        return f"array shape {value.shape} {value.dtype}, first values {head}"
    text = repr(value)
    return f"{type(value).__name__} {text[:80]}{'…' if len(text) > 80 else ''}"


def array(feedback, value, *, what: str, shape: tuple, finite: bool = True,
          what_ja: str | None = None) -> np.ndarray:
    """``value`` as an ndarray of ``shape``, or fail the check naming ``what`` was wrong.

    ``what`` names the value in English, ``what_ja`` in Japanese (default: ``what``, for a
    label that is only code, e.g. ``forward(x, train_flg=True), x 16×10 float64``)."""
    what_ja = what if what_ja is None else what_ja
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        feedback.fail(
            en=f"{what}: expected a NumPy array of shape {shape}, got {describe(value)}.",
            ja=(f"{what_ja}: 形状 {shape} の NumPy 配列を期待しましたが、{describe(value, 'ja')} "
                f"が返されました。"),
        )
    if value.shape != tuple(shape):
        feedback.fail(
            en=f"{what}: expected shape {tuple(shape)}, got shape {value.shape}.",
            ja=f"{what_ja}: 形状 {tuple(shape)} を期待しましたが、形状 {value.shape} でした。",
        )
    if finite and not np.all(np.isfinite(value)):
        bad = int(np.sum(~np.isfinite(value)))
        feedback.fail(
            en=f"{what}: expected finite numbers, got {bad} NaN/inf value(s).",
            ja=f"{what_ja}: 有限の値を期待しましたが、NaN/inf が {bad} 個ありました。",
        )
    return value


def close(feedback, got, expected, *, what: str, tol: float, hint_en: str = "",
          hint_ja: str = "", what_ja: str | None = None) -> None:
    """Fail unless normwise_rel_error(got, expected) <= tol (shapes checked first)."""
    what_ja = what if what_ja is None else what_ja
    got = array(feedback, got, what=what, what_ja=what_ja, shape=np.shape(expected))
    err = normwise_rel_error(got, expected)
    if not err <= tol:
        i = np.unravel_index(np.argmax(np.abs(got - expected)), np.shape(expected))
        index = tuple(int(k) for k in i)
        want, seen = float(np.asarray(expected)[i]), float(got[i])
        where_en = f" at index {index}" if index else ""
        where_ja = f"、インデックス {index}" if index else ""
        feedback.fail(
            en=(f"{what}: expected the reference values within relative error {tol:g}, got "
                f"relative error {err:.3g} (largest difference{where_en}: expected {want:.6g}, "
                f"got {seen:.6g}). {hint_en}").strip(),
            ja=(f"{what_ja}: 参照値との相対誤差 {tol:g} 以下を期待しましたが、相対誤差は "
                f"{err:.3g} でした（最大の差{where_ja}: 期待値 {want:.6g}、実際 {seen:.6g}）。"
                f"{hint_ja}").strip(),
        )


def grader_error(message: str):
    """Stop the whole checks process as a failure of the GRADER (not the student's).

    ``pytest.exit`` with return code 3: the runner sees a code other than 0/1, marks the
    assignment's status "grader" and ``dlkit-grade`` exits with status 3, so a missing
    dataset or a broken reference never turns silently into a score of 0.
    """
    import pytest

    pytest.exit(f"GRADER ERROR (not the student's fault): {message}", returncode=3)


def requires(feedback, main_en: str, main_ja: str, check, *args) -> None:
    """Run ``check(*args)``, the main result a secondary check depends on; if it fails, the
    secondary check scores 0 and says so (a do-nothing submission must not earn the points
    of properties that only make sense for a working one)."""
    from grader.scoring.plugin import CheckFailed

    try:
        check(*args)
    except CheckFailed as exc:
        feedback.fail(
            en=f"Not scored: this check pays only when {main_en} is right, and it is not: {exc.en}",
            ja=(f"採点対象外: この検査は{main_ja}が正しい場合にだけ得点になりますが、"
                f"そうなっていません: {exc.ja}"))
