"""Generate the course's learner edition from the complete notebooks: one source, two editions.

    python tools/make_learner_edition.py            # (re)write learner/ from notebooks/
    python tools/make_learner_edition.py --check    # exit 1 if learner/ differs from what notebooks/ generate

The complete notebooks (``notebooks/NN_*.ipynb``) are the source: nbval and ``make course`` run
them. In their code cells every piece the learner writes is a marked block:

    def quantize(z, codebook):
        \"\"\"...\"\"\"
        # BEGIN SOLUTION
        distances = (z[:, None] - codebook[None]).pow(2).sum(-1)  # (N, K)
        ...
        # STUB
        # raise NotImplementedError("quantize: fill in the stub, then delete this line")
        # distances = ...  # (N, K)
        # END SOLUTION

- ``# BEGIN SOLUTION`` … ``# STUB``: the solution. The learner edition leaves it out entirely
  (removed, not hidden: nothing of it is in the file).
- ``# STUB`` … ``# END SOLUTION``: what the learner gets instead, commented out with "# " at the
  markers' indentation, so the complete edition runs the solution. The learner edition uncomments it.
- The three markers sit at the same indentation; a block always has a stub; blocks do not nest.
  A stub raises NotImplementedError inside a function, never at the top level, so a learner can
  run the whole notebook before filling anything in: the checker cell after it prints "not yet".

The first markdown cell changes too: its Colab and Kaggle badges open the learner copy, and its line starting
with ``**Two editions.**`` (added when missing) points back at the complete edition.
The learner edition lives in ``learner/`` (outside ``notebooks/``, which nbval collects) with a
README; both are committed, and tests/test_learner_edition.py checks that they are in sync.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
SOURCE_DIR = REPO / "notebooks"
LEARNER_DIR = REPO / "learner"
GITHUB = "https://github.com/maskgit-course/maskgit-course/blob/main/"
COLAB = "https://colab.research.google.com/github/maskgit-course/maskgit-course/blob/main/"
KAGGLE = f"https://kaggle.com/kernels/welcome?src={GITHUB}"  # Kaggle imports the notebook from its GitHub URL
COLAB_BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
KAGGLE_BADGE = "[![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)]"
BEGIN, STUB, END = "# BEGIN SOLUTION", "# STUB", "# END SOLUTION"
EDITIONS_PREFIX = "**Two editions.**"


class MarkerError(ValueError):
    """A solution block that the generator cannot turn into a stub unambiguously."""


def source_notebooks(source_dir: Path = SOURCE_DIR) -> list[Path]:
    return sorted(source_dir.glob("[0-9][0-9]_*.ipynb"))


def complete_editions_line(name: str) -> str:
    return (f"{EDITIONS_PREFIX} This is the complete edition, with every solution. To write the core pieces "
            f"yourself, open the [learner edition]({COLAB}learner/{name}): a stub in place of each solution, "
            "and a checker after it.")


def learner_editions_line(name: str) -> str:
    return (f"{EDITIONS_PREFIX} This is the learner edition: the cells marked ✍️ are yours to write. Each stub "
            "raises `NotImplementedError` until you fill it in; the cell after it compares your version with the "
            "library's and prints one line, ✓ or what differs, with a hint. The "
            f"[complete edition]({COLAB}notebooks/{name}) has the solutions.")


def learner_source(source: str, where: str = "cell") -> str:
    """The learner's version of one code cell: solutions out, stubs uncommented."""
    out: list[str] = []
    state, indent = "code", ""
    for number, line in enumerate(source.split("\n"), 1):
        stripped = line.strip()
        here = f"{where}, line {number}"
        if stripped in (BEGIN, STUB, END):
            line_indent = line[: len(line) - len(line.lstrip())]
            if stripped == BEGIN:
                if state != "code":
                    raise MarkerError(f"{here}: {BEGIN} inside another solution block (blocks do not nest)")
                state, indent = "solution", line_indent
                continue
            if line_indent != indent:
                raise MarkerError(f"{here}: {stripped} is not at the indentation of its {BEGIN}")
            if stripped == STUB:
                if state != "solution":
                    raise MarkerError(f"{here}: {STUB} outside a solution block")
                state = "stub"
            else:
                if state != "stub":
                    raise MarkerError(f"{here}: {END} before the block's {STUB}: every solution needs a stub")
                state = "code"
            continue
        if stripped.startswith("#") and re.search(r"\b(BEGIN|END)\s+SOLUTION\b|^#\s*STUB\b", stripped):
            raise MarkerError(f"{here}: {stripped!r} looks like a marker but is not exactly one of "
                              f"{BEGIN!r}, {STUB!r}, {END!r}")
        if state == "solution":
            continue
        if state == "stub":
            if not line.startswith(indent + "#"):
                raise MarkerError(f"{here}: stub lines are commented out with '# ' at the markers' indentation")
            rest = line[len(indent) + 1 :]
            rest = rest[1:] if rest.startswith(" ") else rest
            out.append(indent + rest if rest else "")  # a bare "#" is an empty line
            continue
        out.append(line)
    if state != "code":
        raise MarkerError(f"{where}: a solution block is not closed with {END}")
    return "\n".join(out)


