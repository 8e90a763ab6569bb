"""Phase 2: token cache, the Transformer trainer, exact resume, samples, the autoregressive twin."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maskgit_lib.checkpoint import CheckpointError
from maskgit_lib.generator import tokens as tokens_module
from maskgit_lib.generator.train import TransformerTrainer
from maskgit_lib.generator.transformer import load_transformer

from .conftest import fast_tokenizer, make_trainer


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A fast-profile data set and a tokenizer trained for 4 steps (seconds)."""
    root = tmp_path_factory.mktemp("phase2")
    mp = pytest.MonkeyPatch()
    config, data = fast_tokenizer(root, mp)
    config.train_transformer.batch_size = 8
    yield config, data, root
    mp.undo()


def make(setup, name, **changes):
    return make_trainer(TransformerTrainer, setup, name, **changes)


def test_tokens_are_cached_with_mirrored_copies(setup, monkeypatch):
    trainer = make(setup, "cache")
    tokens = trainer.tokens
    assert tokens["train_tokens"].shape == (96, 8, 8) and tokens["val_tokens"].shape == (16, 8, 8)
    assert tokens["train_tokens"].max() < 64 and tokens["train_labels"].shape == (96,)
    np.testing.assert_array_equal(tokens["train_labels"][:48], tokens["train_labels"][48:])
    monkeypatch.setattr(tokens_module, "encode_images", lambda *a, **k: pytest.fail("encoded again"))
    again = make(setup, "cache2")
    np.testing.assert_array_equal(again.tokens["train_tokens"], tokens["train_tokens"])


def test_train_step_drops_labels_independently_and_learns(setup):
    trainer = make(setup, "learn", train_transformer__lr=3e-3)
    rows = [trainer.train_step() for _ in range(12)]
    assert all(np.isfinite(r["loss"]) for r in rows)
    dropped = sum(r["dropped_labels"] for r in rows)
    assert 0 < dropped < 12 * 8 * 0.5  # about 10% of 96 examples
    assert trainer.validate()["val_loss"] > 0


def test_validate_on_fewer_images_than_the_set(setup):
    """val_images below the set's size: labels are cut to the same images as the tokens."""
    trainer = make(setup, "val_subset")
    for n, batch in ((5, 4), (3, 256)):  # a ragged last batch; one batch larger than n
        result = trainer.validate(n_images=n, batch_size=batch)
        assert np.isfinite(result["val_loss"]) and 0 <= result["val_accuracy"] <= 1


@pytest.mark.parametrize("precision", ["auto", "fp16"])  # fp16: autocast + gradient scaler, as on a T4
def test_resume_continues_exactly(setup, precision):
    straight = make(setup, "straight", train_transformer__precision=precision)
    expected = [straight.train_step() for _ in range(5)]
    first = make(setup, "first", train_transformer__precision=precision)
    for _ in range(2):
        first.train_step()
    path = first.save()
    resumed = make(setup, "resumed", train_transformer__precision=precision)
    resumed.load(path)
    assert [resumed.train_step() for _ in range(3)] == expected[2:]
    assert straight.scaler.state_dict() == resumed.scaler.state_dict()
    assert all(torch.equal(v, resumed.model.state_dict()[k]) for k, v in straight.model.state_dict().items())


def test_fp16_with_a_gradient_scaler_learns_a_fixed_batch_like_fp32(setup):
    losses = {}
    for precision in ("fp32", "fp16"):
        trainer = make(setup, precision, train_transformer__precision=precision, train_transformer__lr=3e-3,
                       train_transformer__warmup_steps=1)
        assert trainer.precision.uses_grad_scaler == (precision == "fp16")
        batch = trainer._batch(0)
        trainer._batch = lambda step, batch=batch: batch  # the same tokens every step (masks and label drops vary)
        losses[precision] = [trainer.train_step()["loss"] for _ in range(20)]
    fp16, fp32 = np.array(losses["fp16"]), np.array(losses["fp32"])
    assert np.isfinite(fp16).all()
    assert fp16[-5:].mean() < 0.9 * fp16[:5].mean()
    assert fp16[-5:].mean() == pytest.approx(fp32[-5:].mean(), rel=0.05)


def test_fit_writes_samples_and_the_checkpoint_rebuilds(setup):
    trainer = make(setup, "fit")
    summary = trainer.fit()
    run = setup[2] / "fit"
    assert summary["steps"] == 20 and (run / "samples_000020.png").is_file() and (run / "curves.png").is_file()
    model, config = load_transformer(run / "checkpoints" / "last.ckpt")
    tokens = torch.randint(64, (2, 64))
    trainer.model.eval()
    torch.testing.assert_close(model(tokens, torch.tensor([0, 1])), trainer.model(tokens, torch.tensor([0, 1])))
    grid = trainer.sample_grid(per_class=1, steps=4)
    assert grid.shape == (8, 3, 32, 32) and grid.min() >= -1 and grid.max() <= 1


def test_autoregressive_baseline_trains_on_the_same_tokens(setup):
    trainer = make(setup, "ar", transformer__causal=True)
    assert trainer.phase == "transformer-ar" and trainer.model.causal
    row = trainer.train_step()
    assert np.isfinite(row["loss"])
    assert trainer.sample_grid(per_class=1).shape == (8, 3, 32, 32)


def test_missing_tokenizer_is_a_clear_error(setup):
    with pytest.raises(CheckpointError, match="tokenizer checkpoint .* not found: train one"):
        make(setup, "none", transformer__tokenizer="nowhere/vqgan.ckpt")


def test_wrong_resume_checkpoint_fails_before_any_preparation(setup, monkeypatch):
    """A tokenizer checkpoint passed as --ckpt_path is refused before data and tokens are prepared."""
    from maskgit_lib.generator import train as module
    from maskgit_lib.generator.train import tokenizer_path

    config, _, _ = setup
    monkeypatch.setattr(module.TransformerTrainer, "__init__", lambda *a, **k: pytest.fail("prepared before checking"))
    with pytest.raises(CheckpointError, match="'vqgan' checkpoint, but a 'transformer' one"):
        module.train_transformer(config, ckpt_path=tokenizer_path(config))


def test_architecture_mismatch_on_resume(setup):
    path = make(setup, "arch").save()
    other = make(setup, "arch2", transformer__depth=3)
    with pytest.raises(CheckpointError, match="transformer.depth=2 but the config asks for 3"):
        other.load(path)


def test_compiled_training_matches_eager_and_keeps_checkpoint_keys(setup, monkeypatch):
    import functools

    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))  # trace, no codegen: fast
    eager = make(setup, "eager", transformer__dropout=0.0)
    compiled = make(setup, "compiled", transformer__dropout=0.0, train_transformer__compile=True)
    assert compiled.forward is not compiled.model and eager.forward is eager.model
    for _ in range(2):
        a, b = eager.train_step(), compiled.train_step()
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
    assert set(compiled.model.state_dict()) == set(eager.model.state_dict())  # no "_orig_mod." prefixes
