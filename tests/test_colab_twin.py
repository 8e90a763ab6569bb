"""The notebooks' Colab install cell, and the Colab twin that runs the course in Colab's package versions.

The quick checks run everywhere. The twin itself (tests/colab_twin.py: a Python 3.13 environment, minutes)
runs with ``make colab-twin``, which CI runs; elsewhere it is skipped with that reason.
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
import types

import nbformat
import pytest
from packaging.requirements import Requirement

from . import colab_twin
from .conftest import REPO


def install_cells() -> dict[str, str]:
    return {path.name: nbformat.read(path, as_version=4).cells[1].source for path in colab_twin.NOTEBOOKS}


def test_every_notebook_has_the_same_install_cell():
    cells = install_cells()
    assert len(cells) == len(sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))) == 9
    first = cells["00_setup_and_data.ipynb"]
    assert '"google.colab" in sys.modules' in first
    assert [name for name, source in cells.items() if source != first] == [], "cell 1 differs from notebook 00's"


def test_dependency_ranges_admit_colab_versions():
    """pip keeps a package Colab has only if the course's range admits Colab's version."""
    colab = colab_twin.colab_versions()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    checked = {}
    for line in project["dependencies"]:
        requirement = Requirement(line)
        version = colab.get(colab_twin.canonical(requirement.name))
        if version:
            checked[requirement.name] = version
            assert requirement.specifier.contains(version, prereleases=True), f"{line} excludes Colab's {version}"
    assert {"torch", "ipywidgets", "numpy", "matplotlib", "kaggle"} <= set(checked)


def test_failed_clone_is_one_clear_line(tmp_path, monkeypatch):
    """A clone that fails stops the cell with one line that says what failed and what to do."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setenv("MASKGIT_COURSE_REPO", colab_twin.BAD_REPO_URL)
    monkeypatch.setenv("MASKGIT_COURSE_DIR", str(tmp_path / "maskgit-course"))
    with pytest.raises(RuntimeError) as error:
        exec(install_cells()["00_setup_and_data.ipynb"], {})
    message = str(error.value)
    assert "\n" not in message and colab_twin.BAD_REPO_URL in message and "internet" in message, message
    assert not (tmp_path / "maskgit-course").exists()


@pytest.mark.skipif(os.environ.get("MASKGIT_COLAB_TWIN") != "1",
                    reason="the Colab twin builds a Python 3.13 environment: run it with `make colab-twin` (CI does)")
def test_colab_twin():
    report = colab_twin.run_twin()
    print(json.dumps({k: report[k] for k in ("course", "python", "base", "failed_clone", "seconds")}, indent=1))
    print("install cell added:", ", ".join(f"{n}=={v}" for n, v in report["install_cell"]["added"].items()))
    install = report["install_cell"]
    assert install["error"] is None, install["output"]
    assert install["changed"] == {} and install["removed"] == [], "the install cell changed packages Colab has"
    assert install["added_but_colab_has"] == [], "the twin lacks Colab packages the install pulls in: widen KERNEL_STACK"
    assert "maskgit-course" in install["added"] and "lpips" in install["added"]
    assert report["after_notebooks"]["changed"] == {} and report["after_notebooks"]["removed"] == []
    clone = report["failed_clone"]
    assert clone["google_colab_imported"], "the fake google.colab was not imported in the kernel"
    assert clone["error"] and clone["error"].startswith("RuntimeError: could not clone") and clone["one_line"], clone
    assert clone["nothing_installed"]
    notebooks = report["notebooks"]
    assert notebooks["returncode"] == 0, notebooks["output_tail"]
    assert len(notebooks["notebooks"]) == len(colab_twin.NOTEBOOKS) == 9 and all(n["returncode"] == 0 for n in notebooks["notebooks"].values())
