"""Issue #14 §2: a learner's own photo folder, from ``prepare-data`` to samples and FID, with no code edited.

The original project trained on 1,799 celebrity photos in 17 classes, one sub-folder of JPEGs per
person. This test builds a folder of that shape (17 sub-folders named like people, spaces included;
small JPEGs of varied non-square sizes; one stray text file and one truncated download) and drives
the real ``maskgit`` entry point through every step a learner takes, in the ``fast`` profile sizes:

    maskgit prepare-data --dataset folder --path DIR
    maskgit train --phase vqgan       --dataset folder --path DIR
    maskgit train --phase transformer --dataset folder --path DIR --tokenizer results/runs/vqgan-fast/checkpoints/last.ckpt
    maskgit sample   --checkpoint ... --class "Tom Hanks" --out grid.png
    maskgit evaluate --checkpoint ...  (tokenizer, then Transformer)

Before its tokenizer exists, the Transformer is also asked to train on the folder without
``--tokenizer``: the profile's default is the shipped avatar tokenizer, and it must be refused. A YAML
file naming the same keys (``--config-file``, the route before these flags) must give the same config.
Data and results go to a temporary folder (``MASKGIT_DATA_DIR``, ``MASKGIT_RESULTS_DIR``). The steps
run once per module; each test checks one of them.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from maskgit_lib.checkpoint import load_checkpoint
from maskgit_lib.cli import build_parser, main, train_config
from maskgit_lib.course.load_or_train import shipped_checkpoint
from maskgit_lib.data.prepared import load_prepared
from maskgit_lib.generator.tokens import file_digest

PEOPLE = (  # the 17 classes of the Kaggle celebrity set; only the folder names are borrowed
    "Angelina Jolie", "Brad Pitt", "Denzel Washington", "Hugh Jackman", "Jennifer Lawrence", "Johnny Depp",
    "Kate Winslet", "Leonardo DiCaprio", "Megan Fox", "Natalie Portman", "Nicole Kidman", "Robert Downey Jr",
    "Sandra Bullock", "Scarlett Johansson", "Tom Cruise", "Tom Hanks", "Will Smith",
)
PHOTOS_PER_PERSON = 6  # fast profile's val_fraction 0.1 keeps 1 of 6 for validation: 17 val images
SIZES_PX = ((64, 48), (48, 72), (90, 60), (56, 80), (100, 52), (44, 66))  # (width, height), never square
PROFILE = "fast"


def draw_photo(person: int, index: int) -> Image.Image:
    """A deterministic stand-in for a portrait: a two-colour gradient, a 'face' and a 'shirt' per person."""
    width, height = SIZES_PX[index % len(SIZES_PX)]
    rng = np.random.default_rng(1000 * person + index)
    top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]  # (H, 1, 1)
    pixels = (top * (1 - ramp) + bottom * ramp).repeat(width, axis=1).astype(np.uint8)  # (H, W, 3)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    hue = tuple(int(c) for c in (np.array([37, 91, 151]) * (person + 1)) % 256)
    draw.ellipse((width * 0.25, height * 0.15, width * 0.75, height * 0.6), fill=hue)
    draw.rectangle((width * 0.15, height * 0.7, width * 0.85, height), fill=tuple(255 - c for c in hue))
    return image


def make_celebrity_folder(root: Path) -> Path:
    """17 person folders of JPEGs, plus a README at the top and a truncated JPEG: 2 files to skip."""
    for person, name in enumerate(PEOPLE):
        (root / name).mkdir(parents=True)
        for index in range(PHOTOS_PER_PERSON):
            draw_photo(person, index).save(root / name / f"{index:03d}.jpg", quality=90)
    whole = (root / PEOPLE[0] / "000.jpg").read_bytes()
    (root / PEOPLE[1] / "download-interrupted.jpg").write_bytes(whole[: len(whole) // 2])
    (root / "README.txt").write_text("Photos collected for my MaskGIT project.\n")
    return root


def run_cli(*args: str) -> tuple[int, str, str]:
    """``maskgit ARGS`` in this process: exit status, stdout, stderr (warnings shown every time)."""
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


def ok(*args: str) -> str:
    status, out, err = run_cli(*args)
    assert status == 0, f"maskgit {' '.join(args)} failed: {err}"
    return out + err


@pytest.fixture(scope="module")
def journey(tmp_path_factory):
    """Every step once: the folder, a refused Transformer, both trainings, a sample grid, both evaluations."""
    home = tmp_path_factory.mktemp("learner")
    photos = make_celebrity_folder(home / "My Celebrities")
    results = home / "results"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MASKGIT_DATA_DIR", str(home / "data"))
        env.setenv("MASKGIT_RESULTS_DIR", str(results))
        env.setenv("MASKGIT_PROFILE", PROFILE)
        steps = {"prepare": run_cli("prepare-data", "--dataset", "folder", "--path", str(photos), "--no-progress")}
        prepared = load_prepared(steps["prepare"][1].strip().split("-> ")[-1])
        tokenizer = results / "runs" / f"vqgan-{PROFILE}" / "checkpoints" / "last.ckpt"
        folder = ("--dataset", "folder", "--path", str(photos))
        steps["no_tokenizer"] = run_cli("train", "--phase", "transformer", *folder, "--no-progress")
        steps["no_tokenizer_left_a_run"] = (results / "runs").exists()
        steps["vqgan"] = ok("train", "--phase", "vqgan", *folder, "--no-progress")
        transformer_flags = ("train", "--phase", "transformer", *folder, "--tokenizer", str(tokenizer))
        steps["transformer"] = ok(*transformer_flags, "--no-progress")
        mine = home / "mine.yaml"
        mine.write_text(f"data:\n  dataset: folder\n  path: {photos}\ntransformer:\n  tokenizer: {tokenizer}\n")
        steps["configs"] = [train_config(build_parser().parse_args(args)) for args in
                            (transformer_flags, ("train", "--phase", "transformer", "--config-file", str(mine)))]
        transformer = results / "runs" / f"transformer-{PROFILE}" / "checkpoints" / "last.ckpt"
        grid = home / "grid.png"
        steps["sample"] = ok("sample", "--checkpoint", str(transformer), "--class", "Tom Hanks", "--n", "10", "--out", str(grid))
        steps["wrong_class"] = run_cli("sample", "--checkpoint", str(transformer), "--class", "Tom Hank", "--out", str(home / "x.png"))
        steps["default_n"] = run_cli("evaluate", "--checkpoint", str(tokenizer), "--device", "cpu", "--no-progress")
        n = str(len(prepared.val_images))
        for name, ckpt in (("eval_vqgan", tokenizer), ("eval_transformer", transformer)):
            steps[name] = ok("evaluate", "--checkpoint", str(ckpt), "--n", n, "--device", "cpu", "--no-progress",
                             "--out", str(home / f"{name}.json"))
        yield {"home": home, "results": results, "prepared": prepared, "tokenizer": tokenizer,
               "transformer": transformer, "grid": grid, "steps": steps}


def test_prepare_data_counts_classes_and_skips_with_one_warning(journey):
    """The README beside the person folders is skipped, not kept as an 18th class with no images."""
    status, out, err = journey["steps"]["prepare"]
    assert status == 0, err
    prepared = journey["prepared"]
    n_images = len(PEOPLE) * PHOTOS_PER_PERSON
    assert f"folder: {n_images - len(PEOPLE)} train + {len(PEOPLE)} val images, 32 px, 17 classes" in out
    warning_lines = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warning_lines) == 1 and f"skipped 2 of {n_images + 2} files" in warning_lines[0], err
    assert prepared.class_names == sorted(PEOPLE)  # from the folder names, spaces kept
    assert prepared.class_counts("val") == {name: 1 for name in PEOPLE}
    assert prepared.class_counts("train") == {name: PHOTOS_PER_PERSON - 1 for name in PEOPLE}
    assert prepared.train_images.shape[1:] == (32, 32, 3)


def test_the_shipped_avatar_tokenizer_is_refused_for_the_folder(journey):
    """Without --tokenizer the Transformer would train on the avatar tokenizer's codes: one line, no run."""
    status, out, err = journey["steps"]["no_tokenizer"]
    lines = err.strip().splitlines()
    assert status == 2 and out == "" and len(lines) == 1, err
    assert "was trained on avatars, this run trains on folder" in lines[0] and "--tokenizer" in lines[0]
    assert not journey["steps"]["no_tokenizer_left_a_run"]


