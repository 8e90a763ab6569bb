"""``maskgit train --dataset/--path/--image-size/--tokenizer``, and the guard against a tokenizer of other images.

Issue #14 §2 found two traps on the way from a photo folder to samples: a plain ``train`` trains on
avatars whatever ``prepare-data`` prepared last, and the Transformer trains on the shipped avatar
tokenizer unless told otherwise. These tests run ``main`` in this process and train nothing: every
refusal must come before a data set is prepared or a run folder is made.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from PIL import Image

from maskgit_lib.checkpoint import load_checkpoint
from maskgit_lib.cli import build_parser, main, train_config
from maskgit_lib.config import load_config
from maskgit_lib.course.load_or_train import shipped_checkpoint
from maskgit_lib.generator.train import check_tokenizer_data

from .conftest import small_fast_config


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A learner's folder: two classes of three photos; data and results beside it (nothing yet)."""
    for name, colour in (("cats", (200, 90, 10)), ("dogs", (20, 90, 200))):
        (tmp_path / "my photos" / name).mkdir(parents=True)
        for index in range(3):
            Image.new("RGB", (40 + index, 30), colour).save(tmp_path / "my photos" / name / f"{index}.jpg")
    monkeypatch.setenv("MASKGIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MASKGIT_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("MASKGIT_PROFILE", "fast")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


def nothing_written(home: Path) -> bool:
    return not (home / "data").exists() and not (home / "results").exists()


def test_flags_set_the_data_and_tokenizer_keys(home):
    args = build_parser().parse_args(["train", "--phase", "transformer", "--dataset", "folder", "--path", "my photos",
                                      "--image-size", "48", "--tokenizer", "mine/last.ckpt"])
    config = train_config(args)
    assert (config.data.dataset, config.data.path, config.data.image_size_px) == ("folder", str((home / "my photos").resolve()), 48)
    assert config.transformer.tokenizer == str((home / "mine" / "last.ckpt").resolve())  # from here, not from the project root


@pytest.mark.parametrize(("flags", "message"), [
    (("--phase", "vqgan", "--path", "my photos"), "--path is only for --dataset folder; add --dataset folder"),
    (("--phase", "vqgan", "--dataset", "celeba", "--path", "my photos"), "--path is only for --dataset folder"),
    (("--phase", "vqgan", "--dataset", "folder"), "--dataset folder needs --path DIR"),
    (("--phase", "vqgan", "--dataset", "folder", "--path", "no such folder"), "no such folder is not a folder"),
    (("--phase", "vqgan", "--tokenizer", "x.ckpt"), "--tokenizer is only for --phase transformer"),
    (("--phase", "transformer", "--tokenizer", "x.ckpt"), "tokenizer checkpoint"),
])
def test_flags_that_cannot_work_are_one_line_before_anything_is_written(home, flags, message):
    status, out, err = run_cli("train", *flags, "--no-progress")
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and message in err, err
    assert nothing_written(home)


@pytest.mark.parametrize("epochs", [(), ("--max-epochs", "1")])  # --max-epochs prepares the data set first
def test_the_shipped_avatar_tokenizer_is_refused_for_a_folder(home, epochs):
    """Trap (2): without --tokenizer, the Transformer would train on the avatar tokenizer's codes."""
    status, out, err = run_cli("train", "--phase", "transformer", "--dataset", "folder", "--path", "my photos",
                               *epochs, "--no-progress")
    assert status == 2 and out == ""
    folder = (home / "my photos").resolve()
    assert err.splitlines() == [
        f"error: the tokenizer {shipped_checkpoint('vqgan', 'fast')} was trained on avatars, this run trains on "
        f"folder {folder}: train a tokenizer on it first (maskgit train --phase vqgan --profile fast --dataset folder "
        f"--path '{folder}') and pass it with --tokenizer results/runs/vqgan-fast/checkpoints/last.ckpt"
    ]
    assert nothing_written(home)


def test_another_image_size_is_refused_too(home):
    status, _, err = run_cli("train", "--phase", "transformer", "--image-size", "64", "--no-progress")
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "was trained on avatars at 32 px, this run trains on avatars at 64 px" in err
    assert "(maskgit train --phase vqgan --profile fast --dataset avatars --image-size 64)" in err
    assert nothing_written(home)


@pytest.mark.parametrize("profile", ["fast", "cpu"])
def test_avatar_runs_keep_the_shipped_tokenizer(profile):
    """Only the data set, its folder and the image size count: other avatar counts or seeds are fine."""
    path = shipped_checkpoint("vqgan", profile)
    saved = load_checkpoint(path, phase="vqgan")["config"]
    check_tokenizer_data(saved, load_config(profile), path)
    smaller = small_fast_config() if profile == "fast" else load_config(profile)
    smaller.data.n_train, smaller.data.seed, smaller.data.path = 48, 3, "/ignored/for/avatars"
    check_tokenizer_data(saved, smaller, path)


def test_the_cli_lists_the_data_sets_the_library_knows():
    from maskgit_lib import cli, data

    assert cli.DATASETS == data.DATASETS
