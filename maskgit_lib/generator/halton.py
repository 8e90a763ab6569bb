"""The Halton order: which token positions a decoding step reveals, chosen in advance to spread out.

MaskGIT's confidence scheduler reveals the tokens the model is surest of. Those cluster: once a
patch of background is fixed, its neighbours become the most confident next, so a step fixes many
*adjacent* tokens that were sampled independently of each other in the same forward pass — and
adjacent tokens are exactly the ones that depend most on each other. Besnier, Chen, Hurych, Valle
and Cord ("Halton Scheduler for Masked Generative Image Transformer", ICLR 2025) reveal positions
instead in the order of a 2-D Halton low-discrepancy sequence: every step's new tokens are spread
evenly over the grid and far from each other, so their mutual dependence is small, and every step
adds information everywhere. No confidence, no Gumbel noise, no retraining: only the order changes.

The Halton sequence in base b is the radical inverse of 1, 2, 3, …: write i in base b and mirror
its digits after the point (base 2: 1/2, 1/4, 3/4, 1/8, 5/8, …). Pairing bases 2 and 3 gives points
that fill the unit square evenly at every prefix length. Scaled to a g×g grid and floored, the
points visit every cell; keeping each cell's first visit gives an order of all g² positions.
"""

from __future__ import annotations

from functools import lru_cache

import torch


def radical_inverse(index: int, base: int) -> float:
    """The ``index``-th Halton number in ``base`` (index ≥ 1): the base-b digits of index mirrored after the point."""
    value, scale = 0.0, 1.0 / base
    while index:
        index, digit = divmod(index, base)
        value += digit * scale
        scale /= base
    return value


def halton_points(count: int, bases: tuple[int, int] = (2, 3)) -> torch.Tensor:
    """The first ``count`` points (count, 2) of the 2-D Halton sequence, in [0, 1)², starting at index 1."""
    return torch.tensor([[radical_inverse(i, b) for b in bases] for i in range(1, count + 1)], dtype=torch.float64)


@lru_cache(maxsize=16)
def _order(grid: int) -> tuple[int, ...]:
    seen: dict[int, None] = {}  # insertion-ordered set of flat positions
    index = 1
    while len(seen) < grid * grid:
        row, col = (int(radical_inverse(index, b) * grid) for b in (2, 3))
        seen.setdefault(row * grid + col, None)
        index += 1
    return tuple(seen)


def halton_order(grid: int) -> torch.Tensor:
    """All ``grid``² flat token positions (row · grid + col), in the order the Halton scheduler reveals them. (N,)"""
    if grid < 1:
        raise ValueError(f"the token grid needs at least one row, got {grid}")
    return torch.tensor(_order(grid), dtype=torch.long)


def halton_priority(n_tokens: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """A score per position (N,) that ranks them in Halton order: higher is revealed first.

    Decoding keeps the ``k`` highest-scoring unknown positions at each step, as it does with
    confidences, so the Halton scheduler is the confidence scheduler with this fixed score.
    """
    grid = round(n_tokens**0.5)
    if grid * grid != n_tokens:
        raise ValueError(f"the Halton order needs a square token grid, got {n_tokens} tokens")
    priority = torch.empty(n_tokens, dtype=torch.float32)
    priority[halton_order(grid)] = torch.arange(n_tokens, 0, -1, dtype=torch.float32)  # first in order: N
    return priority.to(device)
