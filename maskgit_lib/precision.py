"""Mixed precision that works on every device: which autocast dtype a run uses, and why.

``TrainConfig.precision`` is ``auto`` (the default), ``bf16``, ``fp16`` or ``fp32``. ``auto`` means:

- a CUDA GPU with native bf16 (Ampere and newer: A100, H100, RTX 30xx+): **bf16** autocast. bf16 has
  fp32's range, so gradients neither underflow nor overflow and no loss scaling is needed;
- a CUDA GPU without it (Colab's T4, V100): **fp16** autocast with a gradient scaler. fp16 has tensor
  cores there but a narrow range: small gradients would underflow to zero, so the loss is multiplied by
  a large scale before backward, the gradients are divided by it before clipping and the optimizer
  step, and a step whose gradients overflowed is skipped while the scale backs off (``torch.amp.GradScaler``);
- a CPU: the profile's ``cpu_precision``. Whether bf16 pays off on a CPU depends on the CPU and the
  model, so the profile states what was measured (the ``cpu`` profile's bf16 trains the tokenizer
  1.4-1.6x faster than fp32 on the reference 2-core CPU); a profile that states nothing gets fp32.

Whatever the dtype, the quantizer's distances and GroupNorm run in fp32 (see ``quantize``, ``vqgan``).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch

from maskgit_lib.config import TrainConfig

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
LABELS = {"bf16": "bf16 autocast", "fp16": "fp16 autocast + gradient scaler", "fp32": "fp32, no autocast"}


@dataclass(frozen=True)
class Precision:
    """What a run computes in (``name``: bf16 | fp16 | fp32) and why (``reason``, for a learner)."""

    name: str
    reason: str

    @property
    def uses_grad_scaler(self) -> bool:
        return self.name == "fp16"

    def describe(self) -> str:
        return f"{LABELS[self.name]} ({self.reason})"


def has_native_bf16() -> bool:
    """Whether the current CUDA GPU computes bf16 in hardware (compute capability 8.0+).

    ``including_emulation=False``: by default ``is_bf16_supported()`` also says yes on a T4, where
    bf16 is emulated, slowly.
    """
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)


def resolve_precision(cfg: TrainConfig, device: torch.device | str) -> Precision:
    """The precision a phase trained with ``cfg`` uses on ``device``."""
    device = torch.device(device)
    gpu = f"CUDA GPU {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    if cfg.precision == "bf16" and gpu and not has_native_bf16():
        return Precision("bf16", f"set: precision bf16; {gpu} only emulates it, slowly: auto would take fp16")
    if cfg.precision != "auto":
        return Precision(cfg.precision, f"set: precision {cfg.precision}")
    if gpu:
        if has_native_bf16():
            return Precision("bf16", f"auto: {gpu} has native bf16")
        return Precision("fp16", f"auto: {gpu} has no native bf16")
    if device.type == "cpu":
        return Precision(cfg.cpu_precision, "auto: on a CPU, the profile's cpu_precision")
    return Precision("fp32", f"auto: no mixed precision on {device.type}")


def autocast_for(device: torch.device, precision: str):
    """Autocast to ``precision``'s dtype on ``device``, or nothing for fp32."""
    return torch.autocast(device_type=device.type, dtype=DTYPES[precision]) if precision in DTYPES else nullcontext()


def grad_scaler(device: torch.device, precision: Precision) -> torch.amp.GradScaler:
    """A gradient scaler, enabled under fp16 only (disabled, it passes everything through unchanged)."""
    return torch.amp.GradScaler(device.type, enabled=precision.uses_grad_scaler)
