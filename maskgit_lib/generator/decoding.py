"""Generating token grids: MaskGIT's confidence-based parallel decoding, and the autoregressive baseline.

MaskGIT decoding with T steps starts from all N tokens masked. At step t it
1. predicts every masked token at once (one forward pass; with classifier-free guidance, two),
2. samples a token for each masked position from softmax(logits / temperature),
3. scores each sample by its log-probability under the *untempered* model (its *confidence*) plus
   Gumbel noise whose scale anneals to zero, ``randomness × (1 − (t+1)/T)``, so early steps explore
   and late steps commit,
4. keeps the ⌊N·(1 − γ((t+1)/T))⌋ best-scoring positions fixed (already fixed tokens always stay),
   and masks the rest again.
Steps 2–4 are ``decode_step``, one function a learner can write and compare. Every step's tokens,
mask and confidences are returned, so a widget can replay the decoding.

``order="halton"`` replaces step 3's ranking by a fixed order that spreads each step's new tokens
evenly over the grid (the Halton scheduler, Besnier et al. ICLR 2025; see ``halton``): the same
number of tokens per step, the same samples, only *which* positions are kept changes, and no noise.

Temperature and confidence: google-research/maskgit (``parallel_decode.py``) samples from the plain
softmax and ranks by the probability of the sampled token. A sampling temperature (as in Muse and
most PyTorch ports) sharpens what is sampled; ranking with the *tempered* probabilities instead
would collapse them to exact ties at low temperature (every near-greedy sample has probability
≈ 1, log-probability 0), and the order would be left to the noise. So the confidence is scored
untempered by default; ``confidence="tempered"`` keeps the other behaviour for comparison.

Editing is the same loop started from a real image's tokens with only a region masked: inpainting
(a box inside), outpainting (the border, or new columns after shifting the content), and class
editing (a region regenerated under another class label). A pixel region becomes a token region by
marking every token whose patch it touches (``pixel_to_token_mask``), optionally dilated; tokens
outside the region are copied unchanged, because known tokens are never resampled.

The autoregressive baseline samples the N tokens one at a time in raster order with a KV cache:
N forward passes of one position each, against MaskGIT's T passes over all positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from maskgit_lib.generator.halton import halton_priority
from maskgit_lib.generator.masking import tokens_fixed_after_step
from maskgit_lib.generator.transformer import MaskGITTransformer


@dataclass
class DecodeHistory:
    """One entry per decoding step, all on the CPU."""

    tokens: list[torch.Tensor] = field(default_factory=list)  # (B, N) after the step; [MASK] id where masked
    masked: list[torch.Tensor] = field(default_factory=list)  # (B, N) bool: still masked after the step
    confidence: list[torch.Tensor] = field(default_factory=list)  # (B, N) log-prob of each position's sample
    fixed_counts: list[int] = field(default_factory=list)  # tokens fixed after each step (kept ones included)


def gumbel_noise(shape: torch.Size, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard Gumbel noise, -log(-log U): adding it to log-probabilities and taking the top-k samples
    k positions without replacement in proportion to their probabilities (the Gumbel-top-k trick)."""
    uniform = torch.rand(shape, generator=generator, device=device).clamp(1e-20, 1.0)
    return -torch.log((-torch.log(uniform)).clamp_min(1e-20))


