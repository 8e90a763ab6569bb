"""The text trainer: captions drawn per image per step, caption dropout in the model's input, exact
resume, held-out combinations, the checkpoint and its loader, and kind mismatches in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maskgit_lib.checkpoint import CheckpointError
from maskgit_lib.config import ConfigError
from maskgit_lib.generator.transformer import load_transformer
from maskgit_lib.text.captions import split_words
from maskgit_lib.text.encoder import PAD
from maskgit_lib.text.train import TextTransformerTrainer, held_out_images, parse_held_out

from .conftest import fast_tokenizer, make_trainer


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    mp = pytest.MonkeyPatch()
    config, data = fast_tokenizer(root, mp)
    config.train_transformer.batch_size = 8
    config.transformer.condition = "text"
    yield config, data, root
    mp.undo()


def make(setup, name, **changes):
    return make_trainer(TextTransformerTrainer, setup, name, **changes)


def test_captions_are_drawn_per_image_per_step_from_its_attributes(setup):
    trainer = make(setup, "captions")
    vocab = trainer.vocabulary
    _, words = trainer._batch(0)
    assert torch.equal(words, trainer._batch(0)[1])  # a pure function of the step
    rows = _rows(trainer, 0) % len(trainer.data.train_labels)  # the images step 0 drew
    for i, row in enumerate(rows):
        said = vocab.decode(words[i])
        assert set(split_words(trainer.data.describe("train", int(row))["style"])) <= set(said.split()), said
    again = trainer._captions("train", np.zeros(20, dtype=int), np.random.default_rng(0))  # one image, 20 draws
    assert len(set(again)) > 1  # paraphrases and clause orders: not one sentence per image


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
    assert ((words >= 0) & (words < len(trainer.vocabulary))).all()  # word ids only: no [MASK] among them
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
    config, data, root = setup
    first = data.describe("train", 0)  # a combination the data set has: the first image's style and another attribute
    other = next(name for name in first if name != "style")
    held = [[f"style={first['style']}", f"{other}={first[other]}"]]
    trainer = make(setup, "held", text__held_out=held)
    names, values, attributes = data.attribute_names, data.attribute_values, data.train_attributes
    hidden = ((attributes[:, names.index("style")] == values["style"].index(first["style"]))
              & (attributes[:, names.index(other)] == values[other].index(first[other])))
    assert hidden[0] and trainer.n_held_out_images == hidden.sum() < len(hidden)
    used = {int(r) % len(attributes) for s in range(30) for r in _rows(trainer, s)}
    assert used and not (used & set(np.flatnonzero(hidden).tolist()))
    np.testing.assert_array_equal(held_out_images(attributes, names, values, parse_held_out(held, values)), hidden)
    with pytest.raises(ConfigError, match="unknown attribute 'tail'"):
        parse_held_out([["tail=long"]], values)
    with pytest.raises(ConfigError, match="hair has no value 'green'"):
        parse_held_out([["hair=green"]], values)


def _rows(trainer, step):
    from maskgit_lib.data.batches import epoch_order

    size = trainer.global_batch
    epoch, index = divmod(step, max(trainer.n_train // size, 1))
    return trainer.train_index[epoch_order(trainer.n_train, 0, epoch)[index * size : (index + 1) * size].numpy()]


def test_checkpoint_is_refused_where_a_class_model_is_expected(setup):
    trainer = make(setup, "kind")
    path = trainer.save()
    payload = torch.load(path, weights_only=True)
    assert payload["phase"] == "transformer-text" and payload["vocabulary"] == trainer.vocabulary.to_list()
    with pytest.raises(CheckpointError, match="text-to-image Transformer") as err:
        load_transformer(path)
    assert "\n" not in str(err.value)


def test_an_exported_text_checkpoint_keeps_its_vocabulary(setup, tmp_path):
    """`maskgit export` (what ships) keeps the word list: without it the model cannot read a prompt."""
    from maskgit_lib.checkpoint import export_weights
    from maskgit_lib.text.conditioned import load_text_transformer

    trainer = make(setup, "export")
    shipped = export_weights(trainer.save(), tmp_path / "text.ckpt")
    model, _, vocabulary = load_text_transformer(shipped)
    assert vocabulary == trainer.vocabulary
    words = vocabulary.encode_batch(["a micah avatar"])
    tokens = torch.zeros(1, model.n_tokens, dtype=torch.long)
    expected = trainer.model.eval()(tokens, words)
    assert torch.allclose(model(tokens, words), expected, atol=0.05)  # fp16 weights


def test_other_data_sets_and_the_causal_baseline_are_refused(setup):
    config, data, root = setup
    for key, value, message in (("data__dataset", "folder", "needs captions"), ("transformer__causal", True, "autoregressive")):
        with pytest.raises(ConfigError, match=message):
            make(setup, "refused", **{key: value})


@pytest.fixture(scope="module")
def classifier_path(setup):
    from maskgit_lib.evaluation.attribute_classifier import (
        save_attribute_classifier,
        train_attribute_classifier,
    )

    _, data, root = setup
    classifier, _ = train_attribute_classifier(data, names=data.attribute_names, steps=2, batch_size=8, channels=8)
    return save_attribute_classifier(classifier, root / "attributes.ckpt")


def test_evaluate_reports_fid_kid_faithfulness_and_its_ceiling(setup, classifier_path):
    from maskgit_lib.evaluation.evaluate import evaluate_checkpoint

    config, data, root = setup
    trainer = make(setup, "evaluate")
    trainer.fit(2)
    path = root / "evaluate" / "checkpoints" / "last.ckpt"
    report = evaluate_checkpoint(path, n=6, steps=2, device="cpu", progress=False, classifier=str(classifier_path))
    assert report["phase"] == "transformer-text" and report["fid"] > 0 and report["fid_floor"] > 0
    assert np.isfinite(report["kid"]) and np.isfinite(report["kid_floor"])
    faith, ceiling = report["faithfulness"], report["faithfulness"]["ceiling"]
    assert faith["n_images"] == ceiling["n_images"] == 6 and 0 <= faith["all_right"] <= 1 and "style" in faith["per_attribute"]
    assert all(row["n"] <= 6 for row in faith["per_attribute"].values())
    assert set(ceiling["per_attribute"]) == set(faith["per_attribute"])  # the same questions, asked of real images
    missing = evaluate_checkpoint(path, n=6, steps=2, device="cpu", progress=False, classifier=str(root / "none.ckpt"))
    assert missing["faithfulness"] is None and "train one" in missing["faithfulness_note"]


def _pair_seen_elsewhere(data):
    """A (style, attribute, value) whose value the validation set shows and training shows with other styles."""
    names, values = data.attribute_names, data.attribute_values
    train, val = np.asarray(data.train_attributes), np.asarray(data.val_attributes)
    for name in names[1:]:
        for v in range(len(values[name])):
            styles = set(train[train[:, names.index(name)] == v, 0].tolist())
            if len(styles) >= 2 and (val[:, names.index(name)] == v).any():
                return values["style"][min(styles)], name, values[name][v]
    raise AssertionError("the test data has no attribute value shared by two styles")


def test_held_out_faithfulness_asks_for_each_left_out_pair_and_its_seen_twins(setup, classifier_path):
    from maskgit_lib.evaluation.text_eval import held_out_faithfulness

    config, data, root = setup
    assert data.attribute_names[0] == "style"
    style, name, value = _pair_seen_elsewhere(data)
    make(setup, "held-eval", text__held_out=[[f"{name}={value}", f"style={style}"]]).fit(2)
    report = held_out_faithfulness(root / "held-eval" / "checkpoints" / "last.ckpt", classifier_path, n=4, steps=2,
                                   device="cpu")
    (row,) = report["pairs"]
    assert row["pair"] == f"style={style} & {name}={value}" and row["seen_styles"] and style not in row["seen_styles"]
    for kind in ("held_out", "seen"):
        assert row[kind]["n"] == 4 and all(0 <= row[kind][k] <= 1 for k in ("attribute_accuracy", "style_accuracy", "both_right"))
    val = np.asarray(data.val_attributes)
    assert row["ceiling"]["n"] == (val[:, data.attribute_names.index(name)] == data.attribute_values[name].index(value)).sum()


def test_tokenizer_ceiling_reads_real_and_reconstructed_images_of_the_same_rows(setup, classifier_path):
    from maskgit_lib.evaluation.text_eval import tokenizer_ceiling

    config, data, root = setup
    make(setup, "ceiling").fit(1)
    report = tokenizer_ceiling(root / "ceiling" / "checkpoints" / "last.ckpt", classifier_path, n=8, device="cpu")
    real, recon = report["real"], report["reconstructed"]
    assert real["n_images"] == recon["n_images"] == 8 and set(real["per_attribute"]) == set(recon["per_attribute"])
    assert report["psnr"] > 0 and report["tokenizer"].endswith("last.ckpt")
