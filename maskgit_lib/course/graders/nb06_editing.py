"""Graders for notebook 06 (editing): each ``check_*`` prints one line, ✓ / ✗ / ✎."""

from __future__ import annotations

from collections.abc import Callable

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
