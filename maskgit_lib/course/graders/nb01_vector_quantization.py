"""Graders for notebook 01 (vector quantization): each ``check_*`` prints one line, ✓ / ✗ / ✎."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from maskgit_lib.course.graders.verdict import (
    Mismatch,
    Verdict,
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


def check_quantize(quantize: Callable) -> Verdict:
    """``quantize(z (N, D), codebook (K, D)) -> (z_q (N, D), indices (N,))``: nearest code + straight-through."""
    from maskgit_lib.tokenizer.quantize import nearest_code

    cases = [(1, 1, 2, 0), (5, 8, 2, 1), (64, 16, 3, 2), (300, 512, 8, 3), (9, 4, 2, 4), (16, 16, 4, 5)]

    def body() -> str:
        for n, k, d, seed in cases:
            g = seeded(seed)
            codebook = torch.randn(k, d, generator=g)  # (K, D)
            if seed == 4:
                codebook[1] = codebook[0]  # a tie: either code is a right answer
            z_value = codebook[torch.randperm(k, generator=g)] if seed == 5 else torch.randn(n, d, generator=g) * 2  # (N, D)
            z = z_value.clone().requires_grad_(True)
            case = f"N={n}, K={k}, D={d}" + (", two equal codes" if seed == 4 else ", z exactly on the codes" if seed == 5 else "")
            z_q, indices = pair_of(call_learner(quantize, z, codebook.clone(), case=case), "z_q, indices", case)
            indices = tensor_of(indices, "indices", case, (n,))
            if indices.dtype.is_floating_point or indices.dtype == torch.bool:
                raise Mismatch(f"indices have dtype {indices.dtype}, expected integers [{case}]", "argmin returns int64 ids")
            if (indices < 0).any() or (indices >= k).any():
                raise Mismatch(f"an index is outside 0…{k - 1} [{case}]", "argmin over the codebook axis (dim=1) of an (N, K) distance matrix")
            distances = (z_value.double()[:, None] - codebook.double()[None]).pow(2).sum(-1)  # (N, K)
            chosen = distances.gather(1, indices.long()[:, None])[:, 0]  # (N,)
            best = distances.min(1).values
            worse = chosen > best + 1e-6 * (1 + best)
            if worse.any():
                i = int(torch.nonzero(worse)[0])
                nearer = int(nearest_code(z_value[i : i + 1], codebook)[0])
                raise Mismatch(
                    f"row {i} took code {int(indices[i])} at distance² {num(chosen[i])}, but code {nearer} is nearer "
                    f"({num(best[i])}) [{case}]",
                    "the token is argmin_k ‖z − e_k‖²: distances of shape (N, K), then argmin over dim=1 (the codes)")
            z_q = tensor_of(z_q, "z_q", case, (n, d))
            codes = codebook[indices.long()]
            if (bad := first_mismatch(z_q, codes, 1e-5, 1e-6)) is not None:
                like_z = torch.allclose(z_q.detach(), z_value, atol=1e-6)
                raise Mismatch(
                    f"z_q{at(bad)} is {num(z_q[bad])}, the chosen code has {num(codes[bad])} [{case}]",
                    "z_q equals z: the decoder must receive the code, not the encoder output" if like_z else
                    "the forward value of z_q is the chosen code e_k itself; the straight-through trick changes only the gradient")
            if not z_q.requires_grad:
                raise Mismatch(f"z_q carries no gradient (requires_grad is False) [{case}]",
                               "codebook[indices] alone does not depend on z, so nothing reaches the encoder: add the "
                               "straight-through term, z_q = codebook[indices] + (z − z.detach())")
            upstream = torch.randn(n, d, generator=g)  # the decoder's gradient at z_q
            z_q.backward(upstream)
            if z.grad is None:
                raise Mismatch(f"no gradient reaches z [{case}]",
                               "straight-through: z_q = e_k + (z − z.detach()), whose value is e_k and whose gradient is the identity")
            if (bad := first_mismatch(z.grad, upstream, 1e-5, 1e-6)) is not None:
                raise Mismatch(
                    f"the gradient at z{at(bad)} is {num(z.grad[bad])}, the decoder sent {num(upstream[bad])} [{case}]",
                    "the straight-through estimator copies the gradient from z_q to z unchanged: z_q = e_k + (z − z.detach())")
        return f"on {len(cases)} cases (N from 1 to 300, K from 1 to 512, ties, z on the codes): same tokens, z_q = the codes, gradient passed to z unchanged."

    return grade(quantize, "matches `maskgit_lib.tokenizer.quantize.nearest_code` + the straight-through of `VectorQuantizer.forward`", body)


def _library_vq_loss(z: torch.Tensor, codebook: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``VectorQuantizer.forward``'s loss for z (N, D) and codebook (K, D): (loss, ∂loss/∂z, ∂loss/∂codebook)."""
    from maskgit_lib.config import QuantizerConfig
    from maskgit_lib.tokenizer.quantize import VectorQuantizer

    quantizer = VectorQuantizer(QuantizerConfig(codebook_size=len(codebook), code_dim=z.shape[1], beta=beta)).train()
    quantizer.codebook.data.copy_(codebook)
    z = z.clone().requires_grad_(True)
    loss = quantizer(z.t().reshape(1, z.shape[1], len(z), 1)).loss  # (1, D, N, 1): N positions of one image
    loss.backward()
    return loss.detach(), z.grad, quantizer.codebook.grad


