"""Data-parallel training across processes: ``torchrun --nproc_per_node N -m maskgit_lib train …``.

Every rank holds a full copy of the models. At each step the *global* batch (``batch_size`` × ranks
examples, the same ones a single process with the multiplied batch would draw) is split between
ranks; each rank computes the gradient of its share, the gradients are averaged with one all-reduce
(exactly what ``DistributedDataParallel`` does after backward), and every rank takes the same
optimizer step, so the weights stay identical. We average by hand instead of wrapping the models in
``DistributedDataParallel`` because the GAN step freezes the discriminator for the generator update
and takes ``autograd.grad`` for the adaptive weight, two things DDP's wrapper does not allow.

The VQ codebook is not trained by gradients alone: its EMA statistics and dead-code counts are
all-reduced, and k-means seeding and code restarts are broadcast from rank 0 (``tokenizer/quantize.py``).
Rank 0 alone logs, validates and writes checkpoints; the others wait at a barrier where needed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    return rank() == 0


def setup_from_env() -> torch.device | None:
    """Join the process group that ``torchrun`` (or ``srun torchrun``) describes in the environment.

    Returns the device this rank should use, or None when not launched with several processes.
    NCCL on GPUs, gloo on CPUs.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or is_distributed():
        return None
    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl")
        return torch.device("cuda", local_rank)
    dist.init_process_group("gloo")
    return torch.device("cpu")


def teardown() -> None:
    if is_distributed():
        dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


@contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (preparing a cache), then the others (which then just read it)."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def local_share(batch_size: int) -> slice:
    """This rank's rows of a global batch of ``batch_size`` × ranks examples."""
    return slice(rank() * batch_size, (rank() + 1) * batch_size)


@torch.no_grad()
def average_gradients(parameters: Iterable[torch.nn.Parameter]) -> None:
    """Average the gradients over ranks with one all-reduce of a flat buffer (no-op on one process)."""
    if not is_distributed():
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()
