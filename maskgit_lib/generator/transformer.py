"""The bidirectional Transformer of MaskGIT (and, with ``causal=True``, the autoregressive baseline).

Input: a class token followed by the N image tokens, some replaced by the [MASK] id. Output: for
every image position, logits over the K codes of the tokenizer. Because attention is
bidirectional, a masked position sees every visible token, left and right, above and below: this
is what lets MaskGIT predict many tokens at once, in any order.

Vocabulary of the input embedding (K codes, C classes):
  0 … K-1          codebook ids
  K                [MASK]          (never a code, never predicted)
  K+1 … K+C        class tokens
  K+C+1            "no class"      (the unconditional token, for classifier-free guidance)
The output head covers the K codes only, so a sampled id can never be [MASK] or a class.

The same class with ``causal=True`` is the autoregressive (raster-order) baseline of notebook 05:
position i sees only the class token and tokens < i, and predicts token i.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from maskgit_lib.checkpoint import CheckpointError, load_checkpoint
from maskgit_lib.config import Config, config_from_dict


@dataclass(frozen=True)
class TokenLayout:
    """Where each kind of id lives in the input vocabulary."""

    codebook_size: int
    n_classes: int

    @property
    def mask_id(self) -> int:
        return self.codebook_size

    def class_id(self, labels: torch.Tensor) -> torch.Tensor:
        return labels + self.codebook_size + 1

    @property
    def null_class_id(self) -> int:
        return self.codebook_size + 1 + self.n_classes

    @property
    def vocab_size(self) -> int:
        return self.codebook_size + self.n_classes + 2


class Block(nn.Module):
    """Pre-norm Transformer block: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, width: int, heads: int, mlp_ratio: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width))
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, causal: bool, cache: dict[str, torch.Tensor] | None = None, allowed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``allowed``: which keys each query may attend to (bool, broadcast to (B, heads, T, T), True =
        allowed), e.g. the PAD words of a caption hidden from everyone; ``None``: all (or the causal mask)."""
        return self.feed_forward(self.self_attention(x, causal, cache, allowed))

    def self_attention(
        self, x: torch.Tensor, causal: bool, cache: dict[str, torch.Tensor] | None = None, allowed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x + attention(LN(x)) (B, T, D)."""
        b, t, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)  # 3 × (B, H, T, c/H)
        if cache is not None:  # autoregressive sampling: attend to everything computed so far
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        is_causal = causal and (cache is None or t > 1)
        p = self.dropout.p if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, is_causal=is_causal, dropout_p=p)  # (B, H, T, c/H)
        return x + self.dropout(self.proj(y.transpose(1, 2).reshape(b, t, c)))

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + MLP(LN(x)) (B, T, D)."""
        return x + self.dropout(self.mlp(self.norm2(x)))


class MaskGITTransformer(nn.Module):
    def __init__(
        self, codebook_size: int, n_classes: int, n_tokens: int, width: int = 256, depth: int = 6, heads: int = 8,
        mlp_ratio: int = 4, dropout: float = 0.1, causal: bool = False,
    ):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} must be divisible by heads {heads}")
        self.layout = TokenLayout(codebook_size, n_classes)
        self.n_tokens, self.causal = n_tokens, causal
        self.embed = nn.Embedding(self.layout.vocab_size, width)
        self.pos = nn.Parameter(torch.zeros(1, n_tokens + 1, width))  # +1: the class token's position
        self.blocks = nn.ModuleList([Block(width, heads, mlp_ratio, dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, codebook_size)  # codes only: [MASK] and classes cannot be predicted
        self.apply(self._init)
        nn.init.normal_(self.pos, std=0.02)  # zero-mean: the original project's all-positive init biased every position

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    def class_tokens(self, labels: torch.Tensor | None, batch: int, device: torch.device) -> torch.Tensor:
        """(B, 1) class-token ids; ``None`` or label -1 means unconditional."""
        if labels is None:
            return torch.full((batch, 1), self.layout.null_class_id, device=device)
        ids = self.layout.class_id(labels.clamp_min(0))
        return torch.where(labels < 0, self.layout.null_class_id, ids)[:, None]

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Token ids (B, N) (codes or [MASK]) and labels (B,) → logits (B, N, K).

        Bidirectional: logits[:, i] predicts token i from everything. Causal: the input is read as
        [class, t_0 … t_{N-2}] and logits[:, i] predicts t_i from the class and t_<i.
        """
        b, n = tokens.shape
        sequence = torch.cat([self.class_tokens(labels, b, tokens.device), tokens], dim=1)  # (B, 1+N)
        if self.causal:
            sequence = sequence[:, :-1]  # (B, N): position i predicts token i
        x = self.embed(sequence) + self.pos[:, : sequence.shape[1]]  # (B, T, D)
        for block in self.blocks:
            x = block(x, self.causal)
        logits = self.head(self.norm(x))  # (B, T, K)
        return logits if self.causal else logits[:, 1:]  # (B, N, K)

    @torch.no_grad()
    def step_with_cache(self, ids: torch.Tensor, position: int, caches: list[dict]) -> torch.Tensor:
        """Autoregressive decoding with a KV cache: feed the ids (B, 1) at ``position`` (0 = the class
        token), return the logits (B, K) for the next image token. Each step costs one position."""
        x = self.embed(ids) + self.pos[:, position : position + 1]  # (B, 1, D)
        for block, cache in zip(self.blocks, caches, strict=True):
            x = block(x, self.causal, cache)
        return self.head(self.norm(x))[:, -1]  # (B, K)