def guided_logits(
    model: MaskGITTransformer, tokens: torch.Tensor, labels: torch.Tensor | None, cfg_scale: float,
    negative: torch.Tensor | None = None,
) -> torch.Tensor:
    """The model's logits (B, N, K), with classifier-free guidance (Ho & Salimans 2022) when ``cfg_scale`` > 0.

    ℓ = ℓ_c + s·(ℓ_c − ℓ_u): the conditional prediction pushed away from the unconditional one
    (the same model with the "no class" token), which sharpens what is typical of the class. It
    costs a second forward pass, and works only because training dropped labels at random.

    ``labels`` is whatever the model takes as its condition: class labels (B,) for a class model,
    caption word ids (B, W) for a text model (``maskgit_lib.text``), ``None`` for none. A
    ``negative`` condition (a negative prompt, "… with glasses") takes the place of the unconditional
    prediction: ℓ = ℓ_c + s·(ℓ_c − ℓ_neg) pushes away from what it describes.
    """
    logits = model(tokens, labels).float()  # (B, N, K)
    if cfg_scale and (labels is not None or negative is not None):
        away_from = model(tokens, negative).float()  # negative None: the unconditional prediction
        logits = logits + cfg_scale * (logits - away_from)  # push away from it
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
    init_tokens: torch.Tensor | None = None,
    edit_mask: torch.Tensor | None = None,
    confidence_from: str = "untempered",
    order: str = "confidence",
    negative: torch.Tensor | None = None,
    cfg_ramp: bool = False,
) -> tuple[torch.Tensor, DecodeHistory]:
    """Sample ``n_samples`` token grids. Returns tokens (B, N) and the per-step history.

    ``temperature`` divides the logits (lower: safer, less varied); ``randomness`` scales the Gumbel
    noise on the confidences (the reference implementation's "choice temperature", 4.5);
    ``cfg_scale`` > 0 applies classifier-free guidance (Ho & Salimans 2022) toward ``labels``;
    ``confidence_from``: rank by the untempered log-probabilities (the reference's behaviour) or by
    the tempered ones (ties at low temperature; see the module docstring). ``order``: which
    positions each step keeps, the most ``"confidence"``-t ones (MaskGIT) or the next ones in
    ``"halton"`` order (spread over the grid; ``randomness`` is then unused).
    Editing: ``init_tokens`` (B, N) are kept wherever ``edit_mask`` ((N,) or (B, N), True =
    regenerate) is False; the schedule then spreads only the masked tokens over the steps.
    Text models (``maskgit_lib.text``) take caption word ids (B, W) as ``labels``, and guidance may
    push away from a ``negative`` prompt instead of the empty caption (see ``guided_logits``);
    ``cfg_ramp``: the scale rises linearly over the steps, s·(t+1)/T (as Muse ramps it), so the first
    steps, which lay out the image, are guided least.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    n_tokens, mask_id = model.n_tokens, model.layout.mask_id
    labels = labels.to(device) if labels is not None else None
    negative = negative.to(device) if negative is not None else None
    tokens, n_kept = _start_tokens(n_samples, n_tokens, mask_id, init_tokens, edit_mask, device)
    if n_kept == n_tokens:
        raise ValueError("the edit mask selects no token: nothing to regenerate")
    if n_kept:
        steps = min(steps, n_tokens - n_kept)  # a small region: at most one step per token to regenerate
    budget = [n_kept + f for f in tokens_fixed_after_step(schedule, steps, n_tokens - n_kept)]
    priority = halton_priority(n_tokens, device) if order == "halton" else None  # (N,)
    history = DecodeHistory()
    for t in range(steps):
        scale = cfg_scale * (t + 1) / steps if cfg_ramp else cfg_scale
        logits = guided_logits(model, tokens, labels, scale, negative)  # (B, N, K)
        tokens, confidence = decode_step(logits, tokens, mask_id, budget[t], t, steps, temperature, randomness,
                                         generator, confidence_from, priority)
        history.tokens.append(tokens.cpu())
        history.masked.append((tokens == mask_id).cpu())
        history.confidence.append(confidence.cpu())
        history.fixed_counts.append(budget[t])
    return tokens, history


CONFIDENCES = ("untempered", "tempered")
ORDERS = ("confidence", "halton")


def decode_step(
    logits: torch.Tensor, tokens: torch.Tensor, mask_id: int, n_keep: int, t: int, steps: int,
    temperature: float = 1.0, randomness: float = 4.5, generator: torch.Generator | None = None,
    confidence_from: str = "untempered", priority: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of MaskGIT decoding: sample every position, keep the ``n_keep`` most confident, mask the rest.

    logits (B, N, K) for every position; tokens (B, N), ``mask_id`` where still unknown; ``n_keep``:
    how many tokens are fixed after this step, the already known ones included; ``t`` (0-based) of
    ``steps``. Random numbers come from ``generator`` in a fixed order, the sample first
    (``torch.multinomial``), then the Gumbel noise (``gumbel_noise``), so two implementations that
    follow it agree exactly. Returns the new tokens (B, N), ``mask_id`` where masked again, and the
    confidence (B, N): the log-probability of each position's sample (meaningless where the token
    was already known). ``priority`` ((N,) or (B, N), e.g. ``halton_priority``) replaces confidence
    plus noise as the ranking of unknown positions, and no Gumbel noise is drawn.
    """
    if confidence_from not in CONFIDENCES:
        raise ValueError(f"confidence_from must be one of {', '.join(CONFIDENCES)}, got {confidence_from!r}")
    batch, n_tokens, n_codes = logits.shape
    tempered = torch.log_softmax(logits.float() / max(temperature, 1e-6), dim=-1)  # (B, N, K)
    sampled = torch.multinomial(tempered.exp().view(-1, n_codes), 1, generator=generator).view(batch, n_tokens)  # (B, N)
    scored = tempered if confidence_from == "tempered" or temperature == 1 else torch.log_softmax(logits.float(), dim=-1)
    confidence = scored.gather(-1, sampled[..., None])[..., 0]  # (B, N)
    unknown = tokens == mask_id  # (B, N)
    sampled = torch.where(unknown, sampled, tokens)  # known tokens stay what they are
    if priority is None:
        score = torch.where(unknown, confidence, torch.inf)  # ... and always rank first
        score = score + randomness * (1 - (t + 1) / steps) * gumbel_noise(score.shape, generator, logits.device)
    else:
        score = torch.where(unknown, priority.to(logits.device).float().expand_as(confidence), torch.inf)  # (B, N)
    rank = score.argsort(dim=1, descending=True).argsort(dim=1)  # (B, N) 0 = most confident
    return torch.where(rank < n_keep, sampled, mask_id), confidence


def _start_tokens(
    n_samples: int, n_tokens: int, mask_id: int, init_tokens: torch.Tensor | None, edit_mask: torch.Tensor | None,
    device: torch.device,
) -> tuple[torch.Tensor, int]:
    """The grid decoding starts from, and how many of its tokens are kept (the same for every sample)."""
    if init_tokens is None and edit_mask is None:
        return torch.full((n_samples, n_tokens), mask_id, device=device), 0
    if init_tokens is None or edit_mask is None:
        raise ValueError("editing needs both init_tokens (the image's tokens) and edit_mask (what to regenerate)")
    init_tokens = init_tokens.to(device).reshape(-1, n_tokens).expand(n_samples, n_tokens)  # (B, N)
    edit_mask = edit_mask.to(device).bool().reshape(-1, n_tokens).expand(n_samples, n_tokens)  # (B, N)
    counts = edit_mask.sum(1)
    if (counts != counts[0]).any():
        raise ValueError("every sample must regenerate the same number of tokens; edit different regions in separate calls")
    return torch.where(edit_mask, mask_id, init_tokens), n_tokens - int(counts[0])


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