@pytest.mark.parametrize("phase", ["vqgan", "transformer"])
def test_each_training_names_the_folder_it_trains_on(journey, phase):
    photos = journey["home"] / "My Celebrities"
    n_val = len(PEOPLE)
    line = f"data: folder {photos.resolve()}, {len(PEOPLE) * PHOTOS_PER_PERSON - n_val} train + {n_val} val images, 32 px, 17 classes"
    assert line in journey["steps"][phase].splitlines()


def test_a_yaml_file_gives_the_same_config_as_the_flags(journey):
    from_flags, from_yaml = journey["steps"]["configs"]
    assert from_flags == from_yaml


@pytest.mark.parametrize("phase", ["vqgan", "transformer"])
def test_each_training_writes_its_checkpoint_and_summary(journey, phase):
    run_dir = journey["results"] / "runs" / f"{phase}-{PROFILE}"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["phase"] == phase and summary["profile"] == PROFILE and summary["steps"] > 0
    payload = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert payload["class_names"] == sorted(PEOPLE)
    assert payload["config"]["data"]["dataset"] == "folder"
    if phase == "transformer":
        assert summary["classes"] == len(PEOPLE)


def test_transformer_records_the_tokenizer_it_just_trained_not_the_shipped_one(journey):
    payload = load_checkpoint(journey["transformer"])
    assert Path(payload["config"]["transformer"]["tokenizer"]) == journey["tokenizer"]
    assert payload["tokenizer_digest"] == file_digest(journey["tokenizer"])
    shipped = shipped_checkpoint("vqgan", PROFILE)
    assert not shipped.is_file() or payload["tokenizer_digest"] != file_digest(shipped)
    assert payload["model"]["embed.weight"].shape[0] == 64 + len(PEOPLE) + 2  # codes, 17 classes, [MASK], no-class


