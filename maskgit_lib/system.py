"""What the learner's machine is: device, versions, threads. Printed by notebook 00 and ``maskgit info``."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata


def pick_device() -> str:
    """``cuda`` when a GPU is visible, ``mps`` on Apple silicon, else ``cpu``."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def environment_report() -> dict[str, str]:
    """A flat dict of the facts that explain run times: Python, torch, device, CPU threads, Colab."""
    import torch

    device = pick_device()
    report = {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "torch": torch.__version__,
        "device": device,
        "cpu threads (torch)": str(torch.get_num_threads()),
        "cpu cores": str(os.cpu_count()),
        "in Colab": str("google.colab" in sys.modules),
    }
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        report["gpu"] = f"{props.name}, {props.total_memory / 2**30:.0f} GiB"
        report["bf16 supported"] = str(torch.cuda.is_bf16_supported())
    for package in ("torchvision", "numpy", "ipywidgets", "dicebear-core", "dicebear-styles", "resvg-py"):
        try:
            report[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            report[package] = "not installed"
    return report


@contextmanager
def torch_threads(n_threads: int) -> Iterator[None]:
    """Run a block with ``n_threads`` intra-op threads, then restore the previous number.

    Loops of tiny tensor operations (the 2-D toys of notebook 01) run ~100× *slower* with several
    threads when another process (a training run, a parallel test worker) keeps the cores busy:
    the threads spin waiting for each other. One thread is the right choice for them.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
