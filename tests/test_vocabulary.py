"""The closed vocabulary: every grammar word, clear one-line errors for the rest."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maskgit_lib.config import DEFAULT_AVATAR_STYLES
from maskgit_lib.data.attributes import attribute_values
from maskgit_lib.text.captions import make_caption, split_words, style_caption
from maskgit_lib.text.vocabulary import PromptError, Vocabulary

from .test_captions import random_attributes

VALUES = attribute_values(list(DEFAULT_AVATAR_STYLES))
VOCAB = Vocabulary.from_grammar(VALUES)


def test_every_word_the_grammar_emits_is_in_the_vocabulary_and_round_trips():
    rng = np.random.default_rng(0)
    for _ in range(500):
        caption = make_caption(random_attributes(rng, keep=float(rng.random())), rng)
        ids = VOCAB.encode(caption)
        assert VOCAB.PAD not in ids and VOCAB.decode(ids) == " ".join(split_words(caption))
    for style in DEFAULT_AVATAR_STYLES:
        VOCAB.encode(style_caption(style))


def test_the_vocabulary_is_closed_and_stable():
    assert VOCAB.words[0] == "<pad>" and len(VOCAB) < 120
    assert Vocabulary.from_list(VOCAB.to_list()) == VOCAB
    assert Vocabulary.from_grammar(VALUES).words == VOCAB.words  # ids do not depend on the run
    with pytest.raises(ValueError, match="pad"):
        Vocabulary(words=("hair", "<pad>"))


def test_unknown_words_name_the_nearest_known_ones_or_are_ignored(capsys):
    with pytest.raises(PromptError, match=r"'sunglases' \(nearest: sunglasses") as caught:
        VOCAB.encode("a micah avatar with sunglases and a moustache")
    message = str(caught.value)
    assert "\n" not in message and "moustache" in message and "Stopped" in message
    ids = VOCAB.encode("a micah avatar with sunglases", unknown="ignore")
    assert VOCAB.decode(ids) == "a micah avatar with"
    assert "ignored" in capsys.readouterr().out


def test_long_and_empty_prompts():
    with pytest.raises(PromptError, match="17 words.*at most 16"):
        VOCAB.encode(" ".join(["hair"] * 17))
    assert VOCAB.encode("") == [] and VOCAB.encode("  ,. ") == []
    batch = VOCAB.encode_batch(["", "a micah avatar"])
    assert batch.shape == (2, 16) and batch.dtype == torch.long
    assert (batch[0] == VOCAB.PAD).all() and (batch[1, 3:] == VOCAB.PAD).all() and (batch[1, :3] != VOCAB.PAD).all()
    assert VOCAB.decode(batch[1]) == "a micah avatar"
