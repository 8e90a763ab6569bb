"""The moving average of the Transformer's weights (``train.ema_decay``): its arithmetic, that it
leaves training untouched, exact resume, turning it on midway, validation and export."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from maskgit_lib.checkpoint import CheckpointError, export_weights, load_checkpoint
from maskgit_lib.config import ConfigError, TrainConfig
from maskgit_lib.ema import WeightAverage, ema_decay_at
from maskgit_lib.generator.train import TransformerTrainer
from maskgit_lib.generator.transformer import load_transformer
from maskgit_lib.trainer import read_metrics

from .conftest import fast_tokenizer, make_trainer


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ema")
    mp = pytest.MonkeyPatch()
    config, data = fast_tokenizer(root, mp)
    config.train_transformer.batch_size = 8
    config.train_transformer.max_steps = 6
    config.train_transformer.val_every = 3
    config.train_transformer.lr = 3e-3
    yield config, data, root
    mp.undo()


def make(setup, name, **changes):
    return make_trainer(TransformerTrainer, setup, name, **changes)


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


def test_the_decay_warms_up_and_each_update_is_the_weighted_mean():
    assert ema_decay_at(1, 0.999) == pytest.approx(2 / 11) and ema_decay_at(10_000, 0.999) == 0.999
    model = nn.Linear(3, 2)
    average = WeightAverage(model, decay=0.5)  # warmed up to 2/11 first: (1 + 1) / (10 + 1)
    before = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    average.update(model)
    torch.testing.assert_close(average.model.weight, before + 9 / 11)  # 2/11 of the old, 9/11 of the new
    assert not any(p.requires_grad for p in average.model.parameters())
    with pytest.raises(ValueError, match="between 0 and 1"):
        WeightAverage(model, decay=1.0)


def test_a_decay_outside_the_unit_interval_is_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"ema_decay 1.5: use a value in \[0, 1\)"):
        TrainConfig(ema_decay=1.5)


def test_the_average_leaves_training_untouched_and_lags_behind_it(setup):
    plain = make(setup, "plain")  # made and trained one after the other: dropout draws from the global RNG
    plain.fit(4)
    averaged = make(setup, "averaged", train_transformer__ema_decay=0.9)
    averaged.fit(4)
    assert same_weights(plain.model, averaged.model)  # the shadow copy takes no part in training
    assert averaged.ema.updates == 4 and not same_weights(averaged.ema.model, averaged.model)
    rows = read_metrics(averaged.run_dir / "metrics.jsonl")
    validated = [r for r in rows if "val_loss" in r]
    assert validated and all("val_loss_ema" in r and "val_accuracy_ema" in r for r in validated)
    assert validated[-1]["val_loss_ema"] != validated[-1]["val_loss"]
    assert not any("val_loss_ema" in r for r in read_metrics(plain.run_dir / "metrics.jsonl"))
    assert load_checkpoint(averaged.run_dir / "checkpoints" / "last.ckpt")["ema"]["updates"] == 4


def test_resume_restores_the_average_exactly(setup):
    straight = make(setup, "straight", train_transformer__ema_decay=0.9)
    straight.fit(6)
    first = make(setup, "first", train_transformer__ema_decay=0.9)
    first.fit(3)
    resumed = make(setup, "resumed", train_transformer__ema_decay=0.9)
    resumed.load(first.run_dir / "checkpoints" / "last.ckpt")
    assert resumed.ema.updates == 3
    resumed.fit(6)
    assert same_weights(straight.model, resumed.model) and same_weights(straight.ema.model, resumed.ema.model)


def test_a_run_that_turns_the_average_on_midway_starts_it_from_the_loaded_weights(setup):
    without = make(setup, "without")
    without.fit(3)
    said = []
    later = make(setup, "later", train_transformer__ema_decay=0.9)
    later.log = said.append
    later.load(without.run_dir / "checkpoints" / "last.ckpt")
    assert later.ema.updates == 0 and same_weights(later.ema.model, without.model)
    assert any("holds no average of its weights" in line and "from its step 3" in line for line in said)


def test_export_ships_the_average_and_refuses_a_run_without_one(setup, tmp_path):
    trainer = make(setup, "export", train_transformer__ema_decay=0.9)
    trainer.fit(4)
    last = trainer.run_dir / "checkpoints" / "last.ckpt"
    shipped = export_weights(last, tmp_path / "ema.ckpt", ema=True)
    model, _ = load_transformer(shipped)
    for k, v in trainer.ema.model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v.half().float())  # fp16 on disk
    assert "EMA, decay 0.9, over 4 steps" == load_checkpoint(shipped)["weights"]
    plain = make(setup, "no-average")
    plain.fit(2)
    with pytest.raises(CheckpointError, match="holds no average of its weights: train with ema_decay > 0"):
        export_weights(plain.run_dir / "checkpoints" / "last.ckpt", tmp_path / "x.ckpt", ema=True)
