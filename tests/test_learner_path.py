"""Issue #12: what a learner trains flows from notebook to notebook. With ``TRAIN = True`` in 02 and 04
(fast profile), 04 trains on the tokenizer from 02, and 05, 06 and 07 sample from the Transformer from 04;
each notebook says which model it uses. Runs the notebooks headless, as `make course` does."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

from notebook_client import CourseNotebookClient  # noqa: E402


def run(name: str, train: bool = False) -> str:
    """Execute one notebook (optionally with its TRAIN switch on); return all its text output."""
    path = REPO / "notebooks" / name
    nb = nbformat.read(path, as_version=4)
    switches = [c for c in nb.cells if c.cell_type == "code" and "\nTRAIN = False" in "\n" + c.source]
    if train:
        assert len(switches) == 1, f"{name}: expected one TRAIN switch"
        switches[0].source = switches[0].source.replace("TRAIN = False", "TRAIN = True")
    CourseNotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return "\n".join(out.get("text", "") for c in nb.cells if c.cell_type == "code" for out in c.outputs)


@pytest.fixture
def learner_env(tmp_path, monkeypatch):
    """A learner's results folder that starts empty; the kernels inherit the environment."""
    monkeypatch.setenv("MASKGIT_PROFILE", "fast")
    monkeypatch.setenv("MASKGIT_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("MASKGIT_NO_TRAINING", raising=False)
    return tmp_path / "results"


def test_the_learners_own_models_flow_from_02_to_07(learner_env, monkeypatch):
    # Before any training: 05 uses the shipped pair and trains nothing (training is forbidden here).
    monkeypatch.setenv("MASKGIT_NO_TRAINING", "1")
    assert "Transformer: shipped results/checkpoints/transformer-fast.ckpt" in run("05_iterative_decoding.ipynb")
    monkeypatch.delenv("MASKGIT_NO_TRAINING")

    out02 = run("02_vqgan.ipynb", train=True)
    assert "tokenizer: trained now" in out02
    tokenizer_run = next((learner_env / "runs").glob("vqgan-fast-*"))

    out04 = run("04_transformer.ipynb", train=True)
    assert f"tokenizer: your run results/runs/{tokenizer_run.name}" in out04
    assert "Transformer: trained now" in out04 and f"trained on your tokenizer results/runs/{tokenizer_run.name}" in out04
    transformer_run = next((learner_env / "runs").glob("transformer-fast-*"))

    monkeypatch.setenv("MASKGIT_NO_TRAINING", "1")  # 05, 06 and 07 must use it, not train again
    for name in ("05_iterative_decoding.ipynb", "06_editing.ipynb", "07_evaluation.ipynb"):
        out = run(name)
        assert "Transformer: your run" in out and transformer_run.name in out, name
