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
