"""The ``maskgit`` command line, run as a learner runs it: a separate process."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from PIL import Image

from maskgit_lib.data.prepared import load_prepared


def run_cli(*args, env_extra=None, cwd=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "maskgit_lib", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def test_help_lists_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "prepare-data" in result.stdout and "info" in result.stdout


def test_prepare_avatars_twice_gives_identical_arrays(tmp_path):
    env = {"MASKGIT_DATA_DIR": str(tmp_path / "data")}
    args = ("prepare-data", "--profile", "fast", "--dataset", "avatars", "--n-train", "16", "--n-val", "8", "--no-progress")
    first = run_cli(*args, env_extra=env)
    assert first.returncode == 0, first.stderr
    folder = first.stdout.strip().split("-> ")[-1]
    assert "16 train + 8 val images, 32 px, 8 classes" in first.stdout
    images_first = np.array(load_prepared(folder).train_images)
    second = run_cli(*args, env_extra=env)
    assert second.returncode == 0 and second.stdout == first.stdout
    np.testing.assert_array_equal(images_first, load_prepared(folder).train_images)
    other_dir = run_cli(*args, env_extra={"MASKGIT_DATA_DIR": str(tmp_path / "data2")})
    np.testing.assert_array_equal(images_first, load_prepared(other_dir.stdout.strip().split("-> ")[-1]).train_images)


def test_prepare_folder_reports_skips(tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(root / "red.jpg")
    Image.new("L", (30, 30), 90).save(root / "gray.png")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (root / "readme.txt").write_text("hello")
    result = run_cli(
        "prepare-data", "--profile", "fast", "--dataset", "folder", "--path", str(root), "--val-fraction", "0",
        "--no-progress", env_extra={"MASKGIT_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.returncode == 0, result.stderr
    assert "2 train + 0 val images" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "skipped 2 of 4 files" in warnings[0]
    prepared = load_prepared(result.stdout.strip().split("-> ")[-1])
    assert prepared.train_images.shape == (2, 32, 32, 3)
    assert (np.array(prepared.train_images[0]) == 90).all()  # the grayscale square, now RGB


def test_kaggle_without_credentials_prints_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    env |= {"HOME": str(tmp_path), "KAGGLE_CONFIG_DIR": str(tmp_path / ".kaggle"), "MASKGIT_DATA_DIR": str(tmp_path / "d")}
    result = subprocess.run(
        [sys.executable, "-m", "maskgit_lib", "prepare-data", "--dataset", "celebrity-faces", "--no-progress"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Kaggle credentials not found")
    assert "access_token" in lines[0]


def test_config_errors_are_one_line_with_status_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  image_sise_px: 32\n")
    result = run_cli("prepare-data", "--config_file", str(bad), "--no-progress")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "unknown key 'data.image_sise_px'" in result.stderr and "bad.yaml" in result.stderr
    assert "Traceback" not in result.stderr


def test_info_prints_machine_and_config():
    result = run_cli("info", "--profile", "fast")
    assert result.returncode == 0, result.stderr
    assert "torch" in result.stdout and "profile: fast" in result.stdout


def test_train_resume_export_and_mismatch(tmp_path):
    env = {"MASKGIT_DATA_DIR": str(tmp_path / "data"), "OMP_NUM_THREADS": "1"}
    run = tmp_path / "run"
    base = ("train", "--phase", "vqgan", "--profile", "fast", "--run-dir", str(run), "--no-progress")
    first = run_cli(*base, "--max-steps", "4", env_extra=env)
    assert first.returncode == 0, first.stderr
    assert "vqgan: step 4, val PSNR" in first.stdout
    ckpt = run / "checkpoints" / "last.ckpt"
    resumed = run_cli(*base, "--max-steps", "6", "--ckpt_path", str(ckpt), env_extra=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from {ckpt} at step 4" in resumed.stdout and "vqgan: step 6" in resumed.stdout

    other = tmp_path / "bigger.yaml"
    other.write_text("vqgan:\n  quantizer:\n    codebook_size: 128\n")
    mismatch = run_cli(*base, "--config_file", str(other), "--ckpt_path", str(ckpt), env_extra=env)
    assert mismatch.returncode == 2
    assert mismatch.stderr.strip().splitlines() == [
        f"error: checkpoint {ckpt} was trained with vqgan.quantizer.codebook_size=64 but the config asks for 128; "
        "use the config it was trained with (same --profile/--config_file) or start without it"
    ]

    shipped = tmp_path / "small.ckpt"
    exported = run_cli("export", "--checkpoint", str(ckpt), "--out", str(shipped), "--summary", str(run / "summary.json"))
    assert exported.returncode == 0, exported.stderr
    assert shipped.stat().st_size < ckpt.stat().st_size / 2  # no optimizer state, fp16 weights
    assert shipped.read_bytes()[:4] == b"MGZ1"  # compressed for git

    from maskgit_lib.checkpoint import load_checkpoint
    from maskgit_lib.tokenizer.vqgan import load_vqgan

    payload = load_checkpoint(shipped, phase="vqgan")
    assert payload["step"] == 6 and payload["summary"]["steps"] == 6 and "opt_g" not in payload
    model, config = load_vqgan(shipped)
    assert config.profile == "fast" and not model.training


def test_missing_checkpoint_is_one_line(tmp_path):
    result = run_cli("train", "--phase", "vqgan", "--profile", "fast", "--ckpt_path", str(tmp_path / "nope.ckpt"),
                     "--run-dir", str(tmp_path / "r"), "--no-progress", env_extra={"MASKGIT_DATA_DIR": str(tmp_path / "d")})
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: checkpoint {tmp_path / 'nope.ckpt'} does not exist; check --ckpt_path/--checkpoint"


def test_both_phases_then_sample(tmp_path):
    env = {"MASKGIT_DATA_DIR": str(tmp_path / "data"), "OMP_NUM_THREADS": "1"}
    common = ("--profile", "fast", "--no-progress")
    vqgan = run_cli("train", "--phase", "vqgan", "--max-steps", "3", "--run-dir", str(tmp_path / "vq"), *common, env_extra=env)
    assert vqgan.returncode == 0, vqgan.stderr
    config = tmp_path / "phase2.yaml"
    config.write_text(f"transformer:\n  tokenizer: {tmp_path / 'vq' / 'checkpoints' / 'last.ckpt'}\n")
    transformer = run_cli("train", "--phase", "transformer", "--config_file", str(config), "--max-steps", "3",
                          "--run-dir", str(tmp_path / "tf"), *common, env_extra=env)
    assert transformer.returncode == 0, transformer.stderr
    assert "transformer: step 3, val loss" in transformer.stdout
    ckpt = str(tmp_path / "tf" / "checkpoints" / "last.ckpt")
    out = tmp_path / "grid.png"
    sample = run_cli("sample", "--checkpoint", ckpt, "--n", "8", "--steps", "4", "--out", str(out), env_extra=env)
    assert sample.returncode == 0, sample.stderr
    assert "8 images in" in sample.stdout and out.is_file()
    wrong = run_cli("sample", "--checkpoint", ckpt, "--class", "dragons", "--out", str(out), env_extra=env)
    assert wrong.returncode == 2 and "unknown class 'dragons'; this model knows: pixel-art" in wrong.stderr
    npz = tmp_path / "samples.npz"
    saved = run_cli("sample", "--checkpoint", ckpt, "--n", "4", "--steps", "2", "--class", "pixel-art", "--out", str(npz), env_extra=env)
    assert saved.returncode == 0, saved.stderr
    with np.load(npz) as arrays:
        assert arrays["images"].dtype == np.uint8 and arrays["images"].shape == (4, 32, 32, 3)
        assert arrays["classes"].tolist() == ["pixel-art"] * 4
    for extra, message in ((("--prompt", "a cat"), "is a class model, it reads no text"),
                           (("--out", str(tmp_path / "grid.jpg")), "write a .png (a grid) or a .npz")):
        wrong = run_cli("sample", "--checkpoint", ckpt, "--out", str(out), *extra, env_extra=env)
        assert wrong.returncode == 2 and message in wrong.stderr and wrong.stderr.count("\n") == 1, wrong.stderr


def test_text_model_trains_samples_and_says_what_is_wrong_in_one_line(tmp_path):
    """--condition text on the fast profile (the shipped fast tokenizer), then sample --prompt: .npz
    with the prompts, guidance with a negative prompt, and one-line errors for what cannot work."""
    env = {"MASKGIT_DATA_DIR": str(tmp_path / "data"), "OMP_NUM_THREADS": "1"}
    trained = run_cli("train", "--phase", "transformer", "--condition", "text", "--profile", "fast", "--max-steps", "3",
                      "--run-dir", str(tmp_path / "text"), "--no-progress", env_extra=env)
    assert trained.returncode == 0, trained.stderr
    assert "transformer-text: step 3, val loss" in trained.stdout
    ckpt = str(tmp_path / "text" / "checkpoints" / "last.ckpt")
    npz = tmp_path / "samples.npz"
    prompts = ("a pixel-art avatar with dark glasses", "a micah avatar")
    sampled = run_cli("sample", "--checkpoint", ckpt, "--n", "4", "--steps", "2", "--prompt", prompts[0], "--prompt", prompts[1],
                      "--negative-prompt", "hat", "--cfg", "2", "--cfg-ramp", "--out", str(npz), env_extra=env)
    assert sampled.returncode == 0, sampled.stderr
    with np.load(npz) as arrays:
        assert arrays["images"].dtype == np.uint8 and arrays["images"].shape == (4, 32, 32, 3)
        assert arrays["prompts"].tolist() == [prompts[0], prompts[1]] * 2 and str(arrays["negative_prompt"]) == "hat"
    empty = run_cli("sample", "--checkpoint", ckpt, "--n", "2", "--steps", "2", "--prompt", "", "--out", str(tmp_path / "u.png"),
                    env_extra=env)
    assert empty.returncode == 0 and "samples unconditionally" in empty.stdout
    for extra, message in (
        (("--prompt", "a purple dragon"), "'dragon' (nearest:"),
        (("--prompt", " ".join(["glasses"] * 17)), "at most 16"),
        (("--class", "micah"), "is a text-to-image model, it knows no classes"),
        ((), 'say what to draw with --prompt "…"'),
        (("--prompt", "glasses", "--negative-prompt", "hat"), "add --cfg S"),
    ):
        wrong = run_cli("sample", "--checkpoint", ckpt, "--out", str(tmp_path / "x.png"), *extra, env_extra=env)
        assert wrong.returncode == 2 and message in wrong.stderr and wrong.stderr.count("\n") == 1, (extra, wrong.stderr)
    as_class = run_cli("evaluate", "--checkpoint", str(tmp_path / "text" / "checkpoints" / "last.ckpt"), "--steps", "2,4",
                       env_extra=env)
    assert as_class.returncode == 2 and "for class models" in as_class.stderr
