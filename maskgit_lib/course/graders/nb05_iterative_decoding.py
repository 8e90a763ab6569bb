"""Graders for notebook 05 (iterative decoding): each ``check_*`` prints one line, ✓ / ✗ / ✎."""

from __future__ import annotations

from collections.abc import Callable

import torch

from maskgit_lib.course.graders.verdict import (
    Mismatch,
    Verdict,
    as_float,
    at,
    call_learner,
    first_mismatch,
    grade,
    num,
    pair_of,
    seeded,
    tensor_of,
    vs,
)


def check_decode_step(decode_step: Callable) -> Verdict:
    """``decode_step(logits, tokens, mask_id, n_keep, t, steps, temperature, randomness, generator) -> (tokens, confidence)``."""
    from maskgit_lib.generator.decoding import decode_step as library

    k, n, mask_id = 8, 16, 8
    cases = [  # (what, known tokens, n_keep, t, steps, temperature, randomness)
        ("all masked, no noise", 0, 1, 0, 8, 1.0, 0.0),
        ("3 known tokens, temperature 0.5, no noise", 3, 7, 2, 8, 0.5, 0.0),
        ("all masked, Gumbel noise 4.5", 0, 2, 0, 8, 1.0, 4.5),
        ("temperature 0.01 (confidence ties if tempered)", 0, 4, 1, 8, 0.01, 0.0),
        ("T = 1: everything fixed at once", 0, n, 0, 1, 1.0, 4.5),
        ("T = N: one more token per step", 5, 6, 5, n, 1.0, 4.5),
        ("late step: little noise left", 0, 8, 6, 8, 1.0, 4.5),
        ("last step of 8", 12, n, 7, 8, 0.7, 4.5),
    ]

    def body() -> str:
        for seed, (what, n_known, n_keep, t, steps, temperature, randomness) in enumerate(cases):
            g = seeded(seed)
            logits = torch.randn(4, n, k, generator=g) * 2  # (B, N, K)
            tokens = torch.full((4, n), mask_id)
            tokens[:, :n_known] = torch.randint(0, k, (4, n_known), generator=g)
            case = f"{what}; n_keep={n_keep}, t={t}, steps={steps}"
            expected, expected_conf = library(logits, tokens, mask_id, n_keep, t, steps, temperature, randomness, seeded(100 + seed))
            mine = pair_of(call_learner(decode_step, logits.clone(), tokens.clone(), mask_id, n_keep, t, steps, temperature, randomness,
                               seeded(100 + seed), case=case), "tokens, confidence", case)
            new = tensor_of(mine[0], "the new tokens", case, (4, n))
            confidence = tensor_of(mine[1], "the confidence", case, (4, n))
            known = tokens != mask_id
            if not torch.equal(new[known], tokens[known]):
                i = tuple(int(x) for x in torch.nonzero(known & (new != tokens))[0])
                raise Mismatch(f"known token {at(i)} changed from {int(tokens[i])} to {int(new[i])} [{case}]",
                               "known tokens stay: torch.where(unknown, sampled, tokens), and their score is +∞ so they are always kept")
            kept = (new != mask_id).sum(1)
            if (kept != n_keep).any():
                b = int(torch.nonzero(kept != n_keep)[0])
                raise Mismatch(f"row {b} keeps {int(kept[b])} tokens, expected n_keep = {n_keep} (known ones included) [{case}]",
                               "rank all positions by score and keep the n_keep best; re-mask the rest with mask_id")
            unknown = ~known
            sampled = _sampled(logits, temperature, seed)  # (B, N) what both drew first
            tempered = torch.log_softmax(logits / temperature, -1).gather(-1, sampled[..., None])[..., 0]  # (B, N)
            if (bad := first_mismatch(confidence[unknown], expected_conf[unknown], 1e-4, 1e-5)) is not None:
                was_tempered = temperature != 1 and torch.allclose(confidence[unknown].float(), tempered[unknown], atol=1e-5)
                mine_kept = unknown & (new != mask_id)  # where the learner's own sample is visible
                own = torch.log_softmax(logits, -1).gather(-1, new.clamp(max=k - 1)[..., None])[..., 0]  # (B, N)
                if not was_tempered and mine_kept.any() and torch.allclose(confidence[mine_kept].float(), own[mine_kept], atol=1e-5):
                    raise Mismatch(f"your samples differ from the library's with the same generator [{case}]",
                                   "draw in this order, both with generator=generator: first the sample, torch.multinomial("
                                   "probs.view(-1, K), 1, generator=generator), then the noise, gumbel_noise(shape, generator)")
                raise Mismatch(
                    f"the confidence of a masked position is {num(float(confidence[unknown][bad]))}, expected "
                    f"{num(float(expected_conf[unknown][bad]))} [{case}]",
                    "you scored with the tempered log-probabilities; at low temperature they are all ≈ 0 and tie: score with "
                    "the untempered ones, log_softmax(logits), like the reference" if was_tempered else
                    "confidence = log_softmax(logits) (untempered) at the sampled token: .gather(-1, sampled[..., None])")
            if not torch.equal(new, expected):
                i = tuple(int(x) for x in torch.nonzero(new != expected)[0])
                both = new[i] != mask_id and expected[i] != mask_id
                raise Mismatch(
                    f"position {at(i)} is {_token(new[i], mask_id)}, expected {_token(expected[i], mask_id)} [{case}]",
                    "the sample differs: sample from softmax(logits / temperature) with torch.multinomial(probs.view(-1, K), 1, "
                    "generator=generator), before drawing the noise" if both else
                    "a different position was kept: keep the n_keep highest scores, score = confidence (+∞ if known)"
                    if randomness == 0 or t == steps - 1 else
                    "a different position was kept: score = confidence + randomness · (1 − (t+1)/T) · gumbel_noise(shape, "
                    "generator), the noise drawn after the sample")
        return f"on {len(cases)} cases (known tokens, temperature 0.01 to 1, annealed Gumbel noise, T = 1, T = N, the last step): identical tokens and confidences."

    return grade(decode_step, "matches `maskgit_lib.generator.decoding.decode_step`", body)


