"""The VQGAN tokenizer: a convolutional encoder, a vector quantizer, a convolutional decoder.

An image (B, 3, H, W) becomes a grid of token ids (B, H/f, W/f), f = 2^(levels-1), and back. The
Transformer of MaskGIT never sees pixels: it models these tokens, so the tokenizer's quality
(reconstruction sharpness, codebook usage) bounds the quality of every generated image.

The architecture follows Esser et al. (2021), scaled down: ResNet blocks with GroupNorm and SiLU,
strided-conv downsampling, nearest-neighbour upsampling, and optional self-attention at the lowest
resolution where the grid is small (8×8 at 32 px) and attention is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from maskgit_lib.checkpoint import load_checkpoint
from maskgit_lib.config import Config, QuantizerConfig, VQGANConfig, config_from_dict
from maskgit_lib.tokenizer.fsq import FiniteScalarQuantizer
from maskgit_lib.tokenizer.quantize import QuantizerOutput, VectorQuantizer


class GroupNorm32(nn.GroupNorm):
    """GroupNorm computed in fp32, also under bf16 autocast.

    Why: CUDA's autocast already runs group_norm in fp32, but CPU's runs it in bf16, where PyTorch's
    kernel is about 3× slower than in fp32 (forward and backward) and less accurate. On the reference
    2-core CPU that alone held the tokenizer's bf16 training speed-up at 1.25× (1.4–1.6× without it). The
    parameters and the state-dict keys are those of ``nn.GroupNorm``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return F.group_norm(x.float(), self.num_groups, self.weight, self.bias, self.eps)  # (B, C, H, W) fp32


def _norm(channels: int) -> nn.GroupNorm:
    return GroupNorm32(num_groups=min(32, channels // 4), num_channels=channels, eps=1e-6)


class ResBlock(nn.Module):
    """norm → SiLU → conv, twice, plus a (1×1-projected) skip connection."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.block = nn.Sequential(
            _norm(c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, padding=1),
            _norm(c_out), nn.SiLU(), nn.Conv2d(c_out, c_out, 3, padding=1),
        )
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.block(x)  # (B, c_out, H, W)


class AttnBlock(nn.Module):
    """Single-head self-attention over the H*W positions of a feature map."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = _norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).transpose(-1, -2).unbind(1)  # 3 × (B, HW, C)
        y = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]  # (B, HW, C)
        return x + self.out(y.transpose(1, 2).reshape(b, c, h, w))


def _middle(channels: int, attention: bool) -> nn.Sequential:
    layers = [ResBlock(channels, channels)]
    if attention:
        layers.append(AttnBlock(channels))
    layers.append(ResBlock(channels, channels))
    return nn.Sequential(*layers)


def _downsample(channels: int) -> list[nn.Module]:
    return [nn.Conv2d(channels, channels, 3, stride=2, padding=1)]  # halves H and W


def _upsample(channels: int) -> list[nn.Module]:
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(channels, channels, 3, padding=1)]


def _levels(widths: list[int], res_blocks: int, resample) -> list[nn.Module]:
    """ResNet blocks per level, with ``resample(channels)`` (down or up) between levels."""
    layers: list[nn.Module] = []
    c_in = widths[0]
    for level, width in enumerate(widths):
        for _ in range(res_blocks):
            layers.append(ResBlock(c_in, width))
            c_in = width
        if level < len(widths) - 1:
            layers += resample(c_in)
    return layers


class Encoder(nn.Module):
    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        widths = [cfg.channels * m for m in cfg.channel_mult]
        layers = [nn.Conv2d(3, widths[0], 3, padding=1), *_levels(widths, cfg.res_blocks, _downsample)]
        c_in = widths[-1]
        layers += [_middle(c_in, cfg.attention), _norm(c_in), nn.SiLU(), nn.Conv2d(c_in, cfg.quantizer.code_dim, 1)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)  # (B, 3, H, W) → (B, D, H/f, W/f)


class Decoder(nn.Module):
    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        widths = [cfg.channels * m for m in cfg.channel_mult][::-1]
        layers = [nn.Conv2d(cfg.quantizer.code_dim, widths[0], 3, padding=1), _middle(widths[0], cfg.attention)]
        layers += _levels(widths, cfg.res_blocks, _upsample)
        c_in = widths[-1]
        layers += [_norm(c_in), nn.SiLU()]
        self.layers = nn.Sequential(*layers)
        self.conv_out = nn.Conv2d(c_in, 3, 3, padding=1)  # the "last layer" of the adaptive GAN weight

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.layers(z))  # (B, D, h, w) → (B, 3, h*f, w*f)


def make_quantizer(cfg: QuantizerConfig) -> VectorQuantizer | FiniteScalarQuantizer:
    """Finite scalar quantization when ``levels`` are given, else vector quantization: same interface."""
    return FiniteScalarQuantizer(cfg) if cfg.levels else VectorQuantizer(cfg)


class VQGAN(nn.Module):
    """Encoder → quantizer → decoder. ``encode``/``decode_tokens`` are what MaskGIT uses."""

    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.quantizer = make_quantizer(cfg.quantizer)
        self.decoder = Decoder(cfg)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, QuantizerOutput]:
        quantized = self.quantizer(self.encoder(images))  # codes (B, D, h, w)
        return self.decoder(quantized.quantized), quantized  # (B, 3, H, W)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) in [-1, 1] → token ids (B, h, w). Never updates the codebook."""
        return self.quantizer.indices(self.encoder(images))

    @torch.no_grad()
    def decode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token ids (B, h, w) → images (B, 3, H, W), clamped to [-1, 1]."""
        return self.decoder(self.quantizer.lookup(tokens)).clamp(-1, 1)

    @property
    def last_layer(self) -> torch.Tensor:
        return self.decoder.conv_out.weight


def load_vqgan(path: str | Path, device: str | torch.device = "cpu") -> tuple[VQGAN, Config]:
    """A trained tokenizer (eval mode) and the config it was trained with."""
    return vqgan_from_checkpoint(load_checkpoint(path, phase="vqgan"), path, device)


def vqgan_from_checkpoint(payload: dict[str, Any], path: str | Path, device: str | torch.device = "cpu") -> tuple[VQGAN, Config]:
    """:func:`load_vqgan` for a checkpoint already read: the Transformer trainer reads the tokenizer's
    config first (to check its data set before anything is written), then builds it from the same read."""
    config = config_from_dict(payload["config"], source=str(path))
    model = VQGAN(config.vqgan)
    model.load_state_dict(payload["model"])
    return model.to(device).eval(), config
