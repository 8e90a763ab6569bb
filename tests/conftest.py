"""Shared fixtures: every test writes its data sets into its own temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    """Point ``maskgit_lib.paths.data_dir()`` at a fresh folder for this test."""
    folder = tmp_path / "data"
    monkeypatch.setenv("MASKGIT_DATA_DIR", str(folder))
    return folder


def free_port() -> int:
    """A TCP port nobody listens on now (for a process group or a JupyterLab server)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def small_fast_config():
    """The fast profile with 48 + 16 avatars: what the phase-2 tests train on."""
    from maskgit_lib.config import load_config

    config = load_config("fast")
    config.data.n_train, config.data.n_val = 48, 16
    return config


def fast_tokenizer(root: Path, patch: pytest.MonkeyPatch, config=None, steps: int = 4):
    """Prepare the data under ``root/data`` and train a tokenizer for a few steps (no LPIPS: seconds).

    Returns (config with ``transformer.tokenizer`` pointing at it, data).
    """
    from maskgit_lib.data.prepared import prepare_data
    from maskgit_lib.tokenizer import train as train_vqgan_module
    from maskgit_lib.tokenizer.train import VQGANTrainer

    patch.setenv("MASKGIT_DATA_DIR", str(root / "data"))
    patch.setattr(train_vqgan_module, "load_lpips", lambda net: None)
    config = config or small_fast_config()
    data = prepare_data(config.data, progress=False)
    VQGANTrainer(config, data=data, run_dir=root / "vqgan", progress=False, log=lambda m: None).fit(steps)
    config.transformer.tokenizer = str(root / "vqgan" / "checkpoints" / "last.ckpt")
    return config, data


def tiny_maskgit(codebook_size: int = 32, n_classes: int = 4, n_tokens: int = 16):
    """A seeded, untrained 2-layer MaskGIT Transformer in eval mode: enough to test decoding mechanics."""
    import torch

    from maskgit_lib.generator.transformer import MaskGITTransformer

    torch.manual_seed(0)
    return MaskGITTransformer(codebook_size, n_classes, n_tokens, width=32, depth=2, heads=4, dropout=0.0).eval()


def make_trainer(trainer_class, setup, name: str, **changes):
    """A trainer of ``trainer_class`` on a module fixture's (config, data, root), in its own run folder;
    ``changes`` set config fields as ``section__field=value``."""
    import copy

    config, data, root = setup
    config = copy.deepcopy(config)
    for key, value in changes.items():
        section, field = key.split("__")
        setattr(getattr(config, section), field, value)
    return trainer_class(config, data=data, run_dir=root / name, progress=False, log=lambda m: None)
