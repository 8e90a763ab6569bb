"""The text trainer: captions drawn per image per step, caption dropout in the model's input, exact
resume, held-out combinations, the checkpoint and its loader, and kind mismatches in one line."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from maskgit_lib.checkpoint import CheckpointError
from maskgit_lib.config import ConfigError
from maskgit_lib.generator.transformer import load_transformer
from maskgit_lib.text.encoder import PAD
from maskgit_lib.text.train import TextTransformerTrainer, held_out_images, parse_held_out

from .conftest import fast_tokenizer

NAMES = ["style", "hair", "glasses"]
VALUES = {"style": ["a", "b"], "hair": ["red", "blond", "black"], "glasses": ["none", "dark"]}


class TinyVocabulary:
    """The part of ``Vocabulary`` the trainer uses, over a tiny word list."""

    max_words = 16

    def __init__(self, words):
        self.words = tuple(words)

    def encode_batch(self, prompts):
        ids = torch.zeros(len(prompts), self.max_words, dtype=torch.long)
        for i, prompt in enumerate(prompts):
            row = [self.words.index(w) for w in prompt.split()]
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return ids

    def decode(self, ids):
        return " ".join(self.words[i] for i in ids if i != PAD)

    def to_list(self):
        return list(self.words)


def tiny_caption(attributes, rng):
    clauses = [f"{value} {name}" for name, value in attributes.items()]
    return " ".join(clauses[i] for i in rng.permutation(len(clauses)))


class WithAttributes:
    """A prepared data set with random attribute arrays (what the avatars' renderer records)."""

    def __init__(self, data, seed=0):
        self.base = data
        rng = np.random.default_rng(seed)
        self.attribute_names, self.attribute_values = NAMES, VALUES
        self.train_attributes, self.val_attributes = (
            np.stack([rng.integers(0, len(VALUES[n]), len(labels)) for n in NAMES], 1).astype(np.int16)
            for labels in (data.train_labels, data.val_labels))

    def __getattr__(self, name):
        return getattr(self.base, name)

    def describe(self, split, index):
        row = (self.train_attributes if split == "train" else self.val_attributes)[index]
        return {n: VALUES[n][v] for n, v in zip(NAMES, row, strict=True) if v >= 0}


WORDS = ("<pad>", *sorted({w for n in NAMES for w in (n, *VALUES[n])}))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    mp = pytest.MonkeyPatch()
    config, data = fast_tokenizer(root, mp)
    config.train_transformer.batch_size = 8
    config.transformer.condition = "text"
    yield config, WithAttributes(data), root
    mp.undo()


def make(setup, name, **changes):
    config, data, root = setup
    config = copy.deepcopy(config)
    for key, value in changes.items():
        section, field = key.split("__")
        setattr(getattr(config, section), field, value)
    return TextTransformerTrainer(config, data=data, run_dir=root / name, progress=False, log=lambda m: None,
                                  vocabulary=TinyVocabulary(WORDS), caption=tiny_caption)


def test_captions_are_drawn_per_image_per_step_from_its_attributes(setup):
    trainer = make(setup, "captions")
    vocab = trainer.vocabulary
    _, words = trainer._batch(0)
    again = trainer._batch(0)[1]
    assert torch.equal(words, again)  # a pure function of the step
    later = [trainer._batch(s)[1] for s in range(1, 4)]
    assert not all(torch.equal(words, w) for w in later)
    rows = _rows(trainer, 0) % len(trainer.data.train_attributes)  # the images step 0 drew
    for i, row in enumerate(rows):
        said = set(vocab.decode(words[i].tolist()).split())
        assert said == {w for n, v in trainer.data.describe("train", int(row)).items() for w in (n, v)}


def test_train_step_feeds_words_never_masked_and_empties_about_a_tenth(setup):
    trainer = make(setup, "dropout", train_transformer__lr=3e-3)
    seen = []
    forward = trainer.forward
    trainer.forward = lambda tokens, words: seen.append((tokens, words)) or forward(tokens, words)
    rows = [trainer.train_step() for _ in range(40)]
    assert all(np.isfinite(r["loss"]) for r in rows)
    words = torch.cat([w for _, w in seen])  # (40*8, W)
    empty = (words == PAD).all(1)
    assert empty.sum().item() == sum(r["dropped_captions"] for r in rows)
    assert 0.03 < empty.float().mean().item() < 0.2  # ~10 % of 320 examples
    assert ((words >= 0) & (words < len(WORDS))).all()  # word ids only: no [MASK] among them
    tokens = torch.cat([t for t, _ in seen])
    assert (tokens == trainer.model.layout.mask_id).any(1).all()  # the image tokens are the masked ones
    assert trainer.validate()["val_loss"] > 0
    assert rows[-1]["loss"] < rows[0]["loss"]


def test_resume_continues_exactly(setup):
    straight = make(setup, "straight")
    expected = [straight.train_step() for _ in range(5)]
    first = make(setup, "first")
    for _ in range(2):
        first.train_step()
    path = first.save()
    resumed = make(setup, "resumed")
    resumed.load(path)
    assert [resumed.train_step() for _ in range(3)] == expected[2:]
    assert all(torch.equal(v, resumed.model.state_dict()[k]) for k, v in straight.model.state_dict().items())


def test_held_out_combinations_never_reach_training(setup):
    held = [["hair=red", "glasses=dark"]]
    trainer = make(setup, "held", text__held_out=held)
    attributes = trainer.data.train_attributes
    hidden = (attributes[:, 1] == 0) & (attributes[:, 2] == 1)
    assert hidden.any() and trainer.n_held_out_images == hidden.sum()
    used = {int(r) % len(attributes) for s in range(30) for r in _rows(trainer, s)}
    assert used and not (used & set(np.flatnonzero(hidden).tolist()))
    np.testing.assert_array_equal(held_out_images(attributes, NAMES, VALUES, parse_held_out(held, VALUES)), hidden)
    with pytest.raises(ConfigError, match="unknown attribute 'hat'"):
        parse_held_out([["hat=red"]], VALUES)
    with pytest.raises(ConfigError, match="hair has no value 'green'"):
        parse_held_out([["hair=green"]], VALUES)


def _rows(trainer, step):
    from maskgit_lib.data.batches import epoch_order

    size = trainer.global_batch
    epoch, index = divmod(step, max(trainer.n_train // size, 1))
    return trainer.train_index[epoch_order(trainer.n_train, 0, epoch)[index * size : (index + 1) * size].numpy()]


def test_checkpoint_is_refused_where_a_class_model_is_expected(setup):
    trainer = make(setup, "kind")
    path = trainer.save()
    payload = torch.load(path, weights_only=True)
    assert payload["phase"] == "transformer-text" and payload["vocabulary"] == list(WORDS)
    with pytest.raises(CheckpointError, match="text-to-image Transformer") as err:
        load_transformer(path)
    assert "\n" not in str(err.value)


def test_other_data_sets_and_the_causal_baseline_are_refused(setup):
    config, data, root = setup
    for key, value, message in (("data__dataset", "folder", "needs captions"), ("transformer__causal", True, "autoregressive")):
        with pytest.raises(ConfigError, match=message):
            make(setup, "refused", **{key: value})
