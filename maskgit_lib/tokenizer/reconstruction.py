"""How well a tokenizer reconstructs: PSNR, codebook usage and perplexity on held-out images.

The tokenizer's trainer validates with it and ``maskgit evaluate`` reports it beside rFID."""

from __future__ import annotations

import torch

from maskgit_lib.data.batches import uint8_to_tensor
from maskgit_lib.figures import to_uint8_nchw
from maskgit_lib.precision import autocast_for
from maskgit_lib.tokenizer.quantize import CodebookUsage
from maskgit_lib.tokenizer.vqgan import VQGAN


def psnr(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, for images in [-1, 1] (peak-to-peak range 2)."""
    mse = (recon.clamp(-1, 1) - target).pow(2).flatten(1).mean(1)  # (B,)
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-10))


@torch.no_grad()
def evaluate_reconstruction(
    model: VQGAN, images, batch_size: int = 256, precision: str = "fp32", keep: list[torch.Tensor] | None = None
) -> tuple[dict[str, float], torch.Tensor]:
    """Reconstruct uint8 images (N, H, W, 3); return PSNR, codebook usage and perplexity, and the
    per-code hit counts (K,). ``precision``: bf16 | fp16 | fp32 autocast. With ``keep``, each batch's
    reconstructions are appended to it as uint8 (B, 3, H, W) on the CPU (for rFID: one pass serves both)."""
    model.eval()
    device = next(model.parameters()).device
    usage = CodebookUsage(model.config.quantizer.codebook_size)
    psnr_sum = 0.0
    for start in range(0, len(images), batch_size):
        batch = uint8_to_tensor(images[start : start + batch_size], device)  # (B, 3, H, W)
        with autocast_for(device, precision):
            recon, quant = model(batch)
        psnr_sum += psnr(recon.float(), batch).sum().item()
        if keep is not None:
            keep.append(to_uint8_nchw(recon.float()).cpu())
        usage.update(quant.indices)
    result = {"val_psnr": psnr_sum / len(images), "val_usage": usage.usage(), "val_perplexity": usage.perplexity(), "val_images": len(images)}
    return result, usage.counts
