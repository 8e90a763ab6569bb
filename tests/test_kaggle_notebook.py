"""Notebook 00 in a fake Kaggle notebook: the install cell and the data cells, the internet on and off.

Kaggle imports one notebook from GitHub and starts it with the internet off. What tells its kernel apart
is the environment variable ``KAGGLE_KERNEL_RUN_TYPE``; the celebrity faces arrive through
``kagglehub.dataset_download``, which attaches the data set and returns its folder. Here: a Jupyter kernel
of this project's environment (a fresh virtual environment layered on it, as the Colab twin layers one on
Colab's packages, so nothing is installed into the project's own), started with that variable and with a
``kagglehub`` stand-in on its path that serves a local folder laid out like the data set.

- internet on: the install cell clones a ``file://`` repository of the working tree (as Kaggle would clone
  GitHub), then 00's setup, data and appendix cells run from the clone; the Kaggle appendix cell takes the
  kagglehub path and prepares the faces (fast profile).
- internet off: the course's URL names a host that does not resolve; the install cell's whole output is
  the one line saying how to turn the internet on, and nothing is cloned.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from . import colab_twin
from .conftest import REPO
from .kaggle_standin import CELEBRITIES, OWNER, SLUG, celebrity_folder, write_kagglehub_standin

NOTEBOOK = REPO / "notebooks" / "00_setup_and_data.ipynb"
REF = f"{OWNER}/{SLUG}"
OFFLINE_URL = "https://github.invalid/maskgit-course/maskgit-course"  # .invalid never resolves (RFC 2606)
INTERNET_OFF = ("Kaggle: this notebook needs the internet to fetch the course: turn it on in the editor's "
                "Settings → Internet (a phone-verified Kaggle account is needed), then run this cell again")
SECTIONS = ("## 1.", "## 3.", "## Appendix")  # the machine and profile, the data set, the appendix


def data_cells(notebook: Path = NOTEBOOK) -> list[str]:
    """The install cell, then the code cells of 00's sections on the profile, the data and the appendix."""
    cells = nbformat.read(notebook, as_version=4).cells
    chosen, section = [cells[1].source], ""
    for cell in cells[2:]:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            section = cell.source
        elif cell.cell_type == "code" and section.startswith(SECTIONS):
            chosen.append(cell.source)
    return chosen


@pytest.fixture(scope="module")
def kaggle(tmp_path_factory):
    """A Kaggle-like runtime over this project's environment, a kagglehub stand-in, the course as a git repository."""
    root = tmp_path_factory.mktemp("kaggle")
    mounted = celebrity_folder(root / "input" / SLUG)  # where Kaggle would mount the attached data set
    asked = root / "kagglehub-asked.txt"
    site = root / "fake-kaggle"
    write_kagglehub_standin(site, {REF: mounted}, asked)
    venv = Path(sys.prefix)
    base = colab_twin.Base(venv, colab_twin._site_packages(venv), built=False, seconds=0.0, packages={})
    colab_twin.make_course_repository(root / "origin.git")
    working = root / "kaggle" / "working"  # Kaggle's working folder
    working.mkdir(parents=True)
    runtime = colab_twin.make_runtime(root, base, f"file://{root / 'origin.git'}", working / "maskgit-course",
                                      fake_site=site, startup=None, kernel_name="kaggle-standin")
    runtime.env["KAGGLE_KERNEL_RUN_TYPE"] = "Interactive"
    runtime.env["MASKGIT_DATA_DIR"] = str(root / "data")
    return SimpleNamespace(root=root, runtime=runtime, working=working, mounted=mounted, asked=asked)


def test_the_data_cells_are_chosen():
    sources = data_cells()
    assert sources[0] == nbformat.read(NOTEBOOK, as_version=4).cells[1].source
    assert any("prepare_data(config.data)" in s for s in sources)
    assert any("kagglehub_download" in s for s in sources), "the Kaggle appendix cell is not among them"
    assert not any("maskgit_decode" in s for s in sources), "the demo (section 2) is not a data cell"


def test_internet_off_stops_with_one_line_and_clones_nothing(kaggle):
    course_dir = kaggle.working / "offline-clone"
    probe = "import os, sys; print(os.environ['KAGGLE_KERNEL_RUN_TYPE'], 'google.colab' in sys.modules)"
    outputs = colab_twin.run_cells(kaggle.runtime, [probe, data_cells()[0]], kaggle.working,
                                   {"MASKGIT_COURSE_REPO": OFFLINE_URL, "MASKGIT_COURSE_DIR": str(course_dir)})
    assert colab_twin._text(outputs[0]).strip() == "Interactive False"  # Kaggle, and not Colab
    assert len(outputs[1]) == 1, outputs[1]  # the error alone: nothing printed before it, no warning
    error = outputs[1][0]
    assert error["output_type"] == "error" and error["evalue"] == INTERNET_OFF
    assert error["traceback"] == [INTERNET_OFF], "IPython must show the one line, no traceback"
    assert not course_dir.exists()


def test_install_cell_and_data_cells_run_on_kaggle_with_the_internet_on(kaggle):
    course_dir = kaggle.working / "maskgit-course"
    check = ("import maskgit_lib, os; print(os.path.dirname(os.path.dirname(maskgit_lib.__file__)));"
             "print(faces.meta['source']['path']); print(faces.class_names)")
    sources = data_cells()
    outputs = colab_twin.run_cells(kaggle.runtime, [*sources, check], kaggle.working)
    errors = [(i, colab_twin._error(o)) for i, o in enumerate(outputs) if colab_twin._error(o)]
    assert not errors, "\n".join(f"cell {i}: {e['ename']}: {e['evalue']}\n{sources[i][:200]}" for i, e in errors)
    assert (course_dir / ".git").is_dir(), "the install cell did not clone the course into /kaggle/working"
    imported_from, faces_path, class_names = colab_twin._text(outputs[-1]).strip().splitlines()
    assert Path(imported_from) == course_dir, "the notebook imported maskgit_lib from elsewhere than the clone"
    assert kaggle.asked.read_text().split() == [REF], "the appendix did not ask kagglehub for the data set"
    assert faces_path == str(kaggle.mounted)
    assert ast.literal_eval(class_names) == sorted(CELEBRITIES)
    appendix = colab_twin._text(outputs[-2])
    assert appendix.startswith(f"{len(CELEBRITIES)} people: "), appendix
    assert not (kaggle.root / "data" / "downloads").exists(), "downloaded with a token instead of kagglehub"
