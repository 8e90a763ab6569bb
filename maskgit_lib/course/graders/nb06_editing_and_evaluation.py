"""Graders for notebook 06 (editing and evaluation): each ``check_*`` prints one line, ✓ / ✗ / ✎."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from maskgit_lib.course.graders.verdict import (
    Mismatch,
    Verdict,
    at,
    call_learner,
    grade,
    seeded,
    tensor_of,
    tiny_model,
    vs,
)


def check_inpaint(inpaint: Callable, step_fn: Callable | None = None) -> Verdict:
    """``inpaint(model, tokens (B, N), edit_mask (N,), labels (B,), steps, seed, step_fn) -> (B, N)``.

    Compared with ``maskgit_decode(..., init_tokens=tokens, edit_mask=edit_mask)`` at its defaults
    (cosine, temperature 1, randomness 4.5, no guidance). ``step_fn`` is the decoding step the
    inpainting loop is given: the library's by default, so this check grades the loop alone.
    """
    from maskgit_lib.generator.decoding import decode_step, maskgit_decode

    step_fn = step_fn or decode_step

    def body() -> str:
        model = tiny_model(1)
        mask_id, n = model.layout.mask_id, model.n_tokens
        g = seeded(0)
        image_tokens = torch.randint(0, 32, (3, n), generator=g)
        box = torch.zeros(n, dtype=torch.bool)
        box[5:11] = True
        one = torch.zeros(n, dtype=torch.bool)
        one[7] = True
        cases = [("6 of 16 tokens, 4 steps", box, 4, 3), ("6 of 16 tokens, 8 steps (more steps than tokens)", box, 8, 3),
                 ("a single token", one, 4, 1), ("every token: plain generation", torch.ones(n, dtype=torch.bool), 6, 2)]
        for seed, (case, region, steps, batch) in enumerate(cases):
            tokens, labels = image_tokens[:batch], torch.arange(batch) % 4
            expected, _ = maskgit_decode(model, batch, labels, steps=steps, seed=seed, init_tokens=tokens, edit_mask=region)
            with torch.no_grad():
                value = call_learner(inpaint, model, tokens.clone(), region.clone(), labels.clone(), steps, seed, step_fn, case=case)
            value = tensor_of(value, "the result", case, (batch, n))
            outside = ~region.expand(batch, n)
            if not torch.equal(value[outside], tokens[outside]):
                i = tuple(int(x) for x in torch.nonzero(outside & (value != tokens))[0])
                raise Mismatch(f"token {at(i)} outside the edit region changed [{case}]",
                               "start from the image's tokens with only the region set to mask_id; known tokens are never resampled")
            if (value == mask_id).any():
                raise Mismatch(f"[MASK] tokens are left after the last step [{case}]",
                               "the budget of the last step must be N: kept + all of the region")
            if not torch.equal(value, expected):
                i = tuple(int(x) for x in torch.nonzero(value != expected)[0])
                raise Mismatch(f"token {at(i)} is {int(value[i])}, maskgit_decode gives {int(expected[i])} [{case}]",
                               "spread only the M masked tokens over the steps: steps = min(steps, M), n_keep at step t = "
                               "(N − M) + tokens_fixed_after_step('cosine', steps, M)[t]; one generator seeded with seed; "
                               "step_fn(model(tokens, labels), tokens, mask_id, n_keep, t, steps, 1.0, 4.5, generator)")
        return f"on {len(cases)} cases (a box, more steps than tokens, one token, the whole grid): identical tokens."

    return grade(inpaint, "matches `maskgit_lib.generator.decoding.maskgit_decode(init_tokens=…, edit_mask=…)`", body)


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
