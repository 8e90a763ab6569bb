"""Graders for notebook 02 (VQGAN): each ``check_*`` prints one line, ✓ / ✗ / ✎."""

from __future__ import annotations

import math
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
    seeded,
    tensor_of,
    vs,
)


def _adaptive_case(seed: int, gan_scale: float) -> tuple[torch.Tensor, torch.Tensor, torch.nn.Parameter, torch.Tensor]:
    """A tiny decoder: features → last layer → image; an L1 reconstruction loss and a generator loss."""
    g = seeded(seed)
    encoder = torch.randn(6, 4, generator=g).requires_grad_(True)  # stands for every layer before the last one
    last_layer = torch.nn.Parameter(torch.randn(3, 6, generator=g))  # (C_out, C_in): the decoder's last layer
    x, target = torch.randn(8, 4, generator=g), torch.randn(8, 3, generator=g)
    recon = (x @ encoder.T).tanh() @ last_layer.T  # (8, 3)
    rec_loss = (recon - target).abs().mean()
    gan_loss = -(recon @ torch.randn(3, generator=g)).mean() * gan_scale  # a linear "discriminator"
    return rec_loss, gan_loss, last_layer, encoder


def check_adaptive_weight(adaptive_weight: Callable) -> Verdict:
    """``adaptive_weight(rec_loss, gan_loss, last_layer, max_weight) -> λ``, a detached scalar."""
    from maskgit_lib.tokenizer.losses import adaptive_weight as library

    cases = [(0, 1.0, 1e4), (1, 0.3, 1e4), (2, 5.0, 1e4), (3, 1e-6, 100.0), (4, 0.0, 1e4)]

    def body() -> str:
        for seed, gan_scale, max_weight in cases:
            case = f"GAN loss ×{gan_scale:g}, max_weight {max_weight:g}"
            rec_loss, gan_loss, last_layer, encoder = _adaptive_case(seed, gan_scale)
            expected = float(library(rec_loss, gan_loss, last_layer, max_weight))
            value = call_learner(adaptive_weight, rec_loss, gan_loss, last_layer, max_weight, case=case)
            if isinstance(value, torch.Tensor):
                if value.numel() != 1:
                    raise Mismatch(f"λ has shape {tuple(value.shape)}, expected one number [{case}]",
                                   "the norm of the whole gradient tensor: .norm() with no dim")
                if value.requires_grad:
                    raise Mismatch(f"λ carries a gradient (requires_grad=True) [{case}]",
                                   "detach it: λ is a fixed number in the backward pass, not something to optimise")
            value = as_float(value)
            if last_layer.grad is not None or encoder.grad is not None:
                raise Mismatch(f"your function left gradients in .grad [{case}]",
                               "use torch.autograd.grad(loss, last_layer, retain_graph=True)[0], which returns the gradient "
                               "without accumulating it (.backward() would add it to the weights' .grad)")
            try:
                (rec_loss + value * gan_loss).backward()
            except RuntimeError:
                raise Mismatch(f"the graph was freed: the training step can no longer back-propagate [{case}]",
                               "pass retain_graph=True to torch.autograd.grad: the same graph is used again after λ") from None
            if not math.isclose(value, expected, rel_tol=2e-3, abs_tol=1e-9):
                ratio = rec_loss.item() / gan_loss.item() if gan_loss.item() else math.inf
                hint = ("when the GAN gradient vanishes, λ = ‖∇_L L_rec‖ / δ: δ = 1e-4 in the denominator keeps it finite"
                        if not math.isfinite(value) or gan_scale == 0 else
                        "that is the ratio of the losses; λ is the ratio of the norms of their gradients at the last layer"
                        if math.isclose(abs(value), abs(ratio), rel_tol=1e-3) else
                        f"clamp λ to [0, max_weight] = [0, {max_weight:g}]" if value > max_weight else
                        "λ = ‖∇_L L_rec‖ / (‖∇_L L_GAN‖ + δ), δ = 1e-4: both gradients with respect to the last layer's weight "
                        "(torch.autograd.grad), their norms, then clamp to [0, max_weight]")
                raise Mismatch(f"λ is {vs(value, expected)} [{case}]", hint)
        return f"on {len(cases)} cases (GAN loss ×1e-6 to ×5, a vanishing GAN gradient, the clamp): same λ, detached, graph kept."

    return grade(adaptive_weight, "matches `maskgit_lib.tokenizer.losses.adaptive_weight`", body)


