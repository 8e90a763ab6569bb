"""The Colab twin: Colab's runtime rebuilt on this machine, to run the course as a Colab learner does.

``make colab-twin`` (CI runs it) builds it and runs ``tests/test_colab_twin.py``; ``python -m tests.colab_twin``
runs it alone and prints the report. Three layers:

1. **base** (cached, built once per key): a Python 3.13 virtual environment holding Colab's versions
   (``tests/colab/pip-freeze-gpu.txt``, Google's published freeze) of every package the course touches:
   the course's dependencies that Colab has, whatever they pull in (resolved by pip under Colab's versions
   as constraints), the Jupyter kernel stack (ipykernel, ipython, jupyter_client, pyzmq, ...) and Colab's pip.
   torch and torchvision stand in at the versions this machine serves (``constraints.txt``) for Colab's CUDA
   build; what that stand-in brings with it (setuptools, triton, nvidia-* for CUDA 13) is listed in the report.
2. **runtime** (fresh every run): a virtual environment on top of the base (a ``.pth`` file adds the base's
   site-packages), so what the install cell installs lands there and the base stays as Colab has it; a fake
   ``google.colab`` package imported when the kernel starts (an IPython startup file), so the notebooks'
   ``if "google.colab" in sys.modules:`` branch runs; a Jupyter kernel spec for it.
3. **the course**: a ``file://`` git repository made from the working tree's files (what ``git add -A``
   would commit: HEAD plus uncommitted and untracked, not ignored, changes, the same files ``make test``
   sees; ``--source head`` uses HEAD alone). The install cell clones it, as Colab clones GitHub.

Then: a clone from a bad URL must fail with one clear line; the install cell (cell 1, the same in every
notebook) runs once in a kernel and must add packages without changing any package the base had; then
notebooks 00..07 run in order under nbval in one runtime (``MASKGIT_PROFILE=fast``), from ``content/`` as
on Colab. nbval and pytest run outside the twin (this project's environment) and only talk to the twin's
kernel, so nothing of the test harness is installed into the twin.
"""

from __future__ import annotations

import argparse
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLAB_FREEZE = REPO / "tests" / "colab" / "pip-freeze-gpu.txt"
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REPORT = REPO / "results" / "colab-twin.json"
KERNEL_NAME = "colab-twin"
BAD_REPO_URL = "file:///nonexistent/maskgit-course.git"
# What a notebook needs besides the course's own dependencies: the kernel side of Jupyter and widgets.
KERNEL_STACK = [
    "ipykernel", "ipython", "jupyter_client", "jupyter_core", "traitlets", "pyzmq", "tornado", "debugpy",
    "matplotlib-inline", "ipywidgets", "widgetsnbextension", "jupyterlab_widgets", "nbformat", "nbclient",
]
# torch's own requirements that Colab pins differently (its torch is a CUDA 12 build, the stand-in a CUDA 13
# one): left to the stand-in, reported as overrides.
STAND_IN_OWNS = re.compile(r"^(torch|torchvision|torchaudio|triton|setuptools|nvidia-.*|cuda-.*)$")
BUILDER_VERSION = "2"  # bump to rebuild every cached base


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def colab_versions(freeze: Path = COLAB_FREEZE) -> dict[str, str]:
    """Colab's packages and versions; packages installed from a URL (``google-colab @ file://…``) map to ''."""
    versions = {}
    for line in freeze.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if " @ " in line:
            versions[canonical(line.split(" @ ")[0])] = ""
        elif "==" in line:
            name, version = line.split("==", 1)
            versions[canonical(name)] = version
    return versions


def course_dependency_names() -> list[str]:
    """Names (no version ranges) of what ``pip install -e .`` installs: the install cell's requirements."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [re.split(r"[<>=!~ \[;]", r.strip())[0] for r in project["dependencies"]]


def stand_in_pins() -> list[str]:
    """torch and torchvision as this project pins them (constraints.txt): the stand-in for Colab's CUDA build."""
    pins = [line.strip() for line in (REPO / "constraints.txt").read_text().splitlines()
            if re.match(r"^(torch|torchvision)==", line.strip())]
    assert len(pins) == 2, "constraints.txt must pin torch and torchvision"
    return pins


