"""Masking schedules: how many tokens are hidden, for training and for each decoding step.

A schedule γ maps a ratio r ∈ [0, 1] to the fraction of tokens that are masked: γ(0) = 1 (all
masked, the start of decoding), γ(1) = 0 (none masked, the end), decreasing in between.

- **Training**: each example draws its own r ~ U(0, 1) and masks ⌈γ(r)·N⌉ of its N tokens (at least
  one), so the model meets every masking level, in the proportions the schedule gives them.
- **Decoding** with T steps: after step t (0-based), N·γ((t+1)/T) tokens are still masked, so
  ⌊N·(1 − γ((t+1)/T))⌋ are fixed. A concave schedule such as cosine reveals few tokens first, when
  the model knows least, and many at the end (Chang et al. 2022, Fig. 8 and Table 3).

The registry maps names to functions so a dropdown can list them (``SCHEDULES``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

Schedule = Callable[[torch.Tensor], torch.Tensor]


def _cosine(r: torch.Tensor) -> torch.Tensor:
    return torch.cos(r * math.pi / 2)


def _linear(r: torch.Tensor) -> torch.Tensor:
    return 1 - r


def _square(r: torch.Tensor) -> torch.Tensor:
    return 1 - r**2


def _cubic(r: torch.Tensor) -> torch.Tensor:
    return 1 - r**3


def _sqrt(r: torch.Tensor) -> torch.Tensor:
    return 1 - r.sqrt()


def _log(r: torch.Tensor) -> torch.Tensor:
    # 1 - log(1 + (e - 1) r): log-shaped (reveals many tokens early), γ(0) = 1, γ(1) = 0.
    # Not the reference's form, which depends on N: see ``reference_gamma``.
    return 1 - torch.log1p((math.e - 1) * r)


def _exp(r: torch.Tensor) -> torch.Tensor:
    # 1 - (e^r - 1)/(e - 1): exponential-shaped (reveals few tokens early), γ(0) = 1, γ(1) = 0.
    # Not the reference's form, which depends on N: see ``reference_gamma``.
    return 1 - torch.expm1(r) / (math.e - 1)


def _arccos(r: torch.Tensor) -> torch.Tensor:
    # (2/π)·arccos(r), the Halton scheduler's (Besnier et al. 2025): about N·2/(πT) tokens per step,
    # then a burst in the last steps (cosine instead starts with very few, N·(1 − cos(π/2T)) in the
    # first step, and grows smoothly to its most in the last ones).
    return torch.arccos(r) * 2 / math.pi


SCHEDULES: dict[str, Schedule] = {
    "cosine": _cosine,
    "linear": _linear,
    "square": _square,
    "cubic": _cubic,
    "sqrt": _sqrt,
    "log": _log,
    "exp": _exp,
    "arccos": _arccos,
}


def gamma(name: str, r: torch.Tensor | float) -> torch.Tensor:
    """γ(r) of the named schedule, clamped to [0, 1]."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown masking schedule {name!r}; choose from {', '.join(SCHEDULES)}")
    r = torch.as_tensor(r, dtype=torch.float64)
    return SCHEDULES[name](r.clamp(0, 1)).clamp(0, 1)


def reference_gamma(name: str, r: torch.Tensor | float, n_tokens: int) -> torch.Tensor:
    """γ(r) as google-research/maskgit's ``mask_schedule.py`` defines ``log`` and ``exp``, for comparison.

    There both depend on the number of tokens N, and every γ is clipped to [1e-6, 1]:
    ``log``: −log₂(r) / log₂(N) (infinite at r = 0, so clipped to 1 until r = 1/N; very convex);
    ``exp``: 1 − 2^(−log₂(N)·(1 − r)) = 1 − N^(r − 1) (starts at 1 − 1/N, concave).
    The course's ``log`` and ``exp`` (``SCHEDULES``) are N-free shapes with γ(0) = 1 and γ(1) = 0
    exactly, so that one function of r serves every grid size; ``cosine`` and the powers agree
    with the reference (``uniform`` is ``linear``, ``pow2`` is ``square``).
    """
    r = torch.as_tensor(r, dtype=torch.float64).clamp(0, 1)
    log2_n = math.log2(n_tokens)
    if name == "log":
        value = -torch.log2(r) / log2_n  # r = 0 gives +inf, clipped to 1 below
    elif name == "exp":
        value = 1 - torch.exp2(-log2_n * (1 - r))
    else:
        raise ValueError(f"the reference forms are 'log' and 'exp' (the others match SCHEDULES), got {name!r}")
    return value.clamp(1e-6, 1.0)


def training_mask(
    batch_size: int, n_tokens: int, schedule: str = "cosine", generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """One mask ratio per example: r ~ U(0, 1), ⌈γ(r)·N⌉ tokens masked (at least 1), at random places.

    Returns a bool mask (B, N), True where the token is hidden.
    """
    r = torch.rand(batch_size, generator=generator, dtype=torch.float64)  # (B,)
    n_masked = torch.ceil(gamma(schedule, r) * n_tokens).clamp(1, n_tokens).long()  # (B,)
    scores = torch.rand(batch_size, n_tokens, generator=generator)  # (B, N) random order per example
    ranks = scores.argsort(dim=1).argsort(dim=1)  # (B, N) rank of each position in that order
    return (ranks < n_masked[:, None]).to(device)


def label_dropout(batch_size: int, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Which examples train without their class label: True with probability ``p`` each, (B,) bool.

    Drawn independently of the token mask, so the model learns the unconditional distribution at
    every masking level, the all-masked first step of decoding included: classifier-free guidance
    (Ho & Salimans 2022) needs exactly that prediction. (The original project hid ``int(γ(r)·B)`` labels
    of each batch, the batch's own mask ratio, tying the two: labels went missing mostly when most
    tokens were masked.)
    """
    return torch.rand(batch_size, generator=generator) < p


def tokens_fixed_after_step(schedule: str, steps: int, n_tokens: int) -> list[int]:
    """How many tokens are fixed (unmasked) after each of ``steps`` decoding steps.

    ⌊N·(1 − γ((t+1)/T))⌋, forced to grow by at least one each step and to reach N at the end, so
    decoding always finishes in exactly T steps (when T ≤ N).
    """
    if not 1 <= steps <= n_tokens:
        raise ValueError(f"steps must be between 1 and the number of tokens ({n_tokens}), got {steps}")
    fixed = []
    for t in range(steps):
        target = math.floor(n_tokens * (1 - float(gamma(schedule, (t + 1) / steps))) + 1e-9)
        previous = fixed[-1] if fixed else 0
        at_least = previous + 1
        at_most = n_tokens - (steps - 1 - t)  # leave room for one more token per remaining step
        fixed.append(min(max(target, at_least), at_most))
    fixed[-1] = n_tokens
    return fixed


def tokens_masked_after_step(schedule: str, steps: int, n_tokens: int) -> list[int]:
    """How many tokens are still masked after each of ``steps`` decoding steps: N − fixed, ending at 0."""
    return [n_tokens - fixed for fixed in tokens_fixed_after_step(schedule, steps, n_tokens)]


def tokens_revealed_per_step(schedule: str, steps: int, n_tokens: int) -> list[int]:
    """How many new tokens each decoding step reveals (sums to ``n_tokens``)."""
    fixed = tokens_fixed_after_step(schedule, steps, n_tokens)
    return [b - a for a, b in zip([0, *fixed[:-1]], fixed, strict=True)]