def has_solution(source: str) -> bool:
    return any(line.strip() == BEGIN for line in source.split("\n"))


def learner_header(source: str, name: str) -> str:
    """The first markdown cell: the badges open the learner copy; the editions line points back."""
    lines = source.split("\n")
    badges = {f"{site}notebooks/{name}": f"{site}learner/{name}" for site in (COLAB, KAGGLE)}
    for runtime, badge in zip(("Colab", "Kaggle"), badges, strict=True):
        if not any(badge in line for line in lines):
            raise MarkerError(f"{name}: the first cell has no {runtime} badge for {badge}")
    has_line = any(line.startswith(EDITIONS_PREFIX) for line in lines)
    out = []
    for line in lines:
        if line.startswith(EDITIONS_PREFIX):
            out.append(learner_editions_line(name))
            continue
        badged = any(badge in line for badge in badges)
        for badge, learner_badge in badges.items():
            line = line.replace(badge, learner_badge)
        out.append(line)
        if badged and not has_line:
            out += ["", learner_editions_line(name)]
            has_line = True
    return "\n".join(out)


def learner_notebook(notebook: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The learner edition of one complete notebook (a new object; the input is left alone)."""
    learner = copy.deepcopy(notebook)
    for index, cell in enumerate(learner.cells):
        if index == 0 and cell.cell_type == "markdown":
            cell.source = learner_header(cell.source, name)
        elif cell.cell_type == "code" and has_solution(cell.source):
            cell.source = learner_source(cell.source, f"{name}, cell {index} (id {cell.get('id')})")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return learner


def readme(names: list[str]) -> str:
    rows = "\n".join(
        f"| [{name.removesuffix('.ipynb')}]({name}) | {COLAB_BADGE}({COLAB}learner/{name}) | {KAGGLE_BADGE}({KAGGLE}learner/{name}) "
        f"| [complete edition](../notebooks/{name}) |"
        for name in names
    )
    return f"""# Learner edition

Generated by `make learner` (`tools/make_learner_edition.py`) from the complete notebooks in
[`notebooks/`](../notebooks): do not edit these copies, edit the source and regenerate.

Here the core pieces of MaskGIT are yours to write: the nearest-code lookup and the
straight-through estimator, the VQ loss with its stop-gradients, the EMA codebook update, the
adaptive GAN weight and the hinge losses, the decoding budget, per-example masking, the masked loss
and one whole training step, one decoding step, and inpainting with it. Each ✍️ cell holds a stub
that raises `NotImplementedError`; the cell after it calls a checker (`maskgit_lib.course.graders`)
that runs your function and the library's on random inputs and prints one line: `✓ matches …`, or
what differs and a hint (and, if your code raised, the line of it that did). Once your check
passes, the notebook shows the library's version; until then it waits in a collapsed block you open
on purpose. The notebook uses the library's version either way, so it runs to the end whether or
not your stubs are filled in.

| notebook | Colab | Kaggle | solutions |
|---|---|---|---|
{rows}
"""


def generate(source_dir: Path = SOURCE_DIR) -> dict[str, str]:
    """Every file of the learner edition: file name → text."""
    files = {}
    paths = source_notebooks(source_dir)
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        files[path.name] = nbformat.writes(learner_notebook(notebook, path.name)) + "\n"
    files["README.md"] = readme([p.name for p in paths])
    return files


def _same(name: str, expected: str, actual: str) -> bool:
    if name.endswith(".ipynb"):  # compare content, not JSON whitespace
        return json.loads(expected) == json.loads(actual)
    return expected == actual


def out_of_sync(learner_dir: Path = LEARNER_DIR, source_dir: Path = SOURCE_DIR) -> list[str]:
    """Files of ``learner_dir`` that differ from what the source generates (missing and extra ones too)."""
    wanted = generate(source_dir)
    present = {p.name for p in learner_dir.glob("*") if p.is_file()} if learner_dir.is_dir() else set()
    stale = [name for name, text in wanted.items()
             if name not in present or not _same(name, text, (learner_dir / name).read_text())]
    return sorted(stale + [name for name in present - set(wanted)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that learner/ is in sync; exit 1 if not")
    args = parser.parse_args(argv)
    if args.check:
        stale = out_of_sync()
        if stale:
            print(f"learner/ is out of sync with notebooks/: {', '.join(stale)}; run `make learner`")
            return 1
        print("learner/ is in sync with notebooks/")
        return 0
    LEARNER_DIR.mkdir(exist_ok=True)
    files = generate()
    for stale in {p.name for p in LEARNER_DIR.glob("*") if p.is_file()} - set(files):
        (LEARNER_DIR / stale).unlink()
    for name, text in files.items():
        (LEARNER_DIR / name).write_text(text)
    print(f"wrote the learner edition: {len(files) - 1} notebooks and a README in {LEARNER_DIR.relative_to(REPO)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
