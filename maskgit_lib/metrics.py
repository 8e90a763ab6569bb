"""Metrics: PSNR for reconstructions (FID and friends arrive with the evaluation notebook)."""

from __future__ import annotations

import torch


def psnr(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, for images in [-1, 1] (peak-to-peak range 2)."""
    mse = (recon.clamp(-1, 1) - target).pow(2).flatten(1).mean(1)  # (B,)
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-10))
