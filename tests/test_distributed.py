"""Data-parallel training: two gloo ranks on the CPU hold identical weights, equal to one process
with the doubled batch."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from maskgit_lib import distributed as ddp
from maskgit_lib.data.prepared import load_prepared
from maskgit_lib.generator.train import TransformerTrainer
from maskgit_lib.tokenizer.train import VQGANTrainer

from .conftest import fast_tokenizer, free_port, small_fast_config

STEPS = 3


def _config(tokenizer: str | None = None):
    config = small_fast_config()
    config.loss.perceptual_weight = 0.0
    config.loss.disc_start_step = 10_000  # the GAN part is per-rank adaptive; this checks the averaging itself
    config.vqgan.quantizer.kmeans_init = False  # k-means seeds on rank 0's share only (broadcast)
    config.transformer.dropout = 0.0  # dropout draws its masks per rank, so it cannot match one process
    config.train_vqgan.batch_size = config.train_transformer.batch_size = 4
    if tokenizer:
        config.transformer.tokenizer = tokenizer
    return config


def _trainer(phase, config, folder, run_dir):
    data = load_prepared(folder)
    cls = VQGANTrainer if phase == "vqgan" else TransformerTrainer
    return cls(config, data=data, run_dir=run_dir, progress=False, device="cpu", log=lambda m: None)


def _rank_main(rank, port, phase, config, folder, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        trainer = _trainer(phase, config, folder, out / f"run{rank}")
        assert trainer.global_batch == 2 * config.train_vqgan.batch_size
        for _ in range(STEPS):
            trainer.train_step()
        torch.save(trainer.model.state_dict(), out / f"{phase}-rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    patch = pytest.MonkeyPatch()
    config, data = fast_tokenizer(root, patch, _config(), steps=2)
    yield root, data.folder, config.transformer.tokenizer
    patch.undo()


@pytest.mark.parametrize("phase", ["vqgan", "transformer"])
def test_two_ranks_match_each_other_and_one_process_with_the_doubled_batch(setup, phase):
    root, folder, tokenizer = setup
    config = _config(tokenizer)
    mp.spawn(_rank_main, args=(free_port(), phase, config, folder, root), nprocs=2, join=True)
    ranks = [torch.load(root / f"{phase}-rank{r}.pt", weights_only=True) for r in range(2)]
    for key in ranks[0]:
        assert torch.equal(ranks[0][key], ranks[1][key]), f"{key} differs between ranks"

    single = copy.deepcopy(config)
    single.train_vqgan.batch_size = single.train_transformer.batch_size = 8
    trainer = _trainer(phase, single, folder, root / f"single-{phase}")
    start = copy.deepcopy(trainer.model.state_dict())
    for _ in range(STEPS):
        trainer.train_step()
    moved = 0
    for key, value in trainer.model.state_dict().items():
        torch.testing.assert_close(ranks[0][key], value, rtol=1e-4, atol=1e-5, msg=f"{key}: 2 ranks vs 1 process")
        moved += int(not torch.equal(value, start[key]))
    assert moved > 0  # the comparison is not between untouched initial weights


def test_without_a_process_group_everything_is_local():
    assert not ddp.is_distributed() and ddp.rank() == 0 and ddp.world_size() == 1
    assert ddp.local_share(5) == slice(0, 5)
    p = torch.nn.Parameter(torch.ones(3))
    p.grad = torch.full((3,), 2.0)
    ddp.average_gradients([p])
    assert torch.equal(p.grad, torch.full((3,), 2.0))
    assert ddp.setup_from_env() is None