def check_hinge_losses(d_loss: Callable, g_loss: Callable) -> Verdict:
    """``d_loss(real_logits, fake_logits)`` and ``g_loss(fake_logits)``: the hinge GAN losses, scalars."""
    from maskgit_lib.tokenizer.losses import generator_adv_loss, hinge_d_loss

    def logits_cases() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
        g = seeded(0)
        far = torch.rand(8, 1, 3, 3, generator=g) + 1.5
        return [("PatchGAN logits (4, 1, 6, 6)", 2 * torch.randn(4, 1, 6, 6, generator=g), 2 * torch.randn(4, 1, 6, 6, generator=g)),
                ("one logit each", torch.tensor([[[[0.3]]]]), torch.tensor([[[[-0.2]]]])),
                ("real ≥ 1 and fake ≤ −1 everywhere", far, -far),
                ("logits exactly ±1 and 0", torch.tensor([1.0, -1.0, 0.0]), torch.tensor([-1.0, 1.0, 0.0])),
                ("the discriminator fooled", -far, far)]

    def compare(fn: Callable, reference: Callable, inputs: tuple, case: str, hint: str, what: str) -> None:
        mine_in = [x.clone().requires_grad_(True) for x in inputs]
        ref_in = [x.clone().requires_grad_(True) for x in inputs]
        value = tensor_of(call_learner(fn, *mine_in, case=case), f"the {what} loss", case)
        expected = reference(*ref_in)
        if value.numel() != 1:
            raise Mismatch(f"the {what} loss has shape {tuple(value.shape)}, expected one number [{case}]", "average with .mean()")
        if not value.requires_grad:
            raise Mismatch(f"the {what} loss carries no gradient [{case}]", "keep it a tensor: no .item(), no float()")
        if not math.isclose(as_float(value), as_float(expected), rel_tol=1e-5, abs_tol=1e-6):
            if as_float(expected) and math.isclose(as_float(value), 2 * as_float(expected), rel_tol=1e-5):
                hint = "twice the expected value: the ½ averages the real and the fake terms"
            raise Mismatch(f"the {what} loss is {vs(as_float(value), as_float(expected))} [{case}]", hint)
        value.backward()
        expected.backward()
        for x_mine, x_ref, name in zip(mine_in, ref_in, ("real", "fake") if len(inputs) == 2 else ("fake",), strict=True):
            grad = x_mine.grad if x_mine.grad is not None else torch.zeros_like(x_ref)
            if (bad := first_mismatch(grad, x_ref.grad, 1e-5, 1e-7)) is not None:
                raise Mismatch(f"the {what} loss's gradient at the {name} logits{at(bad)} is {num(grad[bad])}, "
                               f"expected {num(x_ref.grad[bad])} [{case}]", hint)

    def body() -> str:
        d_hint = ("L_D = ½·(mean(relu(1 − D(x))) + mean(relu(1 + D(x̂)))): real logits are pushed above +1, fake ones below −1, "
                  "and logits already past the margin cost nothing")
        g_hint = "L_G = −mean(D(x̂)): the generator raises the discriminator's logits on its fakes, with no hinge on this side"
        for case, real, fake in logits_cases():
            compare(d_loss, hinge_d_loss, (real, fake), case, d_hint, "discriminator")
            compare(g_loss, generator_adv_loss, (fake,), case, g_hint, "generator")
        return "on 5 cases (PatchGAN maps, single logits, past the margin, exactly ±1): same values and gradients."

    return grade((d_loss, g_loss), "match `maskgit_lib.tokenizer.losses.hinge_d_loss` and `generator_adv_loss`", body)


def check_psnr(psnr: Callable) -> Verdict:
    """``psnr(recon (B, 3, H, W), target (B, 3, H, W)) -> (B,)`` in dB, images in [−1, 1]."""
    from maskgit_lib.tokenizer.reconstruction import psnr as library

    def body() -> str:
        g = seeded(0)
        target = torch.rand(6, 3, 8, 8, generator=g) * 2 - 1
        noisy = target + torch.linspace(0.01, 0.5, 6)[:, None, None, None] * torch.randn(6, 3, 8, 8, generator=g)
        cases = [("6 images, noise 0.01 to 0.5 (some pixels outside [−1, 1])", noisy, target),
                 ("one 32 px image", target[:1].repeat(1, 1, 4, 4) * 0.9, target[:1].repeat(1, 1, 4, 4)),
                 ("a perfect reconstruction beside others", torch.cat([target[:1], noisy[1:3]]), target[:3])]
        for case, recon, reference in cases:
            expected = library(recon, reference)
            value = tensor_of(call_learner(psnr, recon.clone(), reference.clone(), case=case), "the PSNR", case, tuple(expected.shape))
            if (bad := first_mismatch(value, expected, 1e-4, 1e-3)) is not None:
                diff = as_float(value[bad] - expected[bad])
                hint = ("off by 6.02 dB = 10·log10(4): images in [−1, 1] have a peak-to-peak range of 2, so the peak² is 4"
                        if abs(abs(diff) - 10 * math.log10(4)) < 0.01 else
                        "clamp the reconstruction to [−1, 1] first (a displayed image cannot leave it), and keep the MSE "
                        "above 1e-10 so a perfect reconstruction stays finite"
                        if "perfect" in case or "outside" in case else
                        "PSNR = 10·log10(peak² / MSE) per image: the MSE over channels and pixels of each image, peak² = 4")
                raise Mismatch(f"image {bad[0]}: {num(as_float(value[bad]))} dB, expected {num(float(expected[bad]))} dB [{case}]", hint)
        return "on 3 cases (noise levels, pixels outside [−1, 1], a perfect reconstruction)."

    return grade(psnr, "matches `maskgit_lib.tokenizer.reconstruction.psnr`", body)
