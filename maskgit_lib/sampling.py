"""Generating token grids: MaskGIT's confidence-based parallel decoding, and the autoregressive baseline.

MaskGIT decoding with T steps starts from all N tokens masked. At step t it
1. predicts every masked token at once (one forward pass; with classifier-free guidance, two),
2. samples a token for each masked position from softmax(logits / temperature),
3. scores each sample by its log-probability (its *confidence*) plus Gumbel noise whose scale
   anneals to zero, ``randomness × (1 − (t+1)/T)``, so early steps explore and late steps commit,
4. keeps the ⌊N·(1 − γ((t+1)/T))⌋ best-scoring positions fixed (already fixed tokens always stay),
   and masks the rest again.
Every step's tokens, mask and confidences are returned, so a widget can replay the decoding.

The autoregressive baseline samples the N tokens one at a time in raster order with a KV cache:
N forward passes of one position each, against MaskGIT's T passes over all positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from maskgit_lib.masking import tokens_fixed_after_step
from maskgit_lib.transformer import MaskGITTransformer


@dataclass
class DecodeHistory:
    """One entry per decoding step, all on the CPU."""

    tokens: list[torch.Tensor] = field(default_factory=list)  # (B, N) after the step; [MASK] id where masked
    masked: list[torch.Tensor] = field(default_factory=list)  # (B, N) bool: still masked after the step
    confidence: list[torch.Tensor] = field(default_factory=list)  # (B, N) log-prob of each position's sample
    fixed_counts: list[int] = field(default_factory=list)  # tokens fixed after each step


def _gumbel(shape: torch.Size, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    uniform = torch.rand(shape, generator=generator, device=device).clamp(1e-20, 1.0)
    return -torch.log(-torch.log(uniform).clamp_min(1e-20))


def _guided_logits(model: MaskGITTransformer, tokens: torch.Tensor, labels: torch.Tensor | None, cfg_scale: float) -> torch.Tensor:
    logits = model(tokens, labels).float()  # (B, N, K)
    if cfg_scale and labels is not None:
        unconditional = model(tokens, None).float()
        logits = logits + cfg_scale * (logits - unconditional)  # push away from the unconditional prediction
    return logits


@torch.no_grad()
def maskgit_decode(
    model: MaskGITTransformer,
    n_samples: int,
    labels: torch.Tensor | None = None,
    steps: int = 12,
    schedule: str = "cosine",
    temperature: float = 1.0,
    randomness: float = 4.5,
    cfg_scale: float = 0.0,
    seed: int = 0,
) -> tuple[torch.Tensor, DecodeHistory]:
    """Sample ``n_samples`` token grids. Returns tokens (B, N) and the per-step history.

    ``temperature`` divides the logits (lower: safer, less varied); ``randomness`` scales the Gumbel
    noise on the confidences (the reference implementation's "choice temperature", 4.5);
    ``cfg_scale`` > 0 applies classifier-free guidance toward ``labels``.
    """
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    n_tokens, mask_id = model.n_tokens, model.layout.mask_id
    labels = labels.to(device) if labels is not None else None
    tokens = torch.full((n_samples, n_tokens), mask_id, device=device)
    budget = tokens_fixed_after_step(schedule, steps, n_tokens)
    history = DecodeHistory()
    for t in range(steps):
        logits = _guided_logits(model, tokens, labels, cfg_scale) / max(temperature, 1e-6)  # (B, N, K)
        log_probs = torch.log_softmax(logits, dim=-1)
        sampled = torch.multinomial(log_probs.exp().view(-1, log_probs.shape[-1]), 1, generator=generator).view(n_samples, n_tokens)
        confidence = log_probs.gather(-1, sampled[..., None])[..., 0]  # (B, N)
        unknown = tokens == mask_id
        sampled = torch.where(unknown, sampled, tokens)  # fixed tokens stay what they are
        score = torch.where(unknown, confidence, torch.inf)  # ... and always rank first
        score = score + randomness * (1 - (t + 1) / steps) * _gumbel(score.shape, generator, device)
        rank = score.argsort(dim=1, descending=True).argsort(dim=1)  # (B, N) 0 = most confident
        keep = rank < budget[t]
        tokens = torch.where(keep, sampled, mask_id)
        history.tokens.append(tokens.cpu())
        history.masked.append((~keep).cpu())
        history.confidence.append(confidence.cpu())
        history.fixed_counts.append(budget[t])
    return tokens, history


@torch.no_grad()
def autoregressive_decode(
    model: MaskGITTransformer, n_samples: int, labels: torch.Tensor | None = None, temperature: float = 1.0, seed: int = 0
) -> torch.Tensor:
    """Sample token grids one token at a time in raster order, with a KV cache. Returns (B, N)."""
    if not model.causal:
        raise ValueError("autoregressive decoding needs a model trained with causal=True")
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    labels = labels.to(device) if labels is not None else None
    caches: list[dict] = [{} for _ in model.blocks]
    logits = model.step_with_cache(model.class_tokens(labels, n_samples, device), 0, caches)  # (B, K)
    tokens = torch.empty(n_samples, model.n_tokens, dtype=torch.long, device=device)
    for i in range(model.n_tokens):
        probs = torch.softmax(logits.float() / max(temperature, 1e-6), dim=-1)
        tokens[:, i] = torch.multinomial(probs, 1, generator=generator)[:, 0]
        if i + 1 < model.n_tokens:
            logits = model.step_with_cache(tokens[:, i : i + 1], i + 1, caches)
    return tokens


def time_sampling(decode, n_samples: int, repeats: int = 1) -> float:
    """Images per second of ``decode(n_samples)`` (best of ``repeats``, after one warm-up call)."""
    import time

    decode(min(n_samples, 2))  # warm-up: lazy initialisation, caches
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        decode(n_samples)
        best = min(best, time.perf_counter() - started)
    return n_samples / best
