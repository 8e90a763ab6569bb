"""One checkpoint format for both phases: the config, the weights, the optimizers, the step, the RNG.

Why the config inside: a checkpoint rebuilds its own model (no guessing which YAML made it), and a
resume with another architecture fails with the name of the setting that differs instead of a
wall of shape errors. Written atomically (temporary file + rename), so an interrupted save never
destroys the previous checkpoint; read with ``torch.load(weights_only=True)``, which cannot run code.
Shipped (exported) checkpoints are also zlib-compressed (``MGZ1`` header): ~8 % smaller, so the three
of them stay under 25 MB in git, and they load in a fraction of a second.
"""

from __future__ import annotations

import io
import os
import zlib
from pathlib import Path
from typing import Any

import torch

FORMAT = 1
COMPRESSED = b"MGZ1"  # magic bytes of a zlib-compressed checkpoint


class CheckpointError(ValueError):
    """A checkpoint that cannot be used as asked; the message says what to do."""


def save_checkpoint(path: str | Path, payload: dict[str, Any], compress: bool = False) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if compress:
        buffer = io.BytesIO()
        torch.save({"format": FORMAT, **payload}, buffer)
        tmp.write_bytes(COMPRESSED + zlib.compress(buffer.getvalue(), 9))
    else:
        torch.save({"format": FORMAT, **payload}, tmp)
    os.replace(tmp, path)  # atomic on POSIX and Windows
    return path


def _read(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        compressed = f.read(len(COMPRESSED)) == COMPRESSED
    if compressed:
        data = zlib.decompress(path.read_bytes()[len(COMPRESSED) :])
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    return torch.load(path, map_location="cpu", weights_only=True)


def load_checkpoint(path: str | Path, phase: str | None = None) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; check --ckpt_path/--checkpoint")
    try:
        payload = _read(path)
    except Exception as err:
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(err).__name__}); was it written completely?") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a maskgit-course checkpoint (format {FORMAT})")
    if phase is not None and payload.get("phase") != phase:
        raise CheckpointError(f"{path} is a {payload.get('phase')!r} checkpoint, but a {phase!r} one is needed here")
    return payload


def _flatten(values: Any, prefix: str) -> dict[str, Any]:
    if isinstance(values, dict):
        out: dict[str, Any] = {}
        for key, value in values.items():
            out |= _flatten(value, f"{prefix}.{key}" if prefix else key)
        return out
    return {prefix: values}


def check_same_settings(saved: dict[str, Any], wanted: dict[str, Any], sections: tuple[str, ...], path: str | Path) -> None:
    """Raise if ``saved`` (a checkpoint's config) and ``wanted`` differ in any key of ``sections``."""
    for section in sections:
        old, new = _flatten(saved.get(section, {}), section), _flatten(wanted.get(section, {}), section)
        for key in sorted(old.keys() | new.keys()):
            if old.get(key) != new.get(key):
                raise CheckpointError(
                    f"checkpoint {path} was trained with {key}={old.get(key)!r} but the config asks for "
                    f"{new.get(key)!r}; use the config it was trained with (same --profile/--config_file) or start without it"
                )


def export_weights(src: str | Path, dst: str | Path, extra: dict[str, Any] | None = None, ema: bool = False) -> Path:
    """A small, shippable copy of a training checkpoint: the config and fp16 weights, no optimizer.

    fp16 halves the file (what git and Colab download); loading copies the weights back into fp32
    parameters, and the reconstructions differ from the fp32 model by far less than a grey level.
    With ``ema`` the copy holds the run's moving average of the weights (``train.ema_decay``) in
    their place, so every loader, ``sample`` and ``evaluate`` use it unchanged.
    """
    payload = load_checkpoint(src)
    state, which = payload["model"], {}
    if ema:
        if "ema" not in payload:
            raise CheckpointError(f"{src} holds no average of its weights: train with ema_decay > 0 "
                                  "(e.g. train_transformer.ema_decay: 0.999), or export without --ema")
        state = payload["ema"]["model"]
        which = {"weights": f"EMA, decay {payload['ema']['decay']}, over {payload['ema']['updates']} steps"}
    weights = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
    keep = {k: payload[k] for k in ("phase", "config", "step", "class_names", "tokenizer_digest", "vocabulary") if k in payload}
    return save_checkpoint(dst, {**keep, "model": weights, "exported_from_step": payload["step"], **which, **(extra or {})},
                           compress=True)