def masked_token_loss(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, label_smoothing: float = 0.1, all_tokens: bool = False,
    normalizer: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """Cross-entropy on the masked positions only (the ones the model had to guess), or on all.

    logits (B, N, K), targets (B, N) codes, mask (B, N) bool, True where the input was [MASK].
    ``normalizer`` replaces the local count of masked tokens (data-parallel ranks divide by their
    share of the global count, so the averaged gradient is that of the global mean).
    """
    losses = F.cross_entropy(logits.transpose(1, 2).float(), targets, label_smoothing=label_smoothing, reduction="none")  # (B, N)
    if all_tokens:
        return losses.mean()
    return (losses * mask).sum() / (mask.sum().clamp_min(1) if normalizer is None else normalizer)


TEXT_PHASE = "transformer-text"  # the phase of a text-conditioned checkpoint (maskgit_lib.text), refused here


def build_transformer(config: Config, codebook_size: int, n_classes: int, n_tokens: int) -> MaskGITTransformer:
    t = config.transformer
    return MaskGITTransformer(codebook_size, n_classes, n_tokens, width=t.width, depth=t.depth, heads=t.heads,
                              mlp_ratio=t.mlp_ratio, dropout=t.dropout, causal=t.causal)


def load_transformer(path: str | Path, device: str | torch.device = "cpu") -> tuple[MaskGITTransformer, Config]:
    """A trained Transformer (eval mode) and the config it was trained with."""
    payload = load_checkpoint(path)
    if not str(payload.get("phase", "")).startswith("transformer"):
        raise CheckpointError(f"{path} is a {payload.get('phase')!r} checkpoint, not a Transformer")
    if payload["phase"] == TEXT_PHASE:
        raise CheckpointError(f"{path} is a text-to-image Transformer (notebook 08), not a class model: load it with "
                              "maskgit_lib.text.load_text_transformer, or sample it with --prompt")
    config = config_from_dict(payload["config"], source=str(path))
    state = payload["model"]
    codebook_size, width = state["head.weight"].shape
    n_tokens = state["pos"].shape[1] - 1
    n_classes = state["embed.weight"].shape[0] - codebook_size - 2
    model = build_transformer(config, codebook_size, n_classes, n_tokens)
    model.load_state_dict(state)
    return model.to(device).eval(), config