def find_python313() -> str | None:
    """Colab's Python minor version: $MASKGIT_TWIN_PYTHON, python3.13 on PATH, or pyenv's."""
    candidates = [os.environ.get("MASKGIT_TWIN_PYTHON"), shutil.which("python3.13")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3.13")), reverse=True)
    for candidate in candidates:  # a pyenv shim may exist and still refuse to run: try each
        check = [str(candidate), "-c", "import sys; assert sys.version_info[:2] == (3, 13)"]
        if candidate and Path(candidate).is_file() and subprocess.run(check, capture_output=True).returncode == 0:
            return candidate
    return None


def cache_root() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "maskgit-course" / "colab-twin"
    return Path(os.environ.get("MASKGIT_TWIN_CACHE", default))


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result


def _site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3.*/site-packages"))
    assert len(found) == 1, f"no single site-packages in {venv}"
    return found[0]


_LIST_PACKAGES = """
import importlib.metadata as m, json, re, sys
seen = {}
for dist in m.distributions():  # in sys.path order: the first of a name is the one imported
    name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
    seen.setdefault(name, [dist.version, str(dist.locate_file(""))])
print(json.dumps(seen))
"""


def installed_packages(python: Path) -> dict[str, list[str]]:
    """{name: [version, folder]} of what ``python`` imports (first on sys.path wins)."""
    return json.loads(_run([str(python), "-I", "-c", _LIST_PACKAGES]).stdout)  # -I: not the current folder


@dataclass
class Base:
    venv: Path
    site_packages: Path
    built: bool
    seconds: float
    packages: dict[str, str]


def base_key(python: str) -> str:
    version = _run([python, "-c", "import sys; print(sys.version)"]).stdout
    parts = [BUILDER_VERSION, version, COLAB_FREEZE.read_text(), *stand_in_pins(), *course_dependency_names(), *KERNEL_STACK]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def ensure_base(python: str, log=print) -> Base:
    """The cached base environment for this key, built when missing (a lock keeps two builds apart)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    key = base_key(python)
    venv = root / key
    start = time.perf_counter()
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = not (venv / "base.json").is_file()
        if built:
            log(f"colab twin: building the base environment {venv} (once per key)")
            _build_base(python, venv, log)
        (venv / "base.json").touch()  # last used: older bases are pruned
        _prune(root, keep=venv)
    packages = json.loads((venv / "base.json").read_text())
    return Base(venv, _site_packages(venv), built, time.perf_counter() - start, packages)


def _build_base(python: str, venv: Path, log) -> None:
    """Build in place; base.json, written last, marks a finished build (an interrupted one is redone)."""
    colab = colab_versions()
    shutil.rmtree(venv, ignore_errors=True)
    _run([python, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--no-input"]
    constraints = venv / "colab-constraints.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in sorted(colab.items())
                                   if version and not STAND_IN_OWNS.match(name)))
    _run(pip + ["install", "-q", f"pip=={colab['pip']}"])
    log(f"colab twin: stand-in {' '.join(stand_in_pins())} (with its CUDA libraries: importing it needs them)")
    _run(pip + ["install", "-q", "-c", str(constraints), *stand_in_pins()])
    # Resolve the course's dependencies (names only: the install cell's own ranges are what the twin tests)
    # and the kernel stack under Colab's versions; keep what Colab has, leave the rest to the install cell.
    resolution = venv / "resolution.json"
    _run(pip + ["install", "-q", "--dry-run", "--report", str(resolution), "-c", str(constraints), *stand_in_pins(),
                *course_dependency_names(), *KERNEL_STACK])
    resolved = {canonical(item["metadata"]["name"]) for item in json.loads(resolution.read_text())["install"]}
    colab_layer = sorted(name for name in resolved if name in colab)
    log(f"colab twin: {len(colab_layer)} more packages at Colab's versions")
    # --no-deps: exactly Colab's set (Colab's ipython 7.34 comes without its jedi, for one)
    _run(pip + ["install", "-q", "--no-deps", "-c", str(constraints), *colab_layer])
    packages = {name: version for name, (version, _) in installed_packages(venv / "bin" / "python").items()}
    (venv / "base.json").write_text(json.dumps(packages, indent=1, sort_keys=True))


def _prune(root: Path, keep: Path, n_keep: int = 2) -> None:
    """Keep the most recently used bases (another checkout may use another key), delete older ones."""
    bases = sorted((p for p in root.iterdir() if (p / "base.json").is_file()),
                   key=lambda p: (p / "base.json").stat().st_mtime, reverse=True)
    for old in bases[n_keep:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def make_course_repository(dest: Path, source: str = "worktree") -> dict:
    """A git repository at ``dest`` for the install cell to clone; returns what it holds."""
    head = _run(["git", "-C", str(REPO), "rev-parse", "HEAD"]).stdout.strip()
    if source == "head":
        _run(["git", "clone", "-q", "--depth", "1", f"file://{REPO}", str(dest)])
        return {"commit": head, "source": "HEAD"}
    listed = _run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"]).stdout
    changed = _run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=all"]).stdout.splitlines()
    dest.mkdir(parents=True)
    for relative in sorted(set(filter(None, listed.split("\0")))):
        src = REPO / relative
        if src.is_file() or src.is_symlink():  # deleted-but-tracked files are skipped
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target, follow_symlinks=False)
    git = ["git", "-C", str(dest), "-c", "user.name=colab twin", "-c", "user.email=twin@localhost"]
    _run(git[:3] + ["init", "-q", "-b", "main"])
    _run(git + ["add", "--all"])
    _run(git + ["commit", "-q", "-m", f"working tree of {head[:12]}"])
    return {"commit": head, "source": "working tree", "uncommitted": [line[3:] for line in changed]}


@dataclass
class Runtime:
    python: Path
    kernels: Path  # a JUPYTER_PATH folder with kernels/<kernel_name>
    env: dict[str, str]
    kernel_name: str = KERNEL_NAME


COLAB_STARTUP = "import google.colab  # Colab's kernel has imported it\n"


def fake_colab(site: Path) -> Path:
    """A ``google.colab`` package in ``site``: importing it marks a Colab runtime."""
    (site / "google" / "colab").mkdir(parents=True)  # no google/__init__.py: google.* stays a namespace
    (site / "google" / "colab" / "__init__.py").write_text(
        '"""Stand-in for Colab\'s google.colab (the Colab twin): importing it marks a Colab runtime."""\n')
    return site