def test_sample_one_class_by_its_folder_name(journey):
    assert "10 images in" in journey["steps"]["sample"]
    with Image.open(journey["grid"]) as grid:
        assert grid.format == "PNG"
        # 10 images of 32 px in rows of 8 with 1 px gaps, enlarged 3 times
        assert grid.size == ((8 * 33 - 1) * 3, (2 * 33 - 1) * 3)


def test_a_wrong_class_is_a_one_line_error_naming_the_classes(journey):
    status, out, err = journey["steps"]["wrong_class"]
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown class 'Tom Hank'") and "Tom Hanks" in lines[0]


def test_evaluate_says_how_many_images_a_small_folder_allows(journey):
    """The default --n 2000 is more than 17 validation photos: one line with the number to use."""
    status, _, err = journey["steps"]["default_n"]
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and f"the {len(PEOPLE)} validation images, got 2000" in lines[0], err


@pytest.mark.parametrize(("step", "score"), [("eval_vqgan", "rfid"), ("eval_transformer", "fid")])
def test_evaluate_writes_scores_with_their_floor(journey, step, score):
    report = json.loads((journey["home"] / f"{step}.json").read_text())
    assert report["n"] == len(PEOPLE)
    for key in (score, "fid_floor") + (("psnr",) if step == "eval_vqgan" else ()):
        assert np.isfinite(report[key]), key
    assert report["fid_floor"] >= 0
    assert "real-vs-real floor" in journey["steps"][step]

