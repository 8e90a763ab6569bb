"""Stress check for issue #11: every notebook cell that shows a widget, executed many times, under load.

    python tools/stress_widgets.py --repeats 100 --load 1            # the course's client
    python tools/stress_widgets.py --repeats 100 --load 1 --client stock   # plain nbclient, for comparison

Each notebook runs top to bottom once (in the profile of $MASKGIT_PROFILE, `fast` by default);
every cell whose output holds a widget is then executed again until it has run ``--repeats`` times,
while ``--load`` busy-looping processes keep the CPU cores occupied. A cell that exceeds
``--stall-after`` seconds is checked, from inside the client's event loop: it is a stall if the
cell's ``execute_reply`` is already waiting in the shell socket
(``zmq.EVENTS & POLLIN``) while the socket's file descriptor was not readable -- the missed
wake-up -- then asks the socket to re-read its events (the wake-up that was lost), which releases
the cell, and goes on. Prints one JSON line per widget cell and a summary; exits 1 on any stall.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import select
import statistics
import sys
import time
from pathlib import Path

import nbformat
import zmq
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_client import CourseNotebookClient  # noqa: E402

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
ROOT = Path(__file__).resolve().parent.parent


def burn(parent: int) -> None:  # pragma: no cover - a load process
    """Keep one core busy until the harness exits, even if it is killed (then the parent pid changes)."""
    while os.getppid() == parent:
        for _ in range(100_000):
            pass


def shows_widget(cell) -> bool:
    return any(WIDGET_MIME in out.get("data", {}) for out in cell.get("outputs", []))


def shell_state(client: NotebookClient) -> dict:
    """What the shell socket holds right now, read from the client's own loop (sockets are not thread-safe)."""
    sock = client.kc.shell_channel.socket
    fd = sock.getsockopt(zmq.FD)
    readable = bool(select.select([fd], [], [], 0)[0])
    events = sock.getsockopt(zmq.EVENTS)  # reading EVENTS also drains the fd: read `readable` first
    return {"reply_waiting": bool(events & zmq.POLLIN), "fd_readable": readable,
            "pending_polls": len(getattr(sock, "_recv_futures", []))}


async def timed_cell(client: NotebookClient, cell, index: int, stall_after: float) -> tuple[float, dict | None]:
    """Execute one cell; if it runs past ``stall_after``, snapshot the shell socket once."""
    snapshot: dict | None = None

    async def watchdog():
        nonlocal snapshot
        while True:  # a cell that is merely slow (the kernel still computing) is not a stall
            await asyncio.sleep(stall_after)
            state = shell_state(client)
            if state["reply_waiting"]:
                snapshot = state
                # Rescue, so one run can count many stalls instead of dying at the first timeout: ask the
                # socket to look at ZMQ_EVENTS again, which is exactly what the lost wake-up would have done.
                client.kc.shell_channel.socket._schedule_remaining_events()
                return

    dog = asyncio.ensure_future(watchdog())
    start = time.perf_counter()
    try:
        await client.async_execute_cell(cell, index)
    except CellTimeoutError:
        pass
    finally:
        dog.cancel()
    return time.perf_counter() - start, snapshot


async def stress_notebook(path: Path, repeats: int, client_cls, stall_after: float, timeout: float) -> list[dict]:
    nb = nbformat.read(path, as_version=4)
    client = client_cls(nb, timeout=timeout, interrupt_on_timeout=False, kernel_name="python3",
                        resources={"metadata": {"path": str(path.parent)}})
    report = []
    async with client.async_setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            seconds, snapshot = await timed_cell(client, cell, index, stall_after)
            if not shows_widget(cell):
                if snapshot is not None:  # a stall in a cell without widgets (not seen; reported if it happens)
                    print(json.dumps({"notebook": path.name, "cell": index, "stall_without_widget": snapshot,
                                      "seconds": round(seconds, 1)}), flush=True)
                continue
            times = [seconds]
            stalls = [{"run": 1, "seconds": round(seconds, 1), **snapshot}] if snapshot is not None else []
            for run in range(repeats - 1):
                seconds, snapshot = await timed_cell(client, cell, index, stall_after)
                times.append(seconds)
                if snapshot is not None:
                    stalls.append({"run": run + 2, "seconds": round(seconds, 1), **snapshot})
            report.append({"notebook": path.name, "cell": index, "runs": repeats,
                           "median_s": round(statistics.median(times), 3) if times else None,
                           "max_s": round(max(times), 2) if times else None, "stalls": stalls})
            print(json.dumps(report[-1]), flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--repeats", type=int, default=100, help="executions of each widget cell")
    parser.add_argument("--load", type=int, default=1, help="busy-looping processes beside the run")
    parser.add_argument("--client", choices=["course", "stock"], default="course")
    parser.add_argument("--stall-after", type=float, default=5.0, help="seconds between checks of a running cell for a waiting reply")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a cell is given up")
    args = parser.parse_args(argv)
    os.environ.setdefault("MASKGIT_PROFILE", "fast")
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    client_cls = CourseNotebookClient if args.client == "course" else NotebookClient
    burners = [multiprocessing.Process(target=burn, args=(os.getpid(),), daemon=True) for _ in range(args.load)]
    for proc in burners:
        proc.start()
    start = time.perf_counter()
    try:
        cells = [c for nb in notebooks
                 for c in asyncio.run(stress_notebook(nb, args.repeats, client_cls, args.stall_after, args.timeout))]
    finally:
        for proc in burners:
            proc.terminate()
    stalls = sum(len(c["stalls"]) for c in cells)
    summary = {"client": args.client, "load": args.load, "repeats": args.repeats, "widget_cells": len(cells),
               "executions": sum(c["runs"] for c in cells), "stalls": stalls,
               "slowest_s": max((c["max_s"] or 0) for c in cells) if cells else None,
               "wall_min": round((time.perf_counter() - start) / 60, 1)}
    print(json.dumps(summary))
    return 1 if stalls else 0


if __name__ == "__main__":
    raise SystemExit(main())
