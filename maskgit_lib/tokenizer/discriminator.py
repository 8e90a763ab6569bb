"""PatchGAN discriminator (Isola et al. 2017): it scores overlapping patches, not whole images.

Why patches: the GAN loss is there to restore local texture and sharp edges that L1 and LPIPS
leave soft; judging patches is cheaper than judging images and gives the decoder a dense signal.
GroupNorm (in fp32, see ``vqgan.GroupNorm32``) instead of BatchNorm: batch statistics would mix
real and fake batches and differ between ranks under data parallelism.
"""

from __future__ import annotations

import torch
from torch import nn

from maskgit_lib.config import DiscriminatorConfig
from maskgit_lib.tokenizer.vqgan import GroupNorm32


class PatchDiscriminator(nn.Module):
    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        width = cfg.channels
        layers: list[nn.Module] = [nn.Conv2d(3, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        for _ in range(1, cfg.layers):
            layers += [nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), GroupNorm32(8, 2 * width), nn.LeakyReLU(0.2)]
            width *= 2
        layers += [nn.Conv2d(width, 2 * width, 4, padding=1), GroupNorm32(8, 2 * width), nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(2 * width, 1, 4, padding=1)]
        self.layers = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images)  # (B, 3, H, W) → (B, 1, h, w) patch logits
