"""Where the course keeps prepared data, weight caches and results.

In a checkout of the repository (``pip install -e .``, ``make``) everything lives beside the code:
``<repo>/data`` and ``<repo>/results``. Installed elsewhere (Colab), the current directory is used.
``MASKGIT_DATA_DIR`` / ``MASKGIT_RESULTS_DIR`` override both, e.g. to point at a shared disk.
"""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path | None:
    """The repository checkout this package was imported from, if it was imported from one."""
    candidate = Path(__file__).resolve().parent.parent
    if (candidate / "pyproject.toml").is_file() and (candidate / "notebooks").is_dir():
        return candidate
    return None


def _base(env_var: str, name: str) -> Path:
    if os.environ.get(env_var):
        return Path(os.environ[env_var]).expanduser()
    root = repo_root()
    return (root if root is not None else Path.cwd()) / name


def data_dir() -> Path:
    """Prepared data sets (cached uint8 arrays), Kaggle downloads, converted weights."""
    return _base("MASKGIT_DATA_DIR", "data")


def results_dir() -> Path:
    """Checkpoints, figures, executed notebooks, benchmark JSON."""
    return _base("MASKGIT_RESULTS_DIR", "results")


def shipped_results_dir() -> Path:
    """What comes with the course (shipped checkpoints, their evaluation reports, benchmarks): the
    checkout's ``results/`` even when ``MASKGIT_RESULTS_DIR`` sends the learner's own runs elsewhere."""
    root = repo_root()
    return root / "results" if root is not None else results_dir()


def figures_dir(profile: str) -> Path:
    """Figures quoted by the README come from the real profiles; ``fast`` writes to a scratch folder."""
    folder = results_dir() / ("fast/figures" if profile == "fast" else "figures")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
