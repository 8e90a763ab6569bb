"""The tokenizer's losses: reconstruction (L1 + L2), perceptual (LPIPS), adversarial (hinge), and the
adaptive weight of Esser et al. (2021) that balances the last two.

The adaptive weight λ = ‖∇_L L_rec‖ / (‖∇_L L_GAN‖ + δ), with L the decoder's last layer, scales the
GAN gradient to the size of the reconstruction gradient, so neither drowns the other whatever the
loss magnitudes are; it is computed fresh every step and never back-propagated through.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from maskgit_lib.config import LossConfig


def reconstruction_loss(recon: torch.Tensor, target: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    return cfg.l1_weight * (recon - target).abs().mean() + cfg.l2_weight * F.mse_loss(recon, target)


def perceptual_loss(lpips_model: nn.Module | None, recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if lpips_model is None:
        return recon.new_zeros(())
    return lpips_model(recon.float(), target.float()).mean()  # inputs in [-1, 1]


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator wants real logits ≥ 1 and fake logits ≤ -1."""
    return 0.5 * (F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean())


def generator_adv_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


def adaptive_weight(
    rec_loss: torch.Tensor, gan_loss: torch.Tensor, last_layer: torch.Tensor, max_weight: float, loss_scale: float = 1.0
) -> torch.Tensor:
    """λ from the gradients of both losses times ``loss_scale`` (the fp16 gradient scaler's scale: the
    gradients then do not underflow in fp16), divided by it again. A step whose scaled gradients
    overflow gets λ = 0; the gradient scaler skips that step anyway."""
    rec_grad = torch.autograd.grad(rec_loss * loss_scale, last_layer, retain_graph=True)[0] / loss_scale
    gan_grad = torch.autograd.grad(gan_loss * loss_scale, last_layer, retain_graph=True)[0] / loss_scale
    weight = rec_grad.norm() / (gan_grad.norm() + 1e-4)
    return torch.nan_to_num(weight, nan=0.0, posinf=0.0).clamp(0.0, max_weight).detach()
