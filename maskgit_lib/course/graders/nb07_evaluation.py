"""Graders for notebook 07 (evaluation): each ``check_*`` prints one line, ✓ / ✗ / ✎."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from maskgit_lib.course.graders.verdict import Mismatch, Verdict, call_learner, grade, vs


def check_frechet_distance(frechet_distance: Callable) -> Verdict:
    """``frechet_distance(feats_a (n_a, d), feats_b (n_b, d)) -> float``: FID between two feature sets."""
    from maskgit_lib.evaluation.metrics import frechet_distance as library

    def body() -> str:
        rng = np.random.default_rng(0)
        mixing = rng.normal(size=(16, 16))
        a16 = rng.normal(size=(500, 16)) @ mixing
        cases = [("500 vs 400 features, d = 16, different covariances", a16, rng.normal(size=(400, 16)) * 2 + 0.5),
                 ("the same set twice", a16, a16.copy()),
                 ("shifted means only, d = 3", rng.normal(size=(300, 3)), rng.normal(size=(300, 3)) + np.array([1.0, -2.0, 0.5])),
                 ("200 vs 250, d = 4", rng.normal(size=(200, 4)), rng.normal(size=(250, 4)) @ rng.normal(size=(4, 4)))]
        for case, a, b in cases:
            expected = library(a, b)
            value = call_learner(frechet_distance, a.copy(), b.copy(), case=case)
            try:
                value = float(np.real(value))
            except (TypeError, ValueError):
                raise Mismatch(f"returned {type(value).__name__}, expected one number [{case}]") from None
            scale = float(np.trace(np.cov(a, rowvar=False)) + np.trace(np.cov(b, rowvar=False)))
            if not math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-6 * scale):
                biased = (((a.mean(0) - b.mean(0)) ** 2).sum() + _trace_terms(a, b, ddof=0))
                hint = ("covariances divide by n − 1 (np.cov(x, rowvar=False)), not n" if math.isclose(value, biased, rel_tol=1e-4) else
                        "FID = ‖μa − μb‖² + tr Σa + tr Σb − 2·tr (Σa Σb)^½; tr (Σa Σb)^½ is the sum of the square roots of the "
                        "eigenvalues of Σa Σb (np.linalg.eigvals, real part, clipped at 0), or the trace of scipy.linalg.sqrtm")
                raise Mismatch(f"{vs(value, expected)} [{case}]", hint)
        return "on 4 cases (different covariances, identical sets, shifted means, unequal sizes)."

    return grade(frechet_distance, "matches `maskgit_lib.evaluation.metrics.frechet_distance`", body)


def _trace_terms(a: np.ndarray, b: np.ndarray, ddof: int) -> float:
    sa, sb = np.cov(a, rowvar=False, ddof=ddof), np.cov(b, rowvar=False, ddof=ddof)
    root = np.sqrt(np.clip(np.linalg.eigvals(sa @ sb).real, 0, None)).sum()
    return float(np.trace(sa) + np.trace(sb) - 2 * root)


def check_kid(mmd2_unbiased: Callable) -> Verdict:
    """``mmd2_unbiased(feats_a (m, d), feats_b (m, d)) -> float``: KID on one subset, kernel (x·y / d + 1)³."""
    from maskgit_lib.evaluation.metrics import mmd2_unbiased as library

    def body() -> str:
        rng = np.random.default_rng(0)
        cases = [("60 vs 60 features, d = 8, different distributions", rng.normal(size=(60, 8)), rng.normal(size=(60, 8)) * 1.5 + 0.3),
                 ("two samples of one distribution, d = 16", rng.normal(size=(40, 16)), rng.normal(size=(40, 16))),
                 ("the same set twice, d = 3", (same := rng.normal(size=(25, 3))), same.copy()),
                 ("m = 2, d = 5", rng.normal(size=(2, 5)), rng.normal(size=(2, 5)) + 1.0)]
        for case, a, b in cases:
            expected = library(a, b)
            value = call_learner(mmd2_unbiased, a.copy(), b.copy(), case=case)
            try:
                value = float(np.real(value))
            except (TypeError, ValueError):
                raise Mismatch(f"returned {type(value).__name__}, expected one number [{case}]") from None
            if not math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-9):
                raise Mismatch(f"{vs(value, expected)} [{case}]", _kid_hint(value, a, b))
        return "on 4 cases (two distributions, one distribution, identical sets, m = 2)."

    return grade(mmd2_unbiased, "matches `maskgit_lib.evaluation.metrics.mmd2_unbiased`", body)


def _kid_hint(value: float, a: np.ndarray, b: np.ndarray) -> str:
    m, d = len(a), a.shape[1]
    kernel = lambda x, y, scale: (x @ y.T / scale + 1) ** 3  # noqa: E731
    within = kernel(a, a, d).sum() + kernel(b, b, d).sum()
    if math.isclose(value, within / m**2 - 2 * kernel(a, b, d).mean(), rel_tol=1e-6):
        return "leave out the i = j terms: the within-set sums without their diagonal, divided by m(m − 1)"
    unscaled = kernel(a, a, 1), kernel(b, b, 1)
    off = sum(k.sum() - np.trace(k) for k in unscaled) / (m * (m - 1))
    if math.isclose(value, off - 2 * kernel(a, b, 1).mean(), rel_tol=1e-6):
        return "the kernel divides the dot product by the dimension: k(x, y) = (x·y / d + 1)³"
    return ("KID = [Σ_{i≠j} k(a_i, a_j) + Σ_{i≠j} k(b_i, b_j)] / (m(m − 1)) − 2 Σ_{i,j} k(a_i, b_j) / m², "
            "k(x, y) = (x·y / d + 1)³")