def _proportional(mine: torch.Tensor, expected: torch.Tensor, factor: float) -> bool:
    return bool(expected.abs().max() > 0) and torch.allclose(mine, expected * factor, rtol=1e-4, atol=1e-8)


def check_vq_loss(vq_loss: Callable) -> Verdict:
    """``vq_loss(z (N, D), z_q (N, D), beta) -> ()``: codebook term + β × commitment, with their stop-gradients.

    The value alone cannot tell a right answer from one without ``.detach()`` (both are (1 + β)·MSE),
    so the check compares the gradients at z and at the codebook with ``VectorQuantizer``'s too.
    """
    from maskgit_lib.tokenizer.quantize import nearest_code

    cases = [(1, 1, 2, 0.25, 0), (16, 8, 2, 0.25, 1), (64, 32, 4, 1.0, 2), (300, 512, 8, 0.1, 3), (5, 16, 3, 2.0, 4)]
    full = "L = mean (sg(z) − z_q)² + β · mean (z − sg(z_q))²: F.mse_loss(z_q, z.detach()) + beta * F.mse_loss(z, z_q.detach())"

    def body() -> str:
        for n, k, d, beta, seed in cases:
            g = seeded(seed)
            z_value = torch.randn(n, d, generator=g) * 2  # (N, D)
            codebook_value = torch.randn(k, d, generator=g)  # (K, D)
            case = f"N={n}, K={k}, D={d}, β={beta}"
            loss, z_grad, code_grad = _library_vq_loss(z_value, codebook_value, beta)
            z, codebook = z_value.clone().requires_grad_(True), codebook_value.clone().requires_grad_(True)
            z_q = codebook[nearest_code(z_value, codebook_value)]  # (N, D) the chosen codes, still tied to the codebook
            mine = tensor_of(call_learner(vq_loss, z, z_q, beta, case=case), "the loss", case)
            if mine.numel() != 1:
                raise Mismatch(f"the loss has shape {tuple(mine.shape)}, expected one number [{case}]", "take the mean over all N·D numbers")
            if not math.isclose(float(mine.detach()), float(loss), rel_tol=1e-4, abs_tol=1e-7):
                mse = float(loss) / (1 + beta)
                hint = ("that is one term without the other: add the codebook term and β × the commitment term"
                        if math.isclose(float(mine.detach()), mse, rel_tol=1e-4) or math.isclose(float(mine.detach()), beta * mse, rel_tol=1e-4)
                        else "a sum where the library takes means: F.mse_loss averages over all N·D numbers"
                        if math.isclose(float(mine.detach()), float(loss) * n * d, rel_tol=1e-4) else full)
                raise Mismatch(f"the loss is {vs(mine.detach(), loss)} [{case}]", hint)
            if not mine.requires_grad:
                raise Mismatch(f"the loss carries no gradient [{case}]",
                               "detach only one side of each term: the codebook term needs z_q, the commitment term needs z")
            mine.backward()
            if z.grad is None or not z.grad.abs().max() > 0:
                raise Mismatch(f"no gradient reaches z [{case}]",
                               "the commitment term β·mean (z − sg(z_q))² pulls the encoder: detach z_q there, not z")
            if (bad := first_mismatch(z.grad, z_grad, 1e-4, 1e-8)) is not None:
                hint = ("the codebook term moves z too: detach z in it, F.mse_loss(z_q, z.detach())"
                        if _proportional(z.grad, z_grad, (1 + beta) / beta) else
                        "β weighs the commitment term, the one whose gradient reaches z; the codebook term has weight 1"
                        if _proportional(z.grad, z_grad, 1 / beta) else full)
                raise Mismatch(f"the gradient at z{at(bad)} is {vs(z.grad[bad], z_grad[bad])} [{case}]", hint)
            if codebook.grad is None or not codebook.grad.abs().max() > 0:
                raise Mismatch(f"no gradient reaches the codebook [{case}]",
                               "the codebook term mean (sg(z) − z_q)² moves the codes: detach z there, not z_q")
            if (bad := first_mismatch(codebook.grad, code_grad, 1e-4, 1e-8)) is not None:
                hint = ("the commitment term moves the codes too: detach z_q in it, beta * F.mse_loss(z, z_q.detach())"
                        if _proportional(codebook.grad, code_grad, 1 + beta) else
                        "β belongs to the commitment term; the codebook term has weight 1"
                        if _proportional(codebook.grad, code_grad, beta) else full)
                raise Mismatch(f"the gradient at codebook{at(bad)} is {vs(codebook.grad[bad], code_grad[bad])} [{case}]", hint)
        return (f"on {len(cases)} cases (β from 0.1 to 2, up to 512 codes, unused codes): same value, same gradients at z "
                "and at the codebook.")

    return grade(vq_loss, "matches the loss of `maskgit_lib.tokenizer.quantize.VectorQuantizer` (value and gradients)", body)


