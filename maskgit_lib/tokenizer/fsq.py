"""Finite scalar quantization (FSQ, Mentzer, Minnen, Agustsson, Tschannen 2023): a codebook you do not learn.

Vector quantization (``quantize``) learns K code vectors and needs help to keep them alive (k-means
seeding, dead-code restarts, commitment loss). FSQ drops the learned codebook. The encoder outputs a
few numbers per position (d = 3 to 6); each is squashed into a bounded range and rounded to one of
L_i integer levels. The grid of all level combinations is the codebook: K = L_1 · L_2 · … · L_d codes,
every one reachable by construction, so nothing can collapse and there is no auxiliary loss.

- **Bounding.** ``tanh`` maps a number into (−1, 1); scaled to (L−1)/2 and rounded it takes L values.
  For an even L the levels are half-integers apart from zero, so the range is shifted by 0.5 and
  ``atanh(0.5 / half)`` keeps 0 mapping to 0.
- **Rounding** has no gradient, so, as in VQ, the straight-through estimator passes the decoder's
  gradient to the unrounded value.
- **Token ids** are the levels read as digits of a mixed-radix number: for levels (8, 8, 8), the
  position with digits (a, b, c) is token a + 8b + 64c. The Transformer sees ids, exactly as with VQ.

Same interface as :class:`maskgit_lib.tokenizer.quantize.VectorQuantizer` (``forward``, ``indices``, ``lookup``,
``codes``), so the tokenizer and everything after it do not know which one they hold.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from maskgit_lib.config import QuantizerConfig
from maskgit_lib.tokenizer.quantize import QuantizerOutput, usage_and_perplexity

BOUND_EPS = 1e-3  # keeps tanh's range strictly inside the outer levels, so rounding never leaves the grid


class FiniteScalarQuantizer(nn.Module):
    """FSQ with ``config.levels`` values per code dimension; no parameters, no loss."""

    def __init__(self, config: QuantizerConfig):
        super().__init__()
        if not config.levels:
            raise ValueError("FiniteScalarQuantizer needs quantizer.levels, e.g. [8, 8, 8]")
        self.config = config
        levels = torch.tensor(config.levels, dtype=torch.long)  # (d,)
        basis = torch.cumprod(torch.cat([torch.ones(1, dtype=torch.long), levels[:-1]]), 0)  # (d,) mixed radix
        self.register_buffer("levels", levels, persistent=False)
        self.register_buffer("basis", basis, persistent=False)
        self.codebook_size = math.prod(config.levels)

    def bound(self, z: torch.Tensor) -> torch.Tensor:
        """(B, d, H, W) → the same shape, each channel i inside (−L_i/2, L_i/2), 0 ↦ 0."""
        levels = self.levels.view(1, -1, 1, 1).float()
        half = (levels - 1) * (1 - BOUND_EPS) / 2
        offset = (self.levels.view(1, -1, 1, 1) % 2 == 0).float() * 0.5  # even L: integer grid shifted by ½
        shift = torch.atanh(offset / half)
        return torch.tanh(z + shift) * half - offset

    def scaled(self, z: torch.Tensor) -> torch.Tensor:
        """Encoder outputs (B, d, H, W) where the codes live, before rounding: the value each code stands for."""
        return self.bound(z) / self._half_width()

    def _half_width(self) -> torch.Tensor:
        return (self.levels // 2).view(1, -1, 1, 1).float()  # (1, d, 1, 1)

    def _digits(self, bounded: torch.Tensor) -> torch.Tensor:
        """Bounded outputs (B, d, H, W) → integer digits 0 … L_i − 1, same shape (int64)."""
        return (bounded.round() + self._half_width()).long()

    def _ids(self, digits: torch.Tensor) -> torch.Tensor:
        return (digits * self.basis.view(1, -1, 1, 1)).sum(1)  # (B, H, W)

    def codes(self) -> torch.Tensor:
        """Every code, (K, d), in token-id order: the fixed grid that plays VQ's codebook."""
        ids = torch.arange(self.codebook_size, device=self.levels.device)
        return self.lookup(ids.view(1, -1, 1))[0, :, :, 0].t()

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Token ids (B, H, W) → code vectors (B, d, H, W) in [−1, 1], what the decoder receives."""
        digits = (indices[:, None] // self.basis.view(1, -1, 1, 1)) % self.levels.view(1, -1, 1, 1)  # (B, d, H, W)
        return (digits.float() - self._half_width()) / self._half_width()

    @torch.no_grad()
    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """Token ids (B, H, W) of encoder outputs (B, d, H, W)."""
        with torch.autocast(device_type=z.device.type, enabled=False):
            return self._ids(self._digits(self.bound(z.float())))

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        with torch.autocast(device_type=z.device.type, enabled=False):
            bounded = self.bound(z.float())  # (B, d, H, W)
            # straight-through, written as in VQ: exactly the rounded value forward (notebook 01, exercise 2)
            rounded = bounded.round() + (bounded - bounded.detach())
            quantized = rounded / self._half_width()  # (B, d, H, W) in [−1, 1]: scaled(z), rounded
            indices = self._ids(self._digits(bounded.detach()))  # (B, H, W)
        usage, perplexity = usage_and_perplexity(torch.bincount(indices.flatten(), minlength=self.codebook_size).float())
        loss = torch.zeros((), device=z.device)  # no codebook to pull, no commitment needed: the range is fixed
        return QuantizerOutput(quantized, indices, loss, usage, perplexity)
