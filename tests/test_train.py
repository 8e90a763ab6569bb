"""Training the tokenizer: the GAN safeguards, learning, checkpoints and exact resume."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch

from maskgit_lib.checkpoint import CheckpointError, load_checkpoint
from maskgit_lib.config import load_config
from maskgit_lib.data.prepared import prepare_data
from maskgit_lib.tokenizer import train as train_vqgan_module
from maskgit_lib.tokenizer.train import VQGANTrainer
from maskgit_lib.tokenizer.vqgan import load_vqgan
from maskgit_lib.trainer import check_resumable, read_metrics


@pytest.fixture
def tiny(data_home, monkeypatch):
    """The fast profile with 48 training images and no LPIPS download attempts."""
    monkeypatch.setattr(train_vqgan_module, "load_lpips", lambda net: None)
    config = load_config("fast")
    config.data.n_train, config.data.n_val = 48, 16
    config.train_vqgan.batch_size = 8
    config.loss.disc_start_step = 2
    return config, prepare_data(config.data, progress=False)


def make_trainer(tiny, tmp_path, name="run", **changes):
    config, data = tiny
    for key, value in changes.items():
        section, field = key.split("__")
        setattr(getattr(config, section), field, value)
    return VQGANTrainer(config, data=data, run_dir=tmp_path / name, progress=False, log=lambda m: None)


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_generator_step_never_changes_the_discriminator(tiny, tmp_path):
    trainer = make_trainer(tiny, tmp_path)
    trainer.step = 5  # GAN term on
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    before_d, before_g = snapshot(trainer.disc), snapshot(trainer.model)
    stats, recon = trainer.generator_step(images)
    assert "g_loss" in stats and stats["adaptive_weight"] > 0
    assert all(torch.equal(before_d[k], v) for k, v in trainer.disc.state_dict().items())
    assert not all(torch.equal(before_g[k], v) for k, v in trainer.model.state_dict().items())
    assert all(p.requires_grad for p in trainer.disc.parameters())  # unfrozen again afterwards


def test_discriminator_step_sees_detached_reconstructions(tiny, tmp_path):
    trainer = make_trainer(tiny, tmp_path)
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    recon, _ = trainer.model(images)  # still attached to the generator's graph
    trainer.opt_g.zero_grad(set_to_none=True)
    before_g, before_d = snapshot(trainer.model), snapshot(trainer.disc)
    trainer.discriminator_step(images, recon)
    assert all(p.grad is None for p in trainer.model.parameters()), "the discriminator loss reached the generator"
    assert all(torch.equal(before_g[k], v) for k, v in trainer.model.state_dict().items())
    assert not all(torch.equal(before_d[k], v) for k, v in trainer.disc.state_dict().items())


@pytest.mark.parametrize(("precision", "steps"), [("auto", 40), ("fp16", 12)])  # fp16 + gradient scaler, as on a T4 (slow on a CPU)
def test_loss_goes_down_on_a_fixed_batch(tiny, tmp_path, precision, steps):
    trainer = make_trainer(tiny, tmp_path, loss__disc_start_step=10_000, train_vqgan__warmup_steps=1,
                           train_vqgan__precision=precision)
    assert trainer.scaler.is_enabled() == (precision == "fp16")
    images = torch.from_numpy(tiny[1].train_images[:8].copy()).permute(0, 3, 1, 2).float() / 127.5 - 1
    losses = [trainer.generator_step(images)[0]["rec_loss"] for _ in range(steps)]
    assert all(math.isfinite(loss) for loss in losses)
    assert sum(losses[-3:]) / 3 < 0.6 * sum(losses[:3]) / 3


@pytest.mark.parametrize("precision", ["auto", "fp16"])
def test_resume_continues_exactly_like_an_uninterrupted_run(tiny, tmp_path, precision):
    straight = make_trainer(tiny, tmp_path, "straight", train_vqgan__precision=precision)
    rows_straight = [straight.train_step() for _ in range(6)]

    first = make_trainer(tiny, tmp_path, "first", train_vqgan__precision=precision)
    for _ in range(3):
        first.train_step()
    path = first.save()
    resumed = make_trainer(tiny, tmp_path, "resumed", train_vqgan__precision=precision)
    resumed.load(path)
    assert resumed.step == 3
    rows_resumed = [resumed.train_step() for _ in range(3)]
    for a, b in zip(rows_straight[3:], rows_resumed, strict=True):
        assert a.keys() == b.keys() and "d_loss" in a
        assert a == b  # every loss, bit for bit
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert straight.scaler.state_dict() == resumed.scaler.state_dict()  # scale and growth tracker (fp16)


def test_a_run_without_a_scaler_resumes_under_fp16(tiny, tmp_path):
    """A checkpoint saved in fp32 or bf16 (or before the scaler existed) has no scaler state: start afresh."""
    path = make_trainer(tiny, tmp_path, "bf16", train_vqgan__precision="bf16").save()
    resumed = make_trainer(tiny, tmp_path, "fp16", train_vqgan__precision="fp16")
    resumed.load(path)
    assert resumed.scaler.get_scale() == torch.amp.GradScaler("cpu").get_scale()
    assert math.isfinite(resumed.train_step()["loss"])


def test_a_checkpoint_from_before_a_new_config_key_still_resumes(tiny, tmp_path):
    """Checkpoints store their config as a dict; one written before ``quantizer.levels`` existed lacks it."""
    path = make_trainer(tiny, tmp_path).save()
    payload = load_checkpoint(path)
    del payload["config"]["vqgan"]["quantizer"]["levels"]
    torch.save(payload, path)
    check_resumable(path, "vqgan", tiny[0], VQGANTrainer.architecture_sections)  # no error: the default is VQ
    payload["config"]["vqgan"]["quantizer"] |= {"levels": [8, 8, 8], "codebook_size": 512, "code_dim": 3}
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="code_dim=3 but the config asks for"):
        check_resumable(path, "vqgan", tiny[0], VQGANTrainer.architecture_sections)


def test_channels_last_changes_the_layout_not_the_training(tiny, tmp_path):
    """NHWC is a memory layout: same steps (within float reordering), and checkpoints load anywhere."""
    plain = make_trainer(tiny, tmp_path, "plain")
    rows_plain = [plain.train_step() for _ in range(3)]  # GAN on from step 2
    nhwc = make_trainer(tiny, tmp_path, "nhwc", train_vqgan__channels_last=True)
    assert nhwc.model.decoder.conv_out.weight.is_contiguous(memory_format=torch.channels_last)
    rows_nhwc = [nhwc.train_step() for _ in range(3)]
    for a, b in zip(rows_plain, rows_nhwc, strict=True):
        assert a.keys() == b.keys() and a["loss"] == pytest.approx(b["loss"], rel=1e-3)
    reloaded, _ = load_vqgan(nhwc.save(), "cpu")  # a plain (NCHW) model takes the NHWC weights
    torch.testing.assert_close(reloaded.state_dict()["decoder.conv_out.weight"], nhwc.model.decoder.conv_out.weight)


def test_checkpoint_carries_everything_and_rebuilds_its_model(tiny, tmp_path):
    trainer = make_trainer(tiny, tmp_path)
    trainer.train_step()
    path = trainer.save(tmp_path / "t.ckpt")
    payload = load_checkpoint(path, phase="vqgan")
    assert {"config", "model", "discriminator", "opt_g", "opt_d", "step", "epoch", "rng"} <= payload.keys()
    model, config = load_vqgan(path)
    assert config.vqgan == tiny[0].vqgan and not model.training
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    trainer.model.eval()
    assert torch.equal(model.encode(images), trainer.model.encode(images))


def test_checkpoint_from_another_architecture_names_the_setting(tiny, tmp_path):
    path = make_trainer(tiny, tmp_path).save(tmp_path / "a.ckpt")
    config, data = tiny
    config.vqgan.quantizer.codebook_size = 128
    other = VQGANTrainer(config, data=data, run_dir=tmp_path / "b", progress=False, log=lambda m: None)
    with pytest.raises(CheckpointError, match="vqgan.quantizer.codebook_size=64 but the config asks for 128"):
        other.load(path)


def test_interrupted_save_keeps_the_previous_checkpoint(tiny, tmp_path, monkeypatch):
    trainer = make_trainer(tiny, tmp_path)
    path = trainer.save(tmp_path / "keep.ckpt")
    trainer.train_step()

    def crash(obj, f, *args, **kwargs):
        with open(f, "wb") as handle:
            handle.write(b"half a checkp")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        trainer.save(path)
    assert load_checkpoint(path)["step"] == 0  # the old one, intact


def test_fit_writes_logs_grids_summary_and_checkpoint(tiny, tmp_path):
    messages = []
    config, data = tiny
    trainer = VQGANTrainer(config, data=data, run_dir=tmp_path / "fit", progress=False, log=messages.append)
    summary = trainer.fit()
    run = tmp_path / "fit"
    assert summary["steps"] == config.train_vqgan.max_steps and 0 < summary["val_usage"] <= 1
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "curves.png").is_file()
    assert json.loads((run / "summary.json").read_text())["val_psnr"] == summary["val_psnr"]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("val_psnr" in r for r in rows) and any("d_loss" in r for r in rows)
    assert sorted(p.name for p in run.glob("recon_*.png"))[-1] == f"recon_{config.train_vqgan.max_steps:06d}.png"
    assert messages == ["perceptual term is OFF: no LPIPS alex weights here; run `maskgit prepare-weights` to turn it on"]


def test_metrics_log_restarts_with_a_fresh_run_and_trims_on_resume(tiny, tmp_path):
    config, data = tiny
    config.train_vqgan.max_steps, config.train_vqgan.log_every, config.train_vqgan.checkpoint_every = 4, 1, 2
    first = VQGANTrainer(config, data=data, run_dir=tmp_path / "log", progress=False, log=lambda m: None)
    first.fit()
    again = VQGANTrainer(config, data=data, run_dir=tmp_path / "log", progress=False, log=lambda m: None)
    again.fit()  # a fresh run into the same folder: its own log only
    steps = [r["step"] for r in read_metrics(tmp_path / "log" / "metrics.jsonl") if "loss" in r]
    assert steps == [1, 2, 3, 4]
    resumed = VQGANTrainer(config, data=data, run_dir=tmp_path / "log", progress=False, log=lambda m: None)
    resumed.load(tmp_path / "log" / "checkpoints" / "last.ckpt")  # step 4
    resumed.fit(6)
    rows = read_metrics(tmp_path / "log" / "metrics.jsonl")
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4, 5, 6]


def test_keep_best_saves_the_best_validation_and_survives_a_resume(tiny, tmp_path, monkeypatch):
    """Early stopping without stopping: best.ckpt follows the best validation, the summary names it."""
    config, data = tiny
    config.train_vqgan.max_steps, config.train_vqgan.val_every, config.train_vqgan.keep_best = 6, 2, True
    scores = itertools.chain([20.0, 25.0, 22.0, 21.0], itertools.repeat(20.0))  # steps 2, 4 (best), 6, then resumed
    monkeypatch.setattr(VQGANTrainer, "validate", lambda self, n=None: {"val_psnr": next(scores), "val_usage": 0.5})
    trainer = make_trainer(tiny, tmp_path, name="best")
    summary = trainer.fit()
    best = load_checkpoint(tmp_path / "best" / "checkpoints" / "best.ckpt")
    assert summary["best"] == {"metric": "val_psnr", "value": 25.0, "step": 4} and best["step"] == 4
    resumed = make_trainer(tiny, tmp_path, name="best")
    resumed.load(tmp_path / "best" / "checkpoints" / "last.ckpt")
    assert resumed.best == summary["best"]
    assert resumed.fit(7)["best"]["step"] == 4  # 21 dB at step 7 does not beat step 4
    config.train_vqgan.keep_best = False
    assert "best" not in make_trainer(tiny, tmp_path, name="plain").fit(2)


def test_keep_every_leaves_a_trail_of_checkpoints_named_by_step(tiny, tmp_path):
    """``keep_every`` keeps step-NNNNNN.ckpt beside last.ckpt, each holding its own step."""
    config, data = tiny
    config.train_vqgan.keep_every = 2
    try:
        make_trainer(tiny, tmp_path, name="trail").fit(5)
    finally:
        config.train_vqgan.keep_every = 0
    folder = tmp_path / "trail" / "checkpoints"
    kept = sorted(p.name for p in folder.glob("step-*.ckpt"))
    assert kept == ["step-000002.ckpt", "step-000004.ckpt"] and (folder / "last.ckpt").is_file()
    assert [load_checkpoint(folder / name)["step"] for name in kept] == [2, 4]
