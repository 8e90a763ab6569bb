"""A closed word vocabulary: every word the caption grammar can emit, and nothing else.

Why closed and word-level: no pretrained text encoder is reachable offline, and our captions come
from a grammar of ~100 words, so a learned embedding per word is all a course-scale model needs.
A prompt with a word the model never saw cannot mean anything to it; we say so in one line, naming
the nearest known words, instead of silently mapping it to an "unknown" token.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import torch

from maskgit_lib.text.captions import MAX_CAPTION_WORDS, grammar_words, split_words

PAD_WORD = "<pad>"


class PromptError(ValueError):
    """A prompt the vocabulary cannot encode; the message says which words and what to do."""


@dataclass(frozen=True)
class Vocabulary:
    """Words by id; id 0 is padding (and the empty prompt is all padding: unconditional)."""

    words: tuple[str, ...]
    max_words: int = MAX_CAPTION_WORDS

    PAD = 0

    def __post_init__(self) -> None:
        if not self.words or self.words[0] != PAD_WORD:
            raise ValueError(f"a vocabulary's first word must be {PAD_WORD!r} (id 0, padding)")
        if len(set(self.words)) != len(self.words):
            raise ValueError("a vocabulary lists each word once")

    @classmethod
    def from_grammar(cls, attribute_values: dict[str, list[str]], max_words: int = MAX_CAPTION_WORDS) -> Vocabulary:
        """Every word ``make_caption`` can emit over these attribute values, sorted (ids are stable)."""
        return cls(words=(PAD_WORD, *sorted(grammar_words(attribute_values))), max_words=max_words)

    def __len__(self) -> int:
        return len(self.words)

    @property
    def _ids(self) -> dict[str, int]:
        return {word: i for i, word in enumerate(self.words)}

    def nearest(self, word: str, n: int = 3) -> list[str]:
        """The known words closest in spelling to ``word`` (difflib), for the error message."""
        return difflib.get_close_matches(word, self.words[1:], n=n, cutoff=0.5)

    def encode(self, prompt: str, unknown: str = "error") -> list[int]:
        """Word ids of ``prompt`` (no padding). ``unknown``: "error" (stop) or "ignore" (drop them, say so).

        "" → [] (the unconditional case). More than ``max_words`` known words → PromptError.
        """
        if unknown not in ("error", "ignore"):
            raise ValueError(f"unknown must be 'error' or 'ignore', got {unknown!r}")
        ids = self._ids
        words = split_words(prompt)
        strangers = list(dict.fromkeys(w for w in words if w not in ids))
        if strangers:
            hints = "; ".join(f"{w!r} (nearest: {', '.join(self.nearest(w)) or 'none'})" for w in strangers)
            if unknown == "error":
                raise PromptError(f"words outside the vocabulary: {hints}. Stopped: rephrase with known words")
            print(f"ignored words outside the vocabulary: {hints}")
            words = [w for w in words if w in ids]
        if len(words) > self.max_words:
            raise PromptError(f"the prompt has {len(words)} words; the model reads at most {self.max_words}: shorten it")
        return [ids[w] for w in words]

    def encode_batch(self, prompts: list[str], unknown: str = "error") -> torch.Tensor:
        """(B, max_words) int64 word ids, padded with ``PAD``."""
        batch = torch.full((len(prompts), self.max_words), self.PAD, dtype=torch.long)  # (B, L)
        for row, prompt in enumerate(prompts):
            ids = self.encode(prompt, unknown)
            batch[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return batch

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        """Words of ``ids``, padding dropped."""
        values = ids.tolist() if isinstance(ids, torch.Tensor) else ids
        return " ".join(self.words[i] for i in values if i != self.PAD)

    def to_list(self) -> list[str]:
        """The words, for a checkpoint (``from_list`` restores the same ids)."""
        return list(self.words)

    @classmethod
    def from_list(cls, words: list[str], max_words: int = MAX_CAPTION_WORDS) -> Vocabulary:
        return cls(words=tuple(words), max_words=max_words)
