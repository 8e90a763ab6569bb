"""Graders for notebook 03 (masking schedule): each ``check_*`` prints one line, ✓ / ✗ / ✎."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from maskgit_lib.course.graders.verdict import (
    Mismatch,
    Verdict,
    as_float,
    call_learner,
    first_mismatch,
    grade,
    tensor_of,
    vs,
)


def check_tokens_masked(tokens_masked_after_step: Callable) -> Verdict:
    """``tokens_masked_after_step(schedule, steps, n_tokens) -> list[int]``: still masked after each step."""
    from maskgit_lib.generator.masking import tokens_masked_after_step as library

    cases = [("cosine", 8, 64), ("cosine", 12, 256), ("linear", 64, 64), ("cosine", 1, 64), ("sqrt", 5, 16),
             ("square", 16, 16), ("log", 10, 64), ("exp", 3, 4), ("cubic", 7, 7), ("cosine", 2, 1024)]

    def body() -> str:
        for schedule, steps, n in cases:
            edge = " (T = 1)" if steps == 1 else " (T = N)" if steps == n else ""
            case = f"{schedule}, T={steps}, N={n}{edge}"
            expected = library(schedule, steps, n)
            mine = call_learner(tokens_masked_after_step, schedule, steps, n, case=case)
            try:
                mine = [float(m) for m in mine]
            except (TypeError, ValueError):
                raise Mismatch(f"returned {type(mine).__name__}, expected a list of {steps} numbers [{case}]") from None
            if len(mine) != steps:
                raise Mismatch(f"{len(mine)} counts for {steps} steps [{case}]", "one count per step: after step 1, after step 2, …")
            for t, (m, e) in enumerate(zip(mine, expected, strict=True)):
                if m != e:
                    previous = n if t == 0 else expected[t - 1]
                    hint = ("nothing may stay masked after the last step" if t == steps - 1 else
                            "every step must fix at least one more token: masked ≤ (masked before) − 1" if m >= previous else
                            "leave room for one token per remaining step: masked ≥ T − 1 − t" if m < steps - 1 - t else
                            "fixed = ⌊N·(1 − γ((t+1)/T))⌋ rounds down (so masked rounds up); masked = N − fixed; "
                            "γ comes from maskgit_lib.generator.masking.gamma(schedule, r)")
                    raise Mismatch(f"after step {t + 1} of {steps}: {m:g} masked, expected {e} [{case}]", hint)
        return f"on {len(cases)} cases (7 schedules, T = 1, T = N, N from 1 to 1024 tokens)."

    return grade(tokens_masked_after_step, "matches `maskgit_lib.generator.masking.tokens_masked_after_step`", body)


def check_reference_log(reference_log: Callable) -> Verdict:
    """``reference_log(r (M,), n_tokens) -> (M,)``: google-research/maskgit's ``log`` schedule."""
    from maskgit_lib.generator.masking import reference_gamma

    def body() -> str:
        r = torch.linspace(0, 1, 101, dtype=torch.float64)
        for n in (16, 64, 256, 1024):
            case = f"N={n}, r from 0 to 1"
            expected = reference_gamma("log", r, n)
            value = tensor_of(call_learner(reference_log, r.clone(), n, case=case), "γ", case, tuple(r.shape))
            if (bad := first_mismatch(value, expected, 1e-5, 1e-5)) is not None:
                v = as_float(value[bad])
                hint = ("−log₂(0) = +∞: clip to [1e-6, 1] as the reference does" if not math.isfinite(v) else
                        "clip to [1e-6, 1]" if v > 1 or v < 0 else
                        "γ(r) = −log₂(r) / log₂(N), then clipped to [1e-6, 1]")
                raise Mismatch(f"γ({float(r[bad]):.2f}) is {vs(v, float(expected[bad]))} [{case}]", hint)
        return "on 4 grid sizes, r from 0 to 1 (the clip at both ends included)."

    return grade(reference_log, "matches `maskgit_lib.generator.masking.reference_gamma('log', r, N)`", body)
