"""Training progress as images: a learner's own run first, else the profile's reference run, earliest first."""

import json

import matplotlib
import numpy as np
import pytest
from PIL import Image

from maskgit_lib.course import training_progress
from maskgit_lib.course.training_progress import (
    pick_steps,
    plot_training_progress,
    progress_images,
    run_grids,
)

matplotlib.use("Agg")


def _grid(path, width=64, height=8):
    Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(path)


def test_run_grids_are_sorted_by_step_and_ignore_other_files(tmp_path):
    for name in ("recon_001000.png", "recon_000500.png", "curves.png", "recon_notes.png"):
        _grid(tmp_path / name)
    assert [step for step, _ in run_grids(tmp_path)] == [500, 1000]
    assert run_grids(tmp_path / "missing") == []


def test_pick_steps_keeps_first_and_last():
    grids = [(step, None) for step in range(500, 4000, 500)]  # 7 grids
    picked = [step for step, _ in pick_steps(grids, 4)]
    assert picked[0] == 500 and picked[-1] == 3500 and len(picked) == 4
    assert pick_steps(grids[:2], 4) == grids[:2]


def test_own_run_wins_over_the_reference_run(tmp_path, monkeypatch):
    reference = tmp_path / "results" / "progress" / "vqgan-cpu"
    reference.mkdir(parents=True)
    _grid(reference / "recon_000500.png")
    (reference / "run.json").write_text(json.dumps({"command": "maskgit train", "machine": "reference CPU"}))
    monkeypatch.setattr(training_progress, "shipped_results_dir", lambda: tmp_path / "results")
    own = tmp_path / "run"
    own.mkdir()
    assert "reference run" in progress_images(own, "vqgan", "cpu").origin  # an empty run folder: the reference
    _grid(own / "recon_000250.png")
    chosen = progress_images(own, "vqgan", "cpu")
    assert chosen.origin.startswith("grids of your run") and chosen.grids[0][0] == 250
    shipped = progress_images(None, "vqgan", "cpu")
    assert "`maskgit train` on the reference CPU" in shipped.origin and shipped.grids[0][0] == 500
    nothing = progress_images(None, "transformer", "cpu")
    assert nothing.grids == [] and "no grids" in nothing.origin
    with pytest.raises(ValueError, match="no grids"):
        plot_training_progress(nothing)


def test_wide_grids_stack_and_square_grids_sit_side_by_side(tmp_path):
    (tmp_path / "tok").mkdir()
    (tmp_path / "gen").mkdir()
    for step in (500, 1000, 1500):
        _grid(tmp_path / "tok" / f"recon_{step:06d}.png", width=64, height=8)
        _grid(tmp_path / "gen" / f"samples_{step:06d}.png", width=32, height=32)
    wide = plot_training_progress(training_progress.ProgressImages(run_grids(tmp_path / "tok"), "x"))
    assert len(wide.axes) == 3 and wide.axes[0].get_position().y0 > wide.axes[1].get_position().y0
    square = plot_training_progress(training_progress.ProgressImages(run_grids(tmp_path / "gen"), "x"))
    assert square.axes[0].get_position().x0 < square.axes[1].get_position().x0
    assert square.axes[0].get_title() == "step 500"
