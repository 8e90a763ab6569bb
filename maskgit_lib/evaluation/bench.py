"""What ``maskgit bench`` measures: training and sampling speed, as ratios taken in one run.

Absolute times on a shared machine are noise; ratios measured back to back on the same device are
not. So every figure here comes with the baseline it was measured beside:

- **Training** (each phase, the profile's model and batch, real data): images/s in fp32 and with
  bf16 autocast, the tokenizer also bf16 + ``channels_last`` (with ``--compile`` also bf16 +
  ``torch.compile``), each option's speed-up over fp32 eager, and the model FLOPs utilisation
  (MFU): FLOPs of one training step (counted by ``torch.utils.flop_counter``) × steps/s, over the
  matmul FLOP/s this device reaches in the same precision (measured here, not a datasheet number).
  The tokenizer step is timed with the GAN on (the more expensive part of its schedule).
- **Sampling** (same model size, device and batch): MaskGIT at 8 and 12 steps vs the
  autoregressive baseline (a KV cache, one token per pass). Timing does not depend on the weights,
  so untrained models of the right size stand in where no checkpoint exists.

On CUDA, PyTorch runs fp32 *convolutions* in TF32 by default (cuDNN; ``tf32`` in the report), while
fp32 matmuls stay fp32: the convolutional tokenizer's "fp32" MFU is then measured against a peak it
does not run at, and reads high.
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from maskgit_lib.checkpoint import save_checkpoint
from maskgit_lib.config import Config
from maskgit_lib.data.prepared import PreparedData, prepare_data
from maskgit_lib.generator.decoding import autoregressive_decode, maskgit_decode, time_sampling
from maskgit_lib.generator.train import TransformerTrainer, tokenizer_path
from maskgit_lib.generator.transformer import build_transformer
from maskgit_lib.paths import results_dir
from maskgit_lib.system import environment_report, pick_device
from maskgit_lib.tokenizer.train import VQGANTrainer
from maskgit_lib.tokenizer.vqgan import VQGAN


def matmul_flops(device: torch.device, dtype: torch.dtype, size: int | None = None, repeats: int = 5) -> float:
    """FLOP/s of a square matmul on this device: the peak that MFU is measured against.

    The size must keep the device busy: 1024 saturates a few CPU cores, a GPU needs 8192.
    """
    size = size or (8192 if device.type == "cuda" else 1024)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(4):
            a @ b
        _sync(device)
        best = min(best, (time.perf_counter() - started) / 4)
    return 2 * size**3 / best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_flops(train_step: Callable[[], Any]) -> int:
    """FLOPs (forward + backward) of one call of ``train_step``."""
    with FlopCounterMode(display=False) as counter:
        train_step()
    return counter.get_total_flops()


def time_steps(train_step: Callable[[], Any], device: torch.device, steps: int, warmup: int = 2) -> float:
    """Seconds per training step (median of ``steps`` after ``warmup`` untimed ones)."""
    for _ in range(warmup):
        train_step()
    times = []
    for _ in range(steps):
        _sync(device)
        started = time.perf_counter()
        train_step()
        _sync(device)
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def _trainer(phase: str, config: Config, data: PreparedData, variant: str, device: torch.device, run_dir: str):
    config = copy.deepcopy(config)
    train_cfg = config.train_vqgan if phase == "vqgan" else config.train_transformer
    train_cfg.precision = "bf16" if variant.startswith("bf16") else "fp32"  # explicit: the same variant on every device
    train_cfg.compile = "+compile" in variant
    train_cfg.channels_last = "+channels_last" in variant
    if phase == "vqgan":
        trainer = VQGANTrainer(config, data=data, run_dir=run_dir, progress=False, device=device, log=lambda m: None)
        trainer.step = config.loss.disc_start_step  # time the full step: generator + discriminator
        return trainer
    return TransformerTrainer(config, data=data, run_dir=run_dir, progress=False, device=device, log=lambda m: None)


def bench_training(
    config: Config, data: PreparedData, device: torch.device, steps: int, peak: dict[str, float], compile: bool = False
) -> dict[str, Any]:
    """Images/s of both phases in fp32 and bf16 (the tokenizer also bf16 + channels_last; with ``compile``
    also bf16 + torch.compile), speed-ups over fp32 eager, MFU."""
    out: dict[str, Any] = {}
    for phase, batch in (("vqgan", config.train_vqgan.batch_size), ("transformer", config.train_transformer.batch_size)):
        variants = ["fp32", "bf16"] + (["bf16+channels_last"] if phase == "vqgan" else []) + (["bf16+compile"] if compile else [])
        rows = {}
        for variant in variants:
            with tempfile.TemporaryDirectory() as run_dir:
                trainer = _trainer(phase, config, data, variant, device, run_dir)
                seconds = time_steps(trainer.train_step, device, steps, warmup=4 if "compile" in variant else 2)
                flops = step_flops(trainer.train_step) if "compile" not in variant else rows["bf16"]["step_flops"]
            rows[variant] = {
                "images_per_s": batch / seconds, "step_flops": flops, "achieved_flops_per_s": flops / seconds,
                "mfu": flops / seconds / peak["fp32" if variant == "fp32" else "bf16"],
            }
        speedups = {f"{v}_speedup": rows[v]["images_per_s"] / rows["fp32"]["images_per_s"] for v in variants if v != "fp32"}
        out[phase] = {"batch_size": batch, **rows, **speedups}
    return out


def bench_sampling(config: Config, n_classes: int, device: torch.device, batch_sizes: tuple[int, ...]) -> dict[str, Any]:
    """MaskGIT (8 and 12 steps) vs autoregressive images/s at each batch size, same model size."""
    codebook = config.vqgan.quantizer.codebook_size
    side = config.data.image_size_px // 2 ** (len(config.vqgan.channel_mult) - 1)
    torch.manual_seed(0)
    bidirectional = build_transformer(config, codebook, n_classes, side * side).to(device).eval()
    causal_config = copy.deepcopy(config)
    causal_config.transformer.causal = True
    causal = build_transformer(causal_config, codebook, n_classes, side * side).to(device).eval()
    out: dict[str, Any] = {"tokens": side * side}
    for batch in batch_sizes:
        labels = torch.arange(batch) % n_classes
        row = {
            "maskgit_8": time_sampling(_maskgit_sampler(bidirectional, labels, 8), batch, repeats=3),
            "maskgit_12": time_sampling(_maskgit_sampler(bidirectional, labels, 12), batch, repeats=3),
            "autoregressive": time_sampling(_ar_sampler(causal, labels), batch, repeats=3),
        }
        row["ratio_maskgit_12_vs_ar"] = row["maskgit_12"] / row["autoregressive"]
        row["ratio_maskgit_8_vs_ar"] = row["maskgit_8"] / row["autoregressive"]
        out[f"batch_{batch}"] = row
    return out


def _maskgit_sampler(model, labels: torch.Tensor, steps: int) -> Callable[[int], Any]:
    return lambda n: maskgit_decode(model, n, labels[:n], steps=steps, seed=0)


def _ar_sampler(model, labels: torch.Tensor) -> Callable[[int], Any]:
    return lambda n: autoregressive_decode(model, n, labels[:n], seed=0)


def _ensure_tokenizer_for_timing(config: Config, folder: Path) -> Config:
    """The Transformer trainer encodes the data with a tokenizer; an untrained one times the same."""
    try:
        tokenizer_path(config)
        return config
    except Exception:  # noqa: BLE001 - any missing/unreadable tokenizer: time with a stand-in
        config = copy.deepcopy(config)
        path = folder / "untrained-tokenizer.ckpt"
        save_checkpoint(path, {"phase": "vqgan", "config": config.to_dict(), "step": 0, "model": VQGAN(config.vqgan).state_dict()})
        config.transformer.tokenizer = str(path)
        return config


def run_bench(config: Config, out: str | Path | None = None, steps: int = 10, batch_sizes: tuple[int, ...] = (1, 64),
              device: str | None = None, progress: bool = True, compile: bool = False) -> dict[str, Any]:
    """Everything above, written to ``out`` (default ``results/benchmarks.json``, one entry per profile and device) as JSON."""
    device = torch.device(device or pick_device())
    data = prepare_data(config.data, progress=progress)
    peak = {"fp32": matmul_flops(device, torch.float32), "bf16": matmul_flops(device, torch.bfloat16)}
    with tempfile.TemporaryDirectory() as folder:
        timing_config = _ensure_tokenizer_for_timing(config, Path(folder))
        report = {
            "profile": config.profile, "device": str(device), "environment": environment_report(),
            "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn_convolutions": torch.backends.cudnn.allow_tf32},
            "matmul_flops_per_s": peak,
            "training": bench_training(timing_config, data, device, steps, peak, compile),
            "sampling": bench_sampling(config, len(data.class_names), device, batch_sizes),
        }
    path = Path(out) if out else results_dir() / "benchmarks.json"
    write_report(path, f"{config.profile} profile on {device.type}", report)
    report["path"] = str(path)
    return report


def write_report(path: Path, key: str, report: dict[str, Any]) -> None:
    """One file for every profile and device: this run replaces only its own entry."""
    reports = json.loads(path.read_text()) if path.is_file() else {}
    reports[key] = report
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(reports, indent=2) + "\n")
    tmp.replace(path)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The report as a few readable lines (what the CLI prints)."""
    lines = [f"device {report['device']}, profile {report['profile']}; matmul peak "
             f"{report['matmul_flops_per_s']['fp32'] / 1e9:.0f} GFLOP/s fp32, {report['matmul_flops_per_s']['bf16'] / 1e9:.0f} bf16"]
    for phase, row in report["training"].items():
        line = (f"train {phase:<11} fp32 {row['fp32']['images_per_s']:8.1f} img/s (MFU {row['fp32']['mfu']:.1%}) | "
                f"bf16 {row['bf16']['images_per_s']:8.1f} img/s (MFU {row['bf16']['mfu']:.1%}) | bf16 ×{row['bf16_speedup']:.2f}")
        for variant in ("bf16+channels_last", "bf16+compile"):
            if variant in row:
                line += f" | {variant} {row[variant]['images_per_s']:.1f} img/s ×{row[variant + '_speedup']:.2f}"
        lines.append(line)
    for key, row in report["sampling"].items():
        if key.startswith("batch_"):
            lines.append(f"sample {key:<9} MaskGIT-8 {row['maskgit_8']:8.1f} | MaskGIT-12 {row['maskgit_12']:8.1f} | "
                         f"AR {row['autoregressive']:8.1f} img/s | MaskGIT-12/AR ×{row['ratio_maskgit_12_vs_ar']:.2f}")
    return lines
