"""Training progress as images (notebooks 02 and 04): what a run looked like at its validation steps.

Why: a loss curve says *that* a run improves; the images say *how*: blurry blobs, then shapes, then
detail. Every run already writes one grid per validation step (``recon_<step>.png`` for the tokenizer:
originals over reconstructions; ``samples_<step>.png`` for the Transformer: one row per class). This
module finds those grids and lays a few of them out, earliest step first.

A shipped checkpoint has no run folder. Its notebook then shows the grids of a **reference run** of the
same profile's recipe (``results/progress/<phase>-<profile>/``, with ``run.json`` saying which command
and which machine made them): the images a learner's own ``TRAIN = True`` run writes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from maskgit_lib.paths import shipped_results_dir

_GRID_NAME = re.compile(r"^(recon|samples)_(\d+)\.png$")


@dataclass(frozen=True)
class ProgressImages:
    """The grids of one run, by step, and where they come from (one line for the notebook to print)."""

    grids: list[tuple[int, Path]]  # (step, file), earliest first
    origin: str


def run_grids(folder: Path) -> list[tuple[int, Path]]:
    """Every ``recon_<step>.png`` / ``samples_<step>.png`` in ``folder``, by step."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(2)), path) for path in folder.iterdir() if (m := _GRID_NAME.match(path.name))]
    return sorted(found)


def reference_run_dir(phase: str, profile: str) -> Path:
    return shipped_results_dir() / "progress" / f"{phase}-{profile}"


def progress_images(run_dir: Path | None, phase: str, profile: str) -> ProgressImages:
    """The grids of ``run_dir`` (a learner's run) if it has any, else those of the profile's reference run."""
    own = run_grids(run_dir) if run_dir is not None else []
    if own:
        return ProgressImages(own, f"grids of your run {run_dir}")
    reference = reference_run_dir(phase, profile)
    grids = run_grids(reference)
    if not grids:
        return ProgressImages([], f"no grids: no run of the {phase} phase in the {profile!r} profile has written any yet")
    about = json.loads((reference / "run.json").read_text()) if (reference / "run.json").is_file() else {}
    words = f"`{about['command']}` on the {about['machine']}" if about else "the profile's recipe"
    return ProgressImages(grids, f"grids of a reference run of this profile's recipe ({words}), as TRAIN = True would write them")


def pick_steps(grids: list[tuple[int, Path]], n_shown: int) -> list[tuple[int, Path]]:
    """``n_shown`` grids spread evenly from the first to the last step (both always included)."""
    if len(grids) <= n_shown:
        return grids
    picks = np.linspace(0, len(grids) - 1, n_shown).round().astype(int)
    return [grids[i] for i in sorted(set(picks.tolist()))]


def plot_training_progress(progress: ProgressImages, n_shown: int = 4):
    """The chosen grids, each labelled with its step: wide grids (reconstructions) one above the other,
    square ones (samples, a row per class) side by side."""
    shown = pick_steps(progress.grids, n_shown)
    if not shown:
        raise ValueError(progress.origin)
    pictures = [np.asarray(Image.open(path).convert("RGB")) for _, path in shown]  # each (H, W, 3)
    height, width = pictures[-1].shape[:2]
    wide = width > 2 * height
    shape, size = ((len(shown), 1), (12, (12 * height / width + 0.3) * len(shown))) if wide else ((1, len(shown)), (3 * len(shown), 3.3))
    fig, axes = plt.subplots(*shape, figsize=size, squeeze=False)
    for ax, (step, _), pixels in zip(axes.flat, shown, pictures, strict=True):
        ax.imshow(pixels, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"step {step:,}", loc="left" if wide else "center", fontsize=9)
    fig.tight_layout()
    return fig
