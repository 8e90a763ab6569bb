"""The one load-or-train policy (issue #12): train when asked, else the learner's latest finished run,
else the shipped checkpoint; a Transformer only with the tokenizer it was trained on; one line says which."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from maskgit_lib.checkpoint import load_checkpoint, save_checkpoint
from maskgit_lib.config import load_config
from maskgit_lib.course import load_or_train as lot
from maskgit_lib.generator.tokens import file_digest

SHIPPED = Path(__file__).resolve().parent.parent / "results" / "checkpoints"


@pytest.fixture
def results(tmp_path, monkeypatch) -> Path:
    """An empty results folder for the learner's runs (the shipped checkpoints stay in the checkout)."""
    monkeypatch.setenv("MASKGIT_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv(lot.NO_TRAINING_ENV_VAR, raising=False)
    return tmp_path / "results"


def fake_run(results: Path, name: str, phase: str, payload_from: Path, **changes) -> Path:
    """A finished run as a training leaves it: summary.json + checkpoints/last.ckpt."""
    run = results / "runs" / name
    (run / "checkpoints").mkdir(parents=True)
    payload = load_checkpoint(payload_from)
    payload.update(changes)
    save_checkpoint(run / "checkpoints" / "last.ckpt", payload)
    (run / "summary.json").write_text(json.dumps({"phase": phase, "profile": "fast"}))
    (run / "metrics.jsonl").write_text(json.dumps({"step": 1, "loss": 1.0}) + "\n")
    return run / "checkpoints" / "last.ckpt"


def retargeted(payload_from: Path, tokenizer: Path, digest: str | None) -> dict:
    config = load_checkpoint(payload_from)["config"]
    config["transformer"]["tokenizer"] = str(tokenizer)
    return {"config": config, "tokenizer_digest": digest}


def test_without_runs_the_shipped_pair_is_used_and_named(results, capsys):
    config = load_config("fast")
    tokenizer = lot.choose_tokenizer(config)
    transformer = lot.choose_transformer(config)
    out = capsys.readouterr().out.splitlines()
    assert tokenizer.source == transformer.source == "shipped"
    assert tokenizer.path == SHIPPED / "vqgan-fast.ckpt" and transformer.path == SHIPPED / "transformer-fast.ckpt"
    assert transformer.tokenizer_path.resolve() == tokenizer.path.resolve()
    assert out[0].startswith("tokenizer: shipped results/checkpoints/vqgan-fast.ckpt")
    assert out[1].startswith("Transformer: shipped results/checkpoints/transformer-fast.ckpt")
    assert tokenizer.metrics() and "step" in tokenizer.metrics()[0]  # the shipped run's log, beside it


def test_the_learners_tokenizer_wins_and_a_transformer_without_it_falls_back_to_the_shipped_pair(results, capsys):
    config = load_config("fast")
    own = fake_run(results, "vqgan-fast-20260101-000000", "vqgan", SHIPPED / "vqgan-fast.ckpt", step=7)
    assert lot.choose_tokenizer(config).path == own
    transformer = lot.choose_transformer(config)
    out = capsys.readouterr().out
    assert "tokenizer: your run" in out and "vqgan-fast-20260101-000000" in out
    assert transformer.source == "shipped" and transformer.tokenizer_path.name == "vqgan-fast.ckpt"
    assert "has no Transformer yet, so the shipped pair is used" in out
    assert lot.choose_tokenizer(config, prefer="shipped").source == "shipped"


def test_downstream_follows_upstream_and_a_stale_pair_is_never_used(results, capsys):
    config = load_config("fast")
    own_tok = fake_run(results, "vqgan-fast-a", "vqgan", SHIPPED / "vqgan-fast.ckpt", step=7)
    own_tf = fake_run(results, "transformer-fast-a", "transformer", SHIPPED / "transformer-fast.ckpt",
                      **retargeted(SHIPPED / "transformer-fast.ckpt", own_tok, file_digest(own_tok)))
    choice = lot.choose_transformer(config)
    assert (choice.source, choice.path, choice.tokenizer_path) == ("your run", own_tf, own_tok)
    assert "Transformer: your run" in capsys.readouterr().out
    # The learner retrains their tokenizer in place: the old Transformer no longer fits its bytes.
    payload = load_checkpoint(own_tok)
    payload["model"] = {k: v + 1 if v.is_floating_point() else v for k, v in payload["model"].items()}
    save_checkpoint(own_tok, payload)
    assert not lot.fits(own_tf, own_tok)
    assert lot.choose_transformer(config).source == "shipped"


def test_a_profile_without_checkpoints_says_what_to_run_in_one_line(results):
    with pytest.raises(lot.ModelChoiceError) as caught:
        lot.choose_tokenizer(load_config("gpu"))
    message = str(caught.value)
    assert "maskgit train --phase vqgan --profile gpu" in message and "TRAIN = True" in message
    assert caught.value._render_traceback_() == [f"ModelChoiceError: {message}"]
    assert "maskgit train --phase transformer --autoregressive --profile gpu" in str(lot._missing("transformer-ar", "gpu"))


def test_a_gpu_gets_the_shipped_size_and_no_training(results, monkeypatch):
    """Colab's GPU runtime, simulated: CUDA available, no profile set -> the shipped size, nothing trained."""
    monkeypatch.delenv("MASKGIT_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv(lot.NO_TRAINING_ENV_VAR, "1")
    config = load_config()
    assert config.profile == "cpu"
    assert lot.choose_tokenizer(config).path == SHIPPED / "vqgan-cpu.ckpt"
    assert lot.choose_transformer(config).path == SHIPPED / "transformer-cpu.ckpt"
    with pytest.raises(lot.ModelChoiceError, match="MASKGIT_NO_TRAINING"):
        lot.choose_tokenizer(config, train=True)


def test_train_true_trains_both_phases_in_new_folders_and_the_transformer_on_the_new_tokenizer(results, monkeypatch, capsys):
    from maskgit_lib.tokenizer import train as train_vqgan

    monkeypatch.setattr(train_vqgan, "load_lpips", lambda net: None)  # seconds, not the perceptual net
    config = load_config("fast")
    config.train_vqgan.max_steps = config.train_transformer.max_steps = 3
    config.data.n_train, config.data.n_val = 48, 16
    monkeypatch.setenv("MASKGIT_DATA_DIR", str(results.parent / "data"))
    tok = lot.choose_tokenizer(config, train=True, progress=False)
    tf = lot.choose_transformer(config, train=True, progress=False)
    out = capsys.readouterr().out
    assert "tokenizer: trained now" in out and "Transformer: trained now" in out
    assert tok.run_dir.parent == results / "runs" and tok.run_dir.name.startswith("vqgan-fast-")
    stored = load_checkpoint(tf.path)
    assert Path(stored["config"]["transformer"]["tokenizer"]) == tok.path
    assert stored["tokenizer_digest"] == file_digest(tok.path)
    again = lot.choose_transformer(config)
    assert (again.source, again.path, again.tokenizer_path) == ("your run", tf.path, tok.path)
    shutil.rmtree(tf.run_dir)
    assert lot.choose_transformer(config).source == "shipped"


def on_images(payload_from: Path, **data) -> dict:
    """A checkpoint's config as if trained on other images (``data`` keys changed)."""
    config = load_checkpoint(payload_from)["config"]
    config["data"].update(data)
    return {"config": config}


def test_a_tokenizer_trained_on_other_images_is_skipped_and_so_is_its_transformer(results, tmp_path, capsys):
    """`maskgit train --phase vqgan --dataset folder` lands in the same runs folder; the avatar
    notebooks keep the avatar tokenizer (notebook 04 could not train on the folder one)."""
    config = load_config("fast")
    photos = fake_run(results, "vqgan-fast-photos", "vqgan", SHIPPED / "vqgan-fast.ckpt",
                      **on_images(SHIPPED / "vqgan-fast.ckpt", dataset="folder", path=str(tmp_path / "photos")))
    fake_run(results, "transformer-fast-photos", "transformer", SHIPPED / "transformer-fast.ckpt",
             **retargeted(SHIPPED / "transformer-fast.ckpt", photos, file_digest(photos)))
    assert lot.choose_tokenizer(config).source == "shipped"
    assert "(skipped results/runs/vqgan-fast-photos: trained on other images)" in capsys.readouterr().out
    assert lot.choose_transformer(config).source == "shipped"


@pytest.mark.parametrize("other", [{"dataset": "folder", "path": "photos"}, {"image_size_px": 64}])
def test_an_avatar_tokenizer_is_chosen_over_a_newer_one_on_other_images(results, capsys, other):
    config = load_config("fast")
    avatars = fake_run(results, "vqgan-fast-avatars", "vqgan", SHIPPED / "vqgan-fast.ckpt", step=7)
    newer = fake_run(results, "vqgan-fast-other", "vqgan", SHIPPED / "vqgan-fast.ckpt",
                     **on_images(SHIPPED / "vqgan-fast.ckpt", **other))
    stamp = avatars.parent.parent / "summary.json"
    os.utime(newer.parent.parent / "summary.json", (stamp.stat().st_mtime + 60,) * 2)  # the run on other images is the newest
    assert lot.choose_tokenizer(config).path == avatars
    out = capsys.readouterr().out
    assert out.startswith("tokenizer: your run results/runs/vqgan-fast-avatars") and "vqgan-fast-other" in out