def make_runtime(root: Path, base: Base, course_url: str, course_dir: Path, fake_site: Path | None = None,
                 startup: str | None = COLAB_STARTUP, kernel_name: str = KERNEL_NAME) -> Runtime:
    """A fresh environment over the base, with ``fake_site`` (default: a fake google.colab) on its path and
    ``startup`` run when the kernel starts. The Kaggle stand-in test (tests/test_kaggle_notebook.py) passes
    a kagglehub stand-in and no startup: Kaggle's kernel is told apart by an environment variable."""
    base_python = base.venv / "bin" / "python"
    venv = root / "runtime"
    _run([str(base_python), "-m", "venv", "--without-pip", str(venv)])
    fake = fake_site or fake_colab(root / "fake-colab")
    (_site_packages(venv) / "colab_twin.pth").write_text(
        f"{fake}\nimport site; site.addsitedir({str(base.site_packages)!r})\n")
    startup_dir = root / "ipython" / "profile_default" / "startup"
    startup_dir.mkdir(parents=True)
    if startup:
        (startup_dir / "00-runtime.py").write_text(startup)
    spec = root / "jupyter" / "kernels" / kernel_name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python 3 ({kernel_name})", "language": "python",
    }))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MASKGIT_", "PYTHON", "JUPYTER", "IPYTHON", "VIRTUAL_ENV", "PYTEST", "MPLBACKEND"))}
    path = [p for p in env.get("PATH", "").split(os.pathsep) if Path(sys.prefix) not in Path(p).parents]
    env.update({
        "PATH": os.pathsep.join([str(venv / "bin"), *path]),
        "IPYTHONDIR": str(root / "ipython"),
        "JUPYTER_PATH": str(root / "jupyter"),
        "MASKGIT_PROFILE": "fast",
        "MASKGIT_COURSE_REPO": course_url,
        "MASKGIT_COURSE_DIR": str(course_dir),
    })
    return Runtime(venv / "bin" / "python", root / "jupyter", env, kernel_name)


