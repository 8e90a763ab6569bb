"""The two editions: learner/ is what tools/make_learner_edition.py makes of notebooks/, its stubs make
every checker say "not yet" (no exception stops the notebook), and the solutions make every checker pass.

The exercise cells (those with a solution block) and the check cells (those that call a
``maskgit_lib.course.graders.check_*``) are executed in order in one namespace per notebook, without a
kernel: seconds, where running every learner notebook under nbval would take minutes.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re

import matplotlib
import nbformat
import pytest

from .conftest import REPO

matplotlib.use("Agg")

_spec = importlib.util.spec_from_file_location("make_learner_edition", REPO / "tools" / "make_learner_edition.py")
edition = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(edition)

SOURCES = edition.source_notebooks()
EXERCISE_NOTEBOOKS = [p for p in SOURCES if p.name[:2] in {"01", "02", "03", "04", "05", "06", "07"}]
GRADED_NOTEBOOKS = [p for p in SOURCES if edition.BEGIN in p.read_text()]
CHECK_CALL = re.compile(r"\bcheck_\w+\(")


def _is_check(cell) -> bool:
    return cell.cell_type == "code" and bool(CHECK_CALL.search(cell.source)) and "maskgit_lib.course.graders import" in cell.source


def _graded_cells(notebook, edition_cells=None) -> list[tuple[str, str]]:
    """(kind, source) of the exercise and check cells of a complete notebook, in order; with
    ``edition_cells`` (the learner edition's cells), the sources are taken from those."""
    cells = []
    for index, cell in enumerate(notebook.cells):
        source = (edition_cells[index] if edition_cells is not None else cell).source
        if cell.cell_type == "code" and edition.has_solution(cell.source):
            cells.append(("exercise", source))
        elif _is_check(cell):
            cells.append(("check", source))
    return cells


def _run_graded(cells: list[tuple[str, str]]) -> list[str]:
    """Execute the cells in one namespace; return what each check cell printed. (The schedule registry,
    which an exercise extends, is restored afterwards.)"""
    from maskgit_lib.generator.masking import SCHEDULES

    saved = dict(SCHEDULES)
    namespace: dict = {"__name__": "__main__"}
    printed = []
    try:
        for kind, source in cells:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(compile(source, f"<{kind} cell>", "exec"), namespace)
            if kind == "check":
                printed.append(buffer.getvalue())
    finally:
        SCHEDULES.clear()
        SCHEDULES.update(saved)
    return printed


def test_learner_edition_is_in_sync_with_the_notebooks():
    stale = edition.out_of_sync()
    assert not stale, f"learner/ is out of sync with notebooks/ ({', '.join(stale)}): run `make learner`"


@pytest.mark.parametrize("path", EXERCISE_NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_has_a_stub_and_a_check_right_after_it(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    exercises = [i for i, cell in enumerate(code) if edition.has_solution(cell.source)]
    assert len(exercises) >= 2, f"{path.name}: at least two exercises"
    for i in exercises:
        following = next((cell for cell in code[i + 1 :] if not edition.has_solution(cell.source)), None)
        assert following is not None and _is_check(following), (
            f"{path.name}: the exercise cell {code[i].get('id')} is not followed by a cell calling a maskgit_lib.course.graders checker")
        assert "raise NotImplementedError" in edition.learner_source(code[i].source) or "..." in edition.learner_source(code[i].source)


@pytest.mark.parametrize("path", GRADED_NOTEBOOKS, ids=lambda p: p.name)
def test_learner_stubs_make_every_checker_say_not_yet(path):
    complete = nbformat.read(path, as_version=4)
    learner = nbformat.read(REPO / "learner" / path.name, as_version=4)
    assert [cell.get("id") for cell in learner.cells] == [cell.get("id") for cell in complete.cells]
    outputs = _run_graded(_graded_cells(complete, learner.cells))
    assert outputs
    for output in outputs:
        lines = output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("✎ not yet:"), f"{path.name}: a check printed {output!r}"
    assert not any(edition.BEGIN in cell.source or edition.END in cell.source for cell in learner.cells)


@pytest.mark.parametrize("path", GRADED_NOTEBOOKS, ids=lambda p: p.name)
def test_the_solutions_make_every_checker_pass(path):
    outputs = _run_graded(_graded_cells(nbformat.read(path, as_version=4)))
    assert outputs
    for output in outputs:
        lines = output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("✓"), f"{path.name}: a check printed {output!r}"


SHOW_SOURCE = re.compile(r"\bshow_source\(([^()]|\([^()]*\))*\)")
SOURCE_AFTER_CHECK = [p for p in SOURCES if p.name[:2] in {"01", "02", "03", "04", "05", "06", "07"}]


@pytest.mark.parametrize("path", SOURCE_AFTER_CHECK, ids=lambda p: p.name)
def test_the_library_source_shows_only_once_the_check_passed(path):
    """Every ``show_source`` waits for a verdict: in the learner edition the answer is not one Shift-Enter away."""
    calls = [m.group(0) for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"
             for m in SHOW_SOURCE.finditer(cell.source) if not m.group(0).startswith("show_source(obj")]
    assert calls, f"{path.name}: no show_source call"
    ungated = [call for call in calls if "only_if=" not in call]
    assert not ungated, f"{path.name}: {ungated} show the library's code before the check passed: add only_if=<the verdict>"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_learner_notebooks_open_on_their_own_badge_and_are_stripped(path):
    learner_path = REPO / "learner" / path.name
    notebook = nbformat.read(learner_path, as_version=4)
    nbformat.validate(notebook)
    header = notebook.cells[0].source
    assert f"{edition.COLAB}learner/{path.name}" in header and f"{edition.COLAB}notebooks/{path.name}" in header
    assert f"{edition.KAGGLE}learner/{path.name}" in header and f"{edition.KAGGLE}notebooks/{path.name}" not in header
    assert "learner edition" in header
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    complete = nbformat.read(path, as_version=4)
    assert len(notebook.cells) == len(complete.cells)
    readme = (REPO / "learner" / "README.md").read_text()
    assert [readme.count(f"{site}learner/{path.name}") for site in (edition.COLAB, edition.KAGGLE)] == [1, 1]


def test_the_generator_removes_solutions_and_uncomments_stubs():
    source = "\n".join([
        "import torch",
        "",
        "def f(x):",
        '    """Doc."""',
        "    # BEGIN SOLUTION",
        "    secret = x * 2  # the answer",
        "    return secret",
        "    # STUB",
        '    # raise NotImplementedError("f: fill in the stub")',
        "    #",
        "    # return ...  # (N,)",
        "    # END SOLUTION",
        "",
        "print(f)",
    ])
    learner = edition.learner_source(source)
    assert "secret" not in learner and "BEGIN" not in learner and "STUB" not in learner
    assert '    raise NotImplementedError("f: fill in the stub")\n\n    return ...  # (N,)\n\nprint(f)' in learner
    assert learner.startswith('import torch\n\ndef f(x):\n    """Doc."""\n')


@pytest.mark.parametrize("source, message", [
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION", "every solution needs a stub"),
    ("# BEGIN SOLUTION\nx = 1\n# STUB\n# x = ...", "not closed"),
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n# STUB\n# return ...\n# END SOLUTION", "indentation"),
    ("# BEGIN SOLUTION\nx = 1\n# STUB\nx = ...\n# END SOLUTION", "commented out"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n", "nest"),
    ("#BEGIN SOLUTION\nx = 1", "looks like a marker"),
    ("# STUB\n# x = ...", "outside a solution block"),
])
def test_the_generator_rejects_malformed_markers(source, message):
    with pytest.raises(edition.MarkerError, match=message):
        edition.learner_source(source)


def test_the_header_gets_the_learner_badge_and_the_editions_line():
    name = "01_x.ipynb"
    colab = f"[![Open In Colab](badge.svg)]({edition.COLAB}notebooks/{name})"
    kaggle = f"[![Open In Kaggle](badge.svg)]({edition.KAGGLE}notebooks/{name})"
    header = f"# 01 · X\n\n{colab} {kaggle}\n\nText."
    learner = edition.learner_header(header, name)
    assert f"]({edition.COLAB}learner/{name})" in learner and edition.learner_editions_line(name) in learner
    assert f"]({edition.KAGGLE}learner/{name})" in learner and "notebooks/" not in learner.split("**Two")[0]
    assert learner.count(edition.EDITIONS_PREFIX) == 1
    with pytest.raises(edition.MarkerError, match="no Kaggle badge"):
        edition.learner_header(header.replace(kaggle, ""), name)
    with_line = header + "\n\n" + edition.complete_editions_line(name)
    learner = edition.learner_header(with_line, name)
    assert learner.count(edition.EDITIONS_PREFIX) == 1 and "complete edition, with every solution" not in learner