def check_ema_update(ema_update: Callable) -> Verdict:
    """``ema_update(ema_count (K,), ema_sum (K, D), z (N, D), indices (N,), decay) -> (ema_count, ema_sum, codebook)``."""
    from maskgit_lib.tokenizer.quantize import ema_codebook_update

    cases = [(4, 2, 10, 0.99, 0), (16, 3, 40, 0.9, 1), (8, 2, 1, 0.5, 2), (5, 2, 20, 0.0, 3), (512, 8, 256, 0.99, 4)]

    def body() -> str:
        for k, d, n, decay, seed in cases:
            g = seeded(seed)
            ema_count = torch.rand(k, generator=g) * 5  # (K,)
            ema_count[-1] = 1e-8  # a code that has (almost) never been chosen
            ema_sum = torch.randn(k, d, generator=g)  # (K, D)
            z = torch.randn(n, d, generator=g)  # (N, D)
            indices = torch.randint(0, max(k // 2, 1), (n,), generator=g)  # (N,) the upper half of the codes gets nothing
            case = f"K={k}, D={d}, N={n}, decay={decay}"
            expected = ema_codebook_update(ema_count.clone(), ema_sum.clone(), z.clone(), indices.clone(), decay)
            mine = pair_of(call_learner(ema_update, ema_count.clone(), ema_sum.clone(), z.clone(), indices.clone(), decay, case=case),
                         "ema_count, ema_sum, codebook", case)
            hints = [
                "N_k ← d·N_k + (1 − d)·n_k (d: the decay), where n_k counts the vectors that chose code k in this batch: torch.bincount(indices, minlength=K)",
                "S_k ← d·S_k + (1 − d)·s_k, where s_k sums the vectors that chose code k: torch.zeros(K, D).index_add_(0, indices, z)",
            ]
            for what, value, reference, hint, shape in zip(("ema_count", "ema_sum", "codebook"), mine, expected,
                                                           [*hints, ""], [(k,), (k, d), (k, d)], strict=True):
                value = tensor_of(value, what, case, shape)
                if (bad := first_mismatch(value, reference, 1e-4, 1e-6)) is not None:
                    if what == "codebook":
                        code = bad[0]
                        hint = ("this code received (almost) nothing: divide S_k by the Laplace-smoothed count "
                                "Ñ_k = (N_k + ε) / (Σ_j N_j + K·ε) · Σ_j N_j with ε = 1e-5, never by N_k itself"
                                if expected[0][code] < 1e-3 else
                                "e_k = S_k / Ñ_k, the smoothed mean of what code k received, with Ñ_k = (N_k + ε) / (Σ_j N_j + K·ε) · Σ_j N_j, ε = 1e-5")
                    raise Mismatch(f"{what}{at(bad)} is {vs(value[bad], reference[bad])} [{case}]", hint)
        return f"on {len(cases)} cases (decay 0 to 0.99, a single vector, codes that receive nothing, K = 512)."

    return grade(ema_update, "matches `maskgit_lib.tokenizer.quantize.ema_codebook_update`", body)


def check_perplexity(perplexity: Callable) -> Verdict:
    """``perplexity(counts (K,)) -> float``: exp of the entropy of the code frequencies."""
    from maskgit_lib.tokenizer.quantize import CodebookUsage

    g = seeded(0)
    sparse = torch.randint(0, 50, (512,), generator=g) * (torch.rand(512, generator=g) < 0.3)
    cases = [("64 codes used equally", torch.ones(64, dtype=torch.long)), ("one code used", torch.tensor([10, 0, 0, 0])),
             ("counts [2, 1, 3, 0]", torch.tensor([2, 1, 3, 0])), ("512 codes, 70% unused", sparse),
             ("large counts", torch.tensor([10**9, 3 * 10**9, 1]))]

    def body() -> str:
        for case, counts in cases:
            usage = CodebookUsage(len(counts))
            usage.counts = counts.clone()
            expected = usage.perplexity()
            value = call_learner(perplexity, counts.clone(), case=case)
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise Mismatch(f"returned {type(value).__name__}, expected one number [{case}]", "reduce to a scalar: .sum() over the codes") from None
            if not math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-6):
                probs = counts.double() / counts.sum()
                entropy = float(-(probs[probs > 0] * probs[probs > 0].log()).sum())
                hint = ("0·log 0 gives nan in floating point: leave out the codes with count 0, they add nothing to the entropy"
                        if math.isnan(value) else
                        "that is the entropy H; the perplexity is exp(H)" if math.isclose(value, entropy, rel_tol=1e-3) else
                        "p = counts / counts.sum(), H = −Σ p_k ln p_k, perplexity = exp(H): K when all codes are used equally, 1 when one is")
                raise Mismatch(f"{num(value)} for {case}, expected {num(expected)}", hint)
        return "on 5 cases (uniform, one code, unused codes, large counts)."

    return grade(perplexity, "matches `maskgit_lib.tokenizer.quantize.CodebookUsage.perplexity`", body)
