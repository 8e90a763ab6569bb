"""The text-conditioned MaskGIT (Muse-style): the image tokens read a caption's word vectors.

Two ways to let them read it, chosen by ``text.conditioning``:

``prefix`` — the smallest change to the Transformer of notebook 04: the caption's word vectors go
  in front of the image tokens, and the same bidirectional blocks run over [words | image tokens]
  (one sequence, as in Show-o). The words are never masked and carry no loss (the head reads the
  image positions only); PAD words are hidden from every query, so padding changes nothing.
``cross_attention`` — as in Muse: the sequence holds the image tokens only, and every block gets a
  second attention whose keys are the words (plus one learned "no word" slot, so an empty caption
  still has something to attend to).

Either way the model is called like the class model, ``model(tokens, words)`` with word ids (B, W)
in place of labels and ``None`` (or all PAD) for the null caption, so ``maskgit_decode`` and
classifier-free guidance serve both.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from maskgit_lib.checkpoint import CheckpointError, load_checkpoint
from maskgit_lib.config import Config, config_from_dict
from maskgit_lib.generator.transformer import TEXT_PHASE, Block, MaskGITTransformer, TokenLayout
from maskgit_lib.text.encoder import PAD, TextEncoder
from maskgit_lib.text.vocabulary import Vocabulary

CONDITIONINGS = ("prefix", "cross_attention")


class CrossAttentionBlock(Block):
    """A :class:`Block` with cross-attention between self-attention and the MLP (Muse's layout):
    x + attn(LN(x)), then x + cross(LN(x), words), then x + MLP(LN(x))."""

    def __init__(self, width: int, heads: int, mlp_ratio: int, dropout: float):
        super().__init__(width, heads, mlp_ratio, dropout)
        self.norm_cross = nn.LayerNorm(width)
        self.q_cross = nn.Linear(width, width)
        self.kv_cross = nn.Linear(width, 2 * width)
        self.proj_cross = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, causal: bool, context: torch.Tensor, context_allowed: torch.Tensor) -> torch.Tensor:
        """x (B, N, D); context (B, M, D) the word vectors; context_allowed (B, 1, 1, M) True = a word."""
        x = self.self_attention(x, causal)
        b, n, c = x.shape
        h = self.heads
        q = self.q_cross(self.norm_cross(x)).view(b, n, h, c // h).transpose(1, 2)  # (B, H, N, c/H)
        k, v = self.kv_cross(context).view(b, -1, 2, h, c // h).permute(2, 0, 3, 1, 4)  # 2 × (B, H, M, c/H)
        p = self.dropout.p if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=context_allowed, dropout_p=p)  # (B, H, N, c/H)
        x = x + self.dropout(self.proj_cross(y.transpose(1, 2).reshape(b, n, c)))
        return self.feed_forward(x)


class TextConditionedTransformer(nn.Module):
    """Token ids (B, N) (codes or [MASK]) and caption word ids (B, W) → logits (B, N, K) over the codes."""

    def __init__(
        self, codebook_size: int, n_tokens: int, vocab_size: int, max_words: int = 16, conditioning: str = "prefix",
        width: int = 256, depth: int = 6, heads: int = 8, mlp_ratio: int = 4, dropout: float = 0.1, encoder_layers: int = 1,
    ):
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {', '.join(CONDITIONINGS)}, got {conditioning!r}")
        if width % heads:
            raise ValueError(f"width {width} must be divisible by heads {heads}")
        self.layout = TokenLayout(codebook_size, 0)  # [MASK] = K; no class ids
        self.n_tokens, self.max_words, self.conditioning = n_tokens, max_words, conditioning
        self.causal = False  # decoders ask; a text model is always bidirectional
        self.encoder = TextEncoder(vocab_size, max_words, width, encoder_layers, heads, mlp_ratio, dropout)
        self.embed = nn.Embedding(codebook_size + 1, width)  # the codes and [MASK]
        self.pos = nn.Parameter(torch.zeros(1, n_tokens, width))
        block = Block if conditioning == "prefix" else CrossAttentionBlock
        self.blocks = nn.ModuleList([block(width, heads, mlp_ratio, dropout) for _ in range(depth)])
        if conditioning == "cross_attention":
            self.no_word = nn.Parameter(torch.zeros(1, 1, width))  # always attendable: the empty caption's key
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, codebook_size)  # codes only: [MASK] cannot be predicted
        self.apply(MaskGITTransformer._init)
        nn.init.normal_(self.pos, std=0.02)

    def null_caption(self, batch: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """(B, max_words) all PAD: the empty caption, what guidance compares against."""
        return torch.full((batch, self.max_words), PAD, dtype=torch.long, device=device)

    def forward(self, tokens: torch.Tensor, words: torch.Tensor | None = None) -> torch.Tensor:
        """Token ids (B, N) and word ids (B, W) (``None``: the null caption) → logits (B, N, K)."""
        b, n = tokens.shape
        if words is None:
            words = self.null_caption(b, tokens.device)
        text, is_word = self.encoder(words.expand(b, -1))  # (B, W, D), (B, W)
        x = self.embed(tokens) + self.pos[:, :n]  # (B, N, D)
        if self.conditioning == "prefix":
            w = text.shape[1]
            x = torch.cat([text, x], dim=1)  # (B, W+N, D): [words | image tokens]
            visible = torch.cat([is_word, torch.ones_like(tokens, dtype=torch.bool)], dim=1)  # (B, W+N)
            allowed = visible[:, None, None, :]  # (B, 1, 1, W+N): no query sees a PAD word
            for block in self.blocks:
                x = block(x, False, allowed=allowed)
            x = x[:, w:]  # (B, N, D): the image positions alone are read out
        else:
            context = torch.cat([self.no_word.expand(b, -1, -1), text], dim=1)  # (B, 1+W, D)
            allowed = torch.cat([torch.ones_like(is_word[:, :1]), is_word], dim=1)[:, None, None, :]  # (B, 1, 1, 1+W)
            for block in self.blocks:
                x = block(x, False, context, allowed)
        return self.head(self.norm(x))  # (B, N, K)


def build_text_transformer(config: Config, codebook_size: int, n_tokens: int, vocab_size: int) -> TextConditionedTransformer:
    t, text = config.transformer, config.text
    return TextConditionedTransformer(
        codebook_size, n_tokens, vocab_size, max_words=text.max_words, conditioning=text.conditioning, width=t.width,
        depth=t.depth, heads=t.heads, mlp_ratio=t.mlp_ratio, dropout=t.dropout, encoder_layers=text.encoder_layers,
    )


def load_text_transformer(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[TextConditionedTransformer, Config, Vocabulary]:
    """A trained text-conditioned Transformer (eval mode), its config and its word vocabulary."""
    payload = load_checkpoint(path)
    if payload.get("phase") != TEXT_PHASE:
        raise CheckpointError(f"{path} is a {payload.get('phase')!r} checkpoint, not a text-to-image Transformer: "
                              "sample a class model with --class (or without --prompt), or train one with transformer.condition: text")
    config = config_from_dict(payload["config"], source=str(path))
    vocabulary = Vocabulary.from_list(payload["vocabulary"], max_words=config.text.max_words)
    state = payload["model"]
    codebook_size = state["head.weight"].shape[0]
    model = build_text_transformer(config, codebook_size, state["pos"].shape[1], len(vocabulary.words))
    model.load_state_dict(state)
    return model.to(device).eval(), config, vocabulary