def _sampled(logits: torch.Tensor, temperature: float, seed: int) -> torch.Tensor:
    """The samples ``decode_step`` draws first with the generator of case ``seed`` (for diagnosing confidences)."""
    probs = torch.softmax(logits.float() / max(temperature, 1e-6), dim=-1)
    b, n, k = logits.shape
    return torch.multinomial(probs.view(-1, k), 1, generator=seeded(100 + seed)).view(b, n)


def _token(value: torch.Tensor, mask_id: int) -> str:
    return "[MASK]" if int(value) == mask_id else f"token {int(value)}"


class _ClassSensitiveModel(torch.nn.Module):
    """A stand-in for the Transformer whose logits depend strongly on the class, so that guidance shows.

    forward(tokens (B, N), labels (B,) or None) -> (B, N, K): a logit table per token id, plus one
    per class (``labels`` None or −1: the "no class" row).
    """

    def __init__(self, codebook_size: int = 32, n_classes: int = 4, seed: int = 7):
        super().__init__()
        g = seeded(seed)
        self.token_logits = torch.nn.Parameter(torch.randn(codebook_size + 1, codebook_size, generator=g))  # (K+1, K): codes + [MASK]
        self.class_logits = torch.nn.Parameter(3 * torch.randn(n_classes + 1, codebook_size, generator=g))  # (C+1, K): last = no class

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        rows = torch.full((len(tokens),), len(self.class_logits) - 1) if labels is None else labels.clone()
        rows[rows < 0] = len(self.class_logits) - 1
        return self.token_logits[tokens] + self.class_logits[rows][:, None, :]  # (B, N, K)


def check_guided_logits(guided_logits: Callable) -> Verdict:
    """``guided_logits(model, tokens (B, N), labels (B,) | None, scale) -> (B, N, K)``: classifier-free guidance."""
    from maskgit_lib.generator.decoding import guided_logits as library

    def body() -> str:
        model = _ClassSensitiveModel()
        mask_id = 32
        g = seeded(0)
        tokens = torch.randint(0, 32, (3, 16), generator=g)  # (B, N)
        tokens[:, ::2] = mask_id
        cases = [("scale 3", torch.tensor([0, 1, 3]), 3.0), ("scale 0: no guidance", torch.tensor([0, 1, 3]), 0.0),
                 ("scale 0.5, one example", torch.tensor([2]), 0.5), ("no labels: nothing to guide towards", None, 2.0)]
        for case, labels, scale in cases:
            batch = tokens[: len(labels) if labels is not None else 3]
            with torch.no_grad():
                expected = library(model, batch, labels, scale)
                value = tensor_of(call_learner(guided_logits, model, batch.clone(), labels, scale, case=case), "the logits", case, tuple(expected.shape))
            if (bad := first_mismatch(value, expected, 1e-4, 1e-4)) is not None:
                hint = ("without labels there is no condition: return the unconditional logits, whatever the scale"
                        if labels is None else
                        "ℓ = ℓ_c + s·(ℓ_c − ℓ_u): the conditional logits pushed away from the unconditional ones, which come from "
                        "the same model with labels=None (the 'no class' token); s = 0 is no guidance")
                raise Mismatch(f"logits{at(bad)} is {vs(as_float(value[bad]), as_float(expected[bad]))} [{case}]", hint)
        return "on 4 cases (scale 0 to 3, one example, no labels)."

    return grade(guided_logits, "matches `maskgit_lib.generator.decoding.guided_logits`", body)
