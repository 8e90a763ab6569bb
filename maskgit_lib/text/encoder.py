"""The text encoder: caption words → one vector per word, learned from scratch with the generator.

Muse reads captions with a frozen T5-XXL. Nothing pretrained is reachable offline here, and the
captions come from a small closed grammar (``captions``), so a word embedding plus one small
Transformer layer is enough: the layer lets a word see its neighbours, so "dark" next to "glasses"
can mean something else than "dark" next to "skin".

PAD words (id 0, the tail of a short caption) are hidden from every other word: a caption means
the same whatever its padding. An empty caption, all PAD, is the *null caption* that guidance
compares against; each PAD position then attends only to itself, so nothing divides by zero.
"""

from __future__ import annotations

import torch
from torch import nn

from maskgit_lib.generator.transformer import Block
from maskgit_lib.text.vocabulary import Vocabulary

PAD = Vocabulary.PAD  # 0, the word id of padding


class TextEncoder(nn.Module):
    def __init__(self, vocab_size: int, max_words: int, width: int, layers: int = 1, heads: int = 4,
                 mlp_ratio: int = 4, dropout: float = 0.1):
        super().__init__()
        self.max_words = max_words
        self.embed = nn.Embedding(vocab_size, width)
        self.pos = nn.Parameter(torch.randn(1, max_words, width) * 0.02)  # word order: "red hair, blue shirt"
        self.blocks = nn.ModuleList([Block(width, heads, mlp_ratio, dropout) for _ in range(layers)])
        self.norm = nn.LayerNorm(width)

    def forward(self, words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Word ids (B, W), PAD-padded → word vectors (B, W, D) and which positions hold words (B, W) bool."""
        b, w = words.shape
        if w > self.max_words:
            raise ValueError(f"captions of {w} words, but this encoder reads at most {self.max_words}")
        is_word = words != PAD  # (B, W)
        x = self.embed(words) + self.pos[:, :w]  # (B, W, D)
        itself = torch.eye(w, dtype=torch.bool, device=words.device)  # (W, W)
        allowed = (is_word[:, None, :] | itself)[:, None]  # (B, 1, W, W): the words, and yourself
        for block in self.blocks:
            x = block(x, False, allowed=allowed)
        return self.norm(x), is_word
