"""Vector quantization: the step that turns continuous encoder outputs into discrete tokens.

Each encoder vector z is replaced by its nearest codebook entry e_k, and k becomes the token. This
is online k-means: the codebook entries are cluster centres, pulled towards the vectors assigned to
them. Three things make it trainable and healthy:

- **Straight-through estimator.** argmin has no gradient, so the backward pass pretends the
  quantizer is the identity: the decoder's gradient at e_k is handed to z unchanged.
- **Losses** (van den Oord et al. 2017): the codebook loss ||sg(z) - e||² moves codes towards the
  encoder outputs; the commitment loss β·||z - sg(e)||² keeps the encoder near its codes.
  With ``use_ema`` the codebook loss is replaced by exponential moving averages of the assigned
  vectors (k-means with momentum), which is more stable.
- **Codebook health.** Codes that never win stay dead forever ("collapse"). ``kmeans_init`` starts
  the codes where the data is; ``dead_code_after_steps`` re-seeds codes unused for that many steps
  from recent encoder outputs; ``l2_normalize`` compares directions only (cosine similarity), which
  spreads usage (Yu et al. 2022, ViT-VQGAN). Usage (% of codes hit) and perplexity say how healthy
  it is.

Distances and argmin run in fp32 even under bf16 autocast: rounding would change which code wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from maskgit_lib.config import QuantizerConfig


@dataclass
class QuantizerOutput:
    quantized: torch.Tensor  # (B, D, H, W): codes in the forward pass, straight-through gradient to z
    indices: torch.Tensor  # (B, H, W) int64 token ids
    loss: torch.Tensor  # () codebook + commitment loss (commitment only with EMA)
    usage: torch.Tensor  # () fraction of the codebook used in this batch
    perplexity: torch.Tensor  # () exp(entropy of code frequencies): the effective number of codes


class VectorQuantizer(nn.Module):
    def __init__(self, config: QuantizerConfig):
        super().__init__()
        self.config = config
        size, dim = config.codebook_size, config.code_dim
        init = torch.randn(size, dim) if config.l2_normalize else torch.empty(size, dim).uniform_(-1 / size, 1 / size)
        self.codebook = nn.Parameter(init, requires_grad=not config.use_ema)  # (K, D)
        self.register_buffer("initialized", torch.tensor(not config.kmeans_init))
        self.register_buffer("steps_unused", torch.zeros(size, dtype=torch.long))  # (K,)
        if config.use_ema:
            self.register_buffer("ema_count", torch.ones(size))  # (K,) smoothed assignment counts
            self.register_buffer("ema_sum", init.clone())  # (K, D) smoothed sums of assigned vectors

    def codes(self) -> torch.Tensor:
        """The effective codebook (K, D): unit vectors when ``l2_normalize``."""
        return F.normalize(self.codebook, dim=-1) if self.config.l2_normalize else self.codebook

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Token ids (B, H, W) → code vectors (B, D, H, W), what the decoder receives."""
        return self.codes()[indices].permute(0, 3, 1, 2).contiguous()

    @torch.no_grad()
    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """Token ids (B, H, W) of encoder outputs (B, D, H, W), with no side effects in any mode."""
        batch, dim, height, width = z.shape
        with torch.autocast(device_type=z.device.type, enabled=False):
            z = z.float()
            if self.config.l2_normalize:
                z = F.normalize(z, dim=1)
            return self._nearest(z.permute(0, 2, 3, 1).reshape(-1, dim)).view(batch, height, width)

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        batch, dim, height, width = z.shape
        with torch.autocast(device_type=z.device.type, enabled=False):
            z = z.float()
            if self.config.l2_normalize:
                z = F.normalize(z, dim=1)
            flat = z.permute(0, 2, 3, 1).reshape(-1, dim)  # (N, D), N = B*H*W
            if self.training and not bool(self.initialized):
                self._kmeans_init(flat.detach())
            indices = self._nearest(flat.detach())  # (N,)
            if self.training and self.config.use_ema:
                self._ema_update(flat.detach(), indices)
            codes = self.codes()
            quantized = codes[indices].view(batch, height, width, dim).permute(0, 3, 1, 2)  # (B, D, H, W)
            commitment = F.mse_loss(z, quantized.detach())
            loss = self.config.beta * commitment
            if not self.config.use_ema:
                loss = loss + F.mse_loss(quantized, z.detach())  # codebook loss
            counts = torch.bincount(indices, minlength=self.config.codebook_size).float()  # (K,)
            if self.training:
                self._restart_dead_codes(flat.detach(), counts)
            # Straight-through: the value is exactly the code, the gradient flows to z as if identity.
            quantized = quantized + (z - z.detach())
        usage, perplexity = usage_and_perplexity(counts)
        return QuantizerOutput(quantized, indices.view(batch, height, width), loss, usage, perplexity)

    def _nearest(self, flat: torch.Tensor) -> torch.Tensor:
        return nearest_code(flat, self.codes().detach().float())

    @torch.no_grad()
    def _kmeans_init(self, flat: torch.Tensor) -> None:
        """k-means++ seeding, then Lloyd's iterations, on one batch: codes start where the data is."""
        size = self.config.codebook_size
        centres = _kmeans_plus_plus(flat, size)  # (K, D)
        for _ in range(self.config.kmeans_iters):
            assign = _squared_distances(flat, centres).argmin(1)
            sums = torch.zeros_like(centres).index_add_(0, assign, flat)
            counts = torch.bincount(assign, minlength=size).float()
            moved = counts > 0
            centres[moved] = sums[moved] / counts[moved, None]
        if self.config.l2_normalize:
            centres = F.normalize(centres, dim=-1)
        _broadcast(centres)
        self.codebook.data.copy_(centres)
        if self.config.use_ema:
            self.ema_sum.copy_(centres)
            self.ema_count.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, indices: torch.Tensor) -> None:
        # every rank sees the same statistics (_all_reduce), so the codebooks stay identical
        count, total, codebook = ema_codebook_update(self.ema_count, self.ema_sum, flat, indices, self.config.ema_decay,
                                                     reduce=_all_reduce)
        self.ema_count.copy_(count)
        self.ema_sum.copy_(total)
        self.codebook.data.copy_(codebook)

    @torch.no_grad()
    def _restart_dead_codes(self, flat: torch.Tensor, counts: torch.Tensor) -> None:
        after = self.config.dead_code_after_steps
        if after <= 0:
            return
        counts = counts.clone()
        _all_reduce(counts)
        self.steps_unused.add_(1).masked_fill_(counts > 0, 0)
        dead = torch.nonzero(self.steps_unused >= after).squeeze(1)  # (n_dead,)
        if len(dead) == 0:
            return
        fresh = flat[torch.randint(len(flat), (len(dead),), device=flat.device)]  # (n_dead, D)
        fresh = fresh + 0.01 * fresh.std() * torch.randn_like(fresh)
        _broadcast(fresh)
        self.codebook.data[dead] = fresh
        if self.config.use_ema:
            self.ema_sum[dead] = fresh
            self.ema_count[dead] = 1.0
        self.steps_unused[dead] = 0