def run_cells(runtime: Runtime, sources: list[str], cwd: Path, env: dict[str, str] | None = None) -> list[dict]:
    """Run code cells in a fresh twin kernel; returns each cell's outputs (errors included, not raised)."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    specs = KernelSpecManager(kernel_dirs=[str(runtime.kernels / "kernels")])
    manager = KernelManager(kernel_name=runtime.kernel_name, kernel_spec_manager=specs)
    client = NotebookClient(notebook, km=manager, timeout=900, allow_errors=True, startup_timeout=120)
    try:
        client.execute(env={**runtime.env, **(env or {})}, cwd=str(cwd))
    finally:  # the client leaves a kernel manager it did not create running
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
    return [cell.outputs for cell in notebook.cells]


def _text(outputs: list[dict]) -> str:
    return "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")


def _error(outputs: list[dict]) -> dict | None:
    return next((o for o in outputs if o.get("output_type") == "error"), None)


def install_cell_source(repository: Path = REPO) -> str:
    """Cell 1 of notebook 00: the Colab install cell (the same in every notebook; a test checks)."""
    import nbformat

    return nbformat.read(repository / "notebooks" / NOTEBOOKS[0].name, as_version=4).cells[1].source


def compare(before: dict[str, list[str]], after: dict[str, list[str]], runtime_site: Path) -> dict:
    """What the install changed: ``changed``/``removed`` must stay empty, ``added`` is what it brought."""
    runtime_site = runtime_site.resolve()
    changed = {name: {"before": before[name][0], "after": after[name][0]} for name in before if name in after
               and (after[name][0] != before[name][0] or Path(after[name][1]).resolve() == runtime_site)}
    return {
        "added": {name: after[name][0] for name in sorted(after) if name not in before},
        "changed": changed,
        "removed": sorted(name for name in before if name not in after),
    }


def run_notebooks(runtime: Runtime, notebooks: list[Path], log=print) -> dict:
    """Each notebook under nbval in the twin's kernel, in order, from the folder they lie in (Colab's /content)."""
    (notebooks[0].parent.parent / "pytest.ini").write_text("[pytest]\n")  # no other project's pytest settings
    results, outputs = {}, []
    for notebook in notebooks:
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval-lax",
                   "--nbval-kernel-name", runtime.kernel_name, "--nbval-cell-timeout", "900",
                   "--nbval-sanitize-with", str(REPO / "tests" / "nbval_sanitize.cfg"), notebook.name]
        start = time.perf_counter()
        result = subprocess.run(command, env=runtime.env, cwd=notebook.parent, capture_output=True, text=True)
        summary = (result.stdout.strip().splitlines() or ["no output"])[-1]
        results[notebook.name] = {"returncode": result.returncode, "summary": summary,
                                  "seconds": round(time.perf_counter() - start, 1)}
        log(f"colab twin: {notebook.name}: {summary}")
        if result.returncode:
            outputs.append(f"== {notebook.name}\n{(result.stdout + result.stderr)[-6000:]}")
    return {"returncode": max(r["returncode"] for r in results.values()), "notebooks": results,
            "seconds": round(sum(r["seconds"] for r in results.values()), 1), "output_tail": "\n".join(outputs)}


def run_twin(source: str = "worktree", report_path: Path | None = REPORT, workdir: Path | None = None, log=print) -> dict:
    python = find_python313()
    if python is None:
        raise RuntimeError("the Colab twin needs Python 3.13: install it (e.g. pyenv install 3.13) or set MASKGIT_TWIN_PYTHON")
    start = time.perf_counter()
    base = ensure_base(python, log)
    log(f"colab twin: base {base.venv.name} {'built' if base.built else 'reused'} in {base.seconds:.0f} s")
    colab = colab_versions()
    owned_root = workdir is None
    root = Path(tempfile.mkdtemp(prefix="colab-twin-")) if owned_root else workdir
    try:
        t = time.perf_counter()
        course = make_course_repository(root / "origin.git", source)
        content = root / "content"  # Colab's working folder
        content.mkdir()
        course_dir = content / "maskgit-course"
        runtime = make_runtime(root, base, f"file://{root / 'origin.git'}", course_dir)
        setup_seconds = time.perf_counter() - t

        # (c) a clone that fails says so in one line, and installs nothing
        install_cell = install_cell_source(root / "origin.git")  # as the notebooks in that repository have it
        bad = run_cells(runtime, ['import sys; print("google.colab" in sys.modules)', install_cell], content,
                        {"MASKGIT_COURSE_REPO": BAD_REPO_URL, "MASKGIT_COURSE_DIR": str(content / "bad-clone")})
        error = _error(bad[1])
        failed_clone = {
            "google_colab_imported": _text(bad[0]).strip() == "True",
            "error": f"{error['ename']}: {error['evalue']}" if error else None,
            "one_line": bool(error) and "\n" not in error["evalue"].strip(),
            "nothing_installed": not (content / "bad-clone").exists(),
        }
        log(f"colab twin: failed clone -> {failed_clone['error']}")

        # (a) the install cell changes no package the base (Colab) has
        before = installed_packages(runtime.python)
        t = time.perf_counter()
        outputs = run_cells(runtime, [install_cell], content)
        install_seconds = time.perf_counter() - t
        install_error = _error(outputs[0])
        after = installed_packages(runtime.python)
        install = compare(before, after, _site_packages(runtime.python.parent.parent))
        install.update({
            "seconds": round(install_seconds, 1),
            "error": f"{install_error['ename']}: {install_error['evalue']}" if install_error else None,
            "output": _text(outputs[0])[-3000:],
            "added_but_colab_has": sorted(set(install["added"]) & set(colab)),
        })
        log(f"colab twin: install cell {install_seconds:.0f} s, added {', '.join(f'{n}=={v}' for n, v in install['added'].items())}")
        log(f"colab twin: changed {install['changed'] or 'nothing'}, removed {install['removed'] or 'nothing'}")

        # (b) the notebooks pass, in order, in one runtime (each runs the install cell again: clone and install are there)
        notebooks = []
        for notebook in sorted((course_dir / "notebooks").glob("[0-9][0-9]_*.ipynb")):
            notebooks.append(Path(shutil.copy2(notebook, content / notebook.name)))
        log(f"colab twin: running {len(notebooks)} notebooks under nbval (MASKGIT_PROFILE=fast)")
        nbval = run_notebooks(runtime, notebooks, log)
        final = compare(before, installed_packages(runtime.python), _site_packages(runtime.python.parent.parent))
    finally:
        if owned_root:
            shutil.rmtree(root, ignore_errors=True)

    report = {
        "what": "The Colab twin (tests/colab_twin.py): Colab's package versions on Python 3.13, the notebooks' "
                "install cell, then notebooks 00-07 under nbval in the fast profile.",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "course": course,
        "python": {"twin": _run([str(base.venv / "bin" / "python"), "-V"]).stdout.strip(), "colab": "Python 3.13.15"},
        "colab_freeze": str(COLAB_FREEZE.relative_to(REPO)),
        "base": {
            "key": base.venv.name,
            "packages": len(base.packages),
            "at_colab_version": sum(colab.get(n) == v for n, v in base.packages.items()),
            "stand_in_differs_from_colab": {n: {"colab": colab[n], "twin": v} for n, v in sorted(base.packages.items())
                                            if colab.get(n) and colab[n] != v},
            "not_on_colab": sorted(n for n in base.packages if n not in colab),
        },
        "failed_clone": failed_clone,
        "install_cell": install,
        "after_notebooks": {"changed": final["changed"], "removed": final["removed"],
                            "added_by_notebooks": sorted(set(final["added"]) - set(install["added"]))},
        "notebooks": nbval,
        "seconds": {"base": round(base.seconds, 1), "base_built": base.built, "setup": round(setup_seconds, 1),
                    "install_cell": install["seconds"], "notebooks": nbval["seconds"],
                    "total": round(time.perf_counter() - start, 1)},
    }
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report, indent=1) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", choices=["worktree", "head"], default="worktree",
                        help="what the install cell clones: the working tree's files (default) or HEAD")
    parser.add_argument("--report", type=Path, default=REPORT)
    parser.add_argument("--keep", type=Path, default=None, help="work in this (new) folder and keep it")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True)
    report = run_twin(args.source, args.report, args.keep)
    print(json.dumps({k: report[k] for k in ("failed_clone", "seconds")}, indent=1))
    ok = (not report["install_cell"]["changed"] and not report["install_cell"]["removed"]
          and report["notebooks"]["returncode"] == 0 and report["failed_clone"]["one_line"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
