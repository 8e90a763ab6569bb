"""`make course`'s runner: execute notebooks top to bottom in fresh kernels, headless.

    python tools/run_notebooks.py notebooks/00_setup_and_data.ipynb ... --output-dir results/notebooks

It is `jupyter nbconvert --to notebook --execute` with one change, the client of
tools/notebook_client.py, so a widget cell cannot leave the run waiting on a reply that has arrived.
A cell that still exceeds ``--timeout`` fails the run (no silent retry); a failed notebook is named
with its cell and error in one line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient.exceptions import CellExecutionError, CellTimeoutError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_client import CourseNotebookClient  # noqa: E402
from widget_pictures import add_first_views  # noqa: E402


def run_notebook(path: Path, output_dir: Path, timeout: int) -> float:
    """Execute one notebook in its own folder (as Jupyter does); write the executed copy; return seconds."""
    nb = nbformat.read(path, as_version=4)
    client = CourseNotebookClient(nb, timeout=timeout, kernel_name="python3",
                                  resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        add_first_views(nb)  # each widget's first view as a picture, for readers without a kernel
        nb.metadata["keep_output"] = True  # nbstripout keeps an executed copy's outputs (the web edition's)
        output_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, output_dir / path.name)
    return time.perf_counter() - start


def record_time(times_file: Path, notebook: Path, machine: str, seconds: float) -> None:
    """Store one measured time where the notebooks' run-time lines are rendered from
    (maskgit_lib/course/facts.py); written atomically, so an interrupted run loses nothing."""
    times = json.loads(times_file.read_text())
    if machine not in times["machines"]:
        raise SystemExit(f"--machine {machine!r} is not described in {times_file}: add it under \"machines\" first")
    times["notebooks"].setdefault(notebook.name[:2], {})[machine] = round(seconds)
    partial = times_file.with_suffix(".json.tmp")
    partial.write_text(json.dumps(times, indent=2) + "\n")
    partial.replace(times_file)


def one_line(error: Exception) -> str:
    """The cell's own error (``NameError: ...``) or the timeout, not nbclient's framed traceback."""
    if isinstance(error, CellExecutionError):
        text = f"{error.ename}: {error.evalue}"
    else:
        text = str(error)
    return (text.strip().splitlines() or [type(error).__name__])[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--output-dir", type=Path, default=Path("results/notebooks"))
    parser.add_argument("--timeout", type=int, default=900, help="seconds one cell may take")
    parser.add_argument("--record-times", type=Path, metavar="JSON",
                        help="write each notebook's seconds into this file (results/run_times.json), under --machine")
    parser.add_argument("--machine", default="reference-cpu", help="the machine's key in --record-times (default: reference-cpu)")
    args = parser.parse_args(argv)
    total = 0.0
    for path in args.notebooks:
        print(f"== {path}", flush=True)
        try:
            seconds = run_notebook(path, args.output_dir, args.timeout)
        except (CellExecutionError, CellTimeoutError) as error:
            print(f"== {path} failed: {one_line(error)} (executed copy in {args.output_dir / path.name})", file=sys.stderr)
            return 1
        total += seconds
        print(f"== {path}: {seconds:.0f} s", flush=True)
        if args.record_times:
            record_time(args.record_times, path, args.machine, seconds)
    print(f"== {len(args.notebooks)} notebooks in {total / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
