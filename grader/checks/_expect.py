"""Small helpers shared by the hidden checks: validate what the student's code returned.

Everything here runs on the trusted side.  A value that came back from the worker is
untrusted data: before comparing it with a reference, check that it is an array of the
expected shape (and finite), and fail with a bilingual message saying what was expected and
what was seen.
"""

from __future__ import annotations

import numpy as np

from dlkit.gradcheck import normwise_rel_error


def describe(value) -> str:
    """A short description of a value for feedback: type, shape, dtype, a few numbers."""
    if isinstance(value, np.ndarray):
        head = np.array2string(value.ravel()[:4], precision=4, separator=", ")
        return f"array shape {value.shape} {value.dtype}, first values {head}"
    text = repr(value)
    return f"{type(value).__name__} {text[:80]}{'…' if len(text) > 80 else ''}"


def array(feedback, value, *, what: str, shape: tuple, finite: bool = True) -> np.ndarray:
    """``value`` as an ndarray of ``shape``, or fail the check naming ``what`` was wrong."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        feedback.fail(
            en=f"{what}: expected a NumPy array of shape {shape}, got {describe(value)}.",
            ja=(f"{what}: 形状 {shape} の NumPy 配列を期待しましたが、{describe(value)} "
                f"が返されました。"),
        )
    if value.shape != tuple(shape):
        feedback.fail(
            en=f"{what}: expected shape {tuple(shape)}, got shape {value.shape}.",
            ja=f"{what}: 形状 {tuple(shape)} を期待しましたが、形状 {value.shape} でした。",
        )
    if finite and not np.all(np.isfinite(value)):
        bad = int(np.sum(~np.isfinite(value)))
        feedback.fail(
            en=f"{what}: expected finite numbers, got {bad} NaN/inf value(s).",
            ja=f"{what}: 有限の値を期待しましたが、NaN/inf が {bad} 個ありました。",
        )
    return value


def close(feedback, got, expected, *, what: str, tol: float, hint_en: str = "",
          hint_ja: str = "") -> None:
    """Fail unless normwise_rel_error(got, expected) <= tol (shapes checked first)."""
    got = array(feedback, got, what=what, shape=np.shape(expected))
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
            ja=(f"{what}: 参照値との相対誤差 {tol:g} 以下を期待しましたが、相対誤差は "
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
