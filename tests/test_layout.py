"""The package's layout (issue #20): a folder per course stage, the shared engine at the root, and
imports that run one way, data → tokenizer → generator → text → evaluation → course → cli.

The imports are read from the source (``ast``), not executed, so a function-local import counts like a
top-level one; only ``if TYPE_CHECKING:`` blocks (annotations, never run) are exempt.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from maskgit_lib.config import load_config

from .conftest import REPO

PACKAGE = REPO / "maskgit_lib"
# The order the course teaches, and the only direction imports may take. The engine (the root's
# modules) comes first: it serves every stage and imports none of them.
STAGES = ["engine", "data", "tokenizer", "generator", "text", "evaluation", "course", "cli"]
# What only the notebooks need, and the command line: no stage imports these.
NOTEBOOK_ONLY = ("maskgit_lib.course", "maskgit_lib.cli")


def stage_of(module: str) -> str:
    """``maskgit_lib.generator.decoding`` → ``generator``; a root module → ``engine`` (``cli`` and
    ``__main__``, the command line, come last)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "engine"  # the package's own __init__
    if parts[1:2] in (["cli"], ["__main__"]):
        return "cli"
    if len(parts) > 2 or (PACKAGE / parts[1]).is_dir():
        return parts[1]
    return "engine"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, module) of every ``maskgit_lib`` import in ``source``, at any depth, outside TYPE_CHECKING."""
    found = []

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("maskgit_lib"):
            for alias in node.names:  # `from maskgit_lib.tokenizer import train` imports the module `train`
                candidate = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / (candidate.replace(".", "/") + ".py")).exists()
                found.append((node.lineno, candidate if is_module else node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names if a.name.startswith("maskgit_lib"))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def violations(module: str, source: str) -> list[str]:
    """Every import in ``source`` (the text of ``module``) that breaks the one-way rule, as a message."""
    me = stage_of(module)
    found = []
    for line, target in imported_modules(source):
        theirs = stage_of(target)
        where = f"{module}:{line} imports {target}"
        if STAGES.index(theirs) > STAGES.index(me):
            found.append(f"{where}: {me} comes before {theirs} in the course")
        if me not in ("course", "cli") and target.startswith(NOTEBOOK_ONLY):
            found.append(f"{where}: only notebooks use the course's helpers")
        if me in ("engine", "data", "tokenizer", "generator") and target.endswith(".train") and theirs != me:
            found.append(f"{where}: a stage reads another stage's models, never its trainer")
    return found


# The root's modules, each a part of the engine every stage shares; a new one is argued for here.
ENGINE = {
    "config.py", "checkpoint.py", "paths.py", "system.py",  # settings, files, where things live, the machine
    "trainer.py", "ema.py", "precision.py", "distributed.py", "progress.py",  # the training loop and its parts
    "figures.py",  # image grids and training curves, drawn by every stage's trainer
    "cli.py",  # the `maskgit` command over all stages
}
SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_stage_has_its_folder_and_the_root_keeps_only_the_engine():
    for stage in STAGES[1:-1]:
        assert (PACKAGE / stage / "__init__.py").is_file(), f"maskgit_lib/{stage}/ is missing"
    root = {p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    assert root == ENGINE, f"the root holds only the shared engine; not in it: {sorted(root - ENGINE)}, gone: {sorted(ENGINE - root)}"
    assert not [p for p in PACKAGE.iterdir() if p.is_dir() and p.name not in (*STAGES, "configs", "__pycache__")]


def test_every_stage_says_what_it_is_and_which_notebooks_teach_it():
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init.relative_to(REPO)} has no docstring"
        if init.parent.name != "course":
            assert re.search(r"notebooks? \d\d", doc), f"{init.relative_to(REPO)} does not name its notebooks"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_one_way(path):
    assert violations(module_name(path), path.read_text()) == []


def test_the_rule_catches_imports_that_run_backwards():
    """The check must be able to fail: each kind of wrong import is named."""

    def said(module: str, source: str, words: str) -> bool:
        return any(words in message for message in violations(module, source))

    backward = "def f():\n    from maskgit_lib.generator.masking import gamma\n"  # inside a function too
    assert said("maskgit_lib.tokenizer.vqgan", backward, "tokenizer comes before generator")
    assert said("maskgit_lib.generator.tokens", "from maskgit_lib.tokenizer import train\n", "never its trainer")
    assert said("maskgit_lib.evaluation.bench", "from maskgit_lib.course import graders\n", "only notebooks")
    assert said("maskgit_lib.trainer", "from maskgit_lib.data.prepared import PreparedData\n", "engine comes before data")
    typing_only = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from maskgit_lib.data.prepared import PreparedData\n"
    assert violations("maskgit_lib.trainer", typing_only) == []
    assert violations("maskgit_lib.evaluation.bench", "from maskgit_lib.tokenizer.train import VQGANTrainer\n") == []


def test_a_wheel_carries_every_stage_and_the_profiles(tmp_path):
    """Build the wheel as a user's pip would, install it into a fresh virtual environment, and import
    every subpackage and load a profile from the installed copy (not from this checkout)."""
    import shutil
    import subprocess
    import sys
    import sysconfig

    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(PACKAGE, source / "maskgit_lib", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", source], check=True)
    wheel = next((tmp_path / "dist").glob("maskgit_course-*.whl"))
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", fresh], check=True)
    python = fresh / "bin" / "python"
    subprocess.run([*pip, "--python", python, "install", "--no-deps", "--no-index", wheel], check=True)
    # The dependencies (torch, ...) come from this environment's site-packages, appended after the
    # fresh one's, so `maskgit_lib` itself can only be the wheel's.
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    probe = (
        "import importlib, maskgit_lib\n"
        f"assert maskgit_lib.__file__.startswith({str(fresh)!r}), maskgit_lib.__file__\n"
        "for stage in ('data', 'tokenizer', 'generator', 'text', 'evaluation', 'course', 'course.graders', 'cli'):\n"
        "    importlib.import_module('maskgit_lib.' + stage)\n"
        "from maskgit_lib.config import load_config\n"
        "from maskgit_lib.data.attributes import captioned_attributes\n"  # the attribute map ships too
        "print(load_config('cpu').transformer.width, load_config('fast').data.image_size_px, captioned_attributes()[0])\n"
    )
    out = subprocess.run([python, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [str(load_config("cpu").transformer.width), str(load_config("fast").data.image_size_px), "style"]
    assert (fresh / "bin" / "maskgit").exists(), "the wheel installs the `maskgit` command"


def test_architecture_names_only_paths_that_exist():
    """ARCHITECTURE.md stays true: every folder and file it names in backticks exists."""
    text = (REPO / "ARCHITECTURE.md").read_text()
    named = set(re.findall(r"`((?:maskgit_lib|tests|tools|notebooks|learner|results|data)/[\w./-]*)`", text))
    assert len(named) > 20, "ARCHITECTURE.md should name the stages' folders and files"
    missing = [path for path in sorted(named) if "NN" not in path and not (REPO / path.split("<")[0]).exists()]
    assert missing == [], f"ARCHITECTURE.md names paths that do not exist: {missing}"
    # a module named with its stage folder in the table (`quantize.py` in the tokenizer's row) exists too
    for row in re.findall(r"^\| `maskgit_lib/(\w*)/?` (?:\(root\) )?\|(.*)$", text, re.M):
        folder, cells = row
        for name in re.findall(r"`([\w/]+\.py)`", cells):
            assert (PACKAGE / folder / name).exists(), f"ARCHITECTURE.md: maskgit_lib/{folder}/{name} does not exist"
    for folder in ("data", "tokenizer", "generator", "evaluation", "course"):
        assert f"`maskgit_lib/{folder}/`" in text, f"ARCHITECTURE.md does not describe maskgit_lib/{folder}/"