def usage_and_perplexity(counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Code hits (K,) → (share of codes used, exp(entropy of the hit frequencies)): both () tensors."""
    probs = counts / counts.sum()
    perplexity = torch.exp(-(probs * torch.log(probs.clamp_min(1e-10))).sum())
    return (counts > 0).float().mean(), perplexity


def nearest_code(flat: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Index of the nearest code for each vector: flat (N, D), codes (K, D) → (N,) int64.

    ‖z − e‖² = ‖z‖² − 2 z·e + ‖e‖², so all N×K distances come from one matrix product instead of an
    (N, K, D) tensor of differences (the memory a 16×16 grid × 8192 codes would need).
    """
    distances = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codes.t() + codes.pow(2).sum(1)[None]  # (N, K)
    return distances.argmin(dim=1)


@torch.no_grad()
def ema_codebook_update(
    ema_count: torch.Tensor, ema_sum: torch.Tensor, flat: torch.Tensor, indices: torch.Tensor, decay: float,
    eps: float = 1e-5, reduce: Callable[..., None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One EMA step of the codebook: k-means with momentum (van den Oord et al. 2017, appendix A.1).

    ema_count (K,) smoothed counts of vectors assigned to each code; ema_sum (K, D) smoothed sums of
    those vectors; flat (N, D) this batch's vectors; indices (N,) their codes. With n_k and s_k this
    batch's count and sum for code k, and d the decay:

        N_k ← d·N_k + (1 − d)·n_k,   S_k ← d·S_k + (1 − d)·s_k,   e_k = S_k / Ñ_k,

    where Ñ_k = (N_k + ε) / (Σ N + K·ε) · Σ N is N_k Laplace-smoothed, so a code that stops
    receiving vectors is divided by a small positive number, never by zero. ``reduce`` sums the
    batch statistics over data-parallel ranks. Returns the new (ema_count, ema_sum, codebook).
    """
    size = len(ema_count)
    counts = torch.bincount(indices, minlength=size).float()  # (K,) n_k
    sums = torch.zeros(size, flat.shape[1], device=flat.device).index_add_(0, indices, flat)  # (K, D) s_k
    if reduce is not None:
        reduce(counts, sums)
    ema_count = ema_count.mul(decay).add_(counts, alpha=1 - decay)  # (K,)
    ema_sum = ema_sum.mul(decay).add_(sums, alpha=1 - decay)  # (K, D)
    total = ema_count.sum()
    smoothed = (ema_count + eps) / (total + size * eps) * total  # (K,) Laplace smoothing
    return ema_count, ema_sum, ema_sum / smoothed[:, None]


def _squared_distances(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    return (x.pow(2).sum(1, keepdim=True) - 2 * x @ centres.t() + centres.pow(2).sum(1)[None]).clamp_min(0)  # (N, K)


def _kmeans_plus_plus(flat: torch.Tensor, k: int) -> torch.Tensor:
    """Pick k starting centres, each with probability proportional to its squared distance from the
    centres so far (Arthur & Vassilvitskii 2007), so no cluster is left without a centre."""
    centres = [flat[torch.randint(len(flat), (1,), device=flat.device)]]  # [(1, D)]
    closest = _squared_distances(flat, centres[0]).squeeze(1)  # (N,)
    for _ in range(1, k):
        weights = closest if closest.sum() > 0 else torch.ones_like(closest)
        pick = torch.multinomial(weights, 1)
        centres.append(flat[pick])
        closest = torch.minimum(closest, _squared_distances(flat, flat[pick]).squeeze(1))
    return torch.cat(centres).clone()  # (K, D)


def _all_reduce(*tensors: torch.Tensor) -> None:
    if dist.is_available() and dist.is_initialized():
        for tensor in tensors:
            dist.all_reduce(tensor)


def _broadcast(tensor: torch.Tensor) -> None:
    if dist.is_available() and dist.is_initialized():
        dist.broadcast(tensor, src=0)


class CodebookUsage:
    """Counts code hits over many batches (an epoch, a validation set)."""

    def __init__(self, codebook_size: int):
        self.counts = torch.zeros(codebook_size, dtype=torch.long)

    def update(self, indices: torch.Tensor) -> None:
        self.counts += torch.bincount(indices.flatten().cpu(), minlength=len(self.counts))

    def usage(self) -> float:
        """Fraction of the codebook used at least once."""
        return float((self.counts > 0).float().mean())

    def perplexity(self) -> float:
        probs = self.counts.float() / self.counts.sum().clamp_min(1)
        return float(torch.exp(-(probs * torch.log(probs.clamp_min(1e-10))).sum()))
