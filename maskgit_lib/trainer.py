"""What both training phases share: the loop, logging, the metrics log, the learning-rate schedule,
mixed precision (autocast, the gradient scaler), checkpoints and exact resume.

A phase (:mod:`maskgit_lib.tokenizer.train`, :mod:`maskgit_lib.generator.train`) subclasses
:class:`PhaseTrainer` and supplies its model, its ``train_step()`` and its validation. A run writes to
``results/runs/<phase>-<profile>/``: ``metrics.jsonl`` (one JSON row per log or validation),
``curves.png``, the phase's images, ``summary.json`` and ``checkpoints/last.ckpt`` (atomic).
``--ckpt_path`` resumes from a checkpoint and continues exactly as an uninterrupted run would:
batches are a pure function of the step, and the RNG and gradient-scaler states are saved.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from maskgit_lib import distributed as ddp
from maskgit_lib.checkpoint import check_same_settings, load_checkpoint, save_checkpoint
from maskgit_lib.config import Config, TrainConfig, config_from_dict
from maskgit_lib.ema import WeightAverage
from maskgit_lib.paths import results_dir
from maskgit_lib.precision import grad_scaler, resolve_precision
from maskgit_lib.progress import progress_bar

if TYPE_CHECKING:  # a type only: the engine imports no stage at run time
    from maskgit_lib.data.prepared import PreparedData


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup to ``lr``, then cosine decay to ``lr * min_lr_ratio`` at ``max_steps``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min((step - cfg.warmup_steps) / max(cfg.max_steps - cfg.warmup_steps, 1), 1.0)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def default_device() -> torch.device:
    """Where training runs unless told: the current CUDA GPU, else the CPU."""
    return torch.device(f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cpu")


def default_run_dir(phase: str, profile: str) -> Path:
    return results_dir() / "runs" / f"{phase}-{profile}"


def data_line(data: PreparedData) -> str:
    """One line naming what a run trains on: the config decides it, not the last ``prepare-data``,
    so a run on the wrong data set shows itself at once instead of after an hour."""
    counts, folder = data.meta["counts"], data.meta.get("spec", {}).get("path")
    name = f"{data.meta['dataset']} {folder}" if folder else data.meta["dataset"]
    return (f"data: {name}, {counts['train']} train + {counts['val']} val images, {data.image_size_px} px, "
            f"{len(data.class_names)} classes")


class MetricsLog:
    """Appends one JSON object per line; easy to read back with pandas or ``read_metrics``."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def restart_at(self, step: int) -> None:
        """Forget rows after ``step``: a fresh run (step 0) starts an empty log, a resumed run drops
        what an interrupted run logged after its last checkpoint."""
        kept = [r for r in read_metrics(self.path) if r["step"] <= step] if step > 0 else []
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def write(self, row: dict[str, Any]) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()}) + "\n")


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


class PhaseTrainer:
    """What both training phases share: the loop, logging, validation cadence, checkpoints, resume.

    A phase defines ``phase``, ``cfg`` (its :class:`TrainConfig`), ``model``, ``modules()`` (the
    state dicts to checkpoint), ``train_step()``, ``validate_and_show(n)``, ``curve_keys`` and
    ``summary_extra()``.
    """

    phase: str
    architecture_sections: tuple[str, ...]
    curve_keys: tuple[list[str], list[str]]

    def _setup_common(self, config: Config, cfg: TrainConfig, run_dir, progress: bool, device, log) -> None:
        self.config, self.cfg = config, cfg
        self.progress, self.log = progress and ddp.is_main(), (log if ddp.is_main() else (lambda message: None))
        self.device = torch.device(device) if device else default_device()
        self.precision = resolve_precision(cfg, self.device)  # bf16 | fp16 | fp32, and why
        self.scaler = grad_scaler(self.device, self.precision)  # fp16 only; otherwise a pass-through
        self.global_batch = cfg.batch_size * ddp.world_size()  # what one optimizer step sees, over all ranks
        self.best: dict[str, Any] | None = None  # with keep_best: the best validation so far (metric, value, step)
        torch.manual_seed(cfg.seed)  # model initialisation and the quantizer's random choices
        self.run_dir = Path(run_dir) if run_dir else default_run_dir(self.phase, config.profile)
        self.step = 0
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl")
        self._ema: WeightAverage | None = None  # with ema_decay > 0: made from the model on first use

    @property
    def ema(self) -> WeightAverage | None:
        """The moving average of ``model``'s weights (``train.ema_decay`` > 0), else None."""
        if self.cfg.ema_decay > 0 and self._ema is None:
            self._ema = WeightAverage(self.model, self.cfg.ema_decay)
        return self._ema

    @contextmanager
    def averaged_weights(self) -> Iterator[None]:
        """Inside the block ``model`` (and its compiled wrapper) holds the EMA weights; after it, its own."""
        own = {k: v.clone() for k, v in self.model.state_dict().items()}
        self.model.load_state_dict(self.ema.model.state_dict())
        try:
            yield
        finally:
            self.model.load_state_dict(own)

    def _compiled(self, model: nn.Module) -> nn.Module:
        """``model`` itself, or with ``compile: true`` a compiled wrapper that shares its parameters
        (checkpoints keep saving ``model``, so their keys do not change)."""
        return torch.compile(model) if self.cfg.compile else model

    def modules(self) -> dict[str, Any]:
        raise NotImplementedError

    def epoch(self) -> int:
        """Completed passes over the training examples (``n_train`` is set by the phase)."""
        return self.step // max(self.n_train // self.cfg.batch_size, 1)

    def state(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {"phase": self.phase, "config": self.config.to_dict(), "step": self.step, "epoch": self.epoch(), "rng": rng,
                "class_names": self.data.class_names, "grad_scaler": self.scaler.state_dict(), "best": self.best,
                **{k: m.state_dict() for k, m in self.modules().items()},
                **({"ema": self.ema.state_dict()} if self.ema else {})}

    def save(self, path: str | Path | None = None) -> Path:
        return save_checkpoint(path or self.run_dir / "checkpoints" / "last.ckpt", self.state())

    def load(self, path: str | Path) -> None:
        """Resume from ``path``; refuses a checkpoint whose architecture differs from the config."""
        payload = check_resumable(path, self.phase, self.config, self.architecture_sections)
        for key, module in self.modules().items():
            module.load_state_dict(payload[key])
        self.step = int(payload["step"])
        self.best = payload.get("best")
        torch.set_rng_state(payload["rng"]["torch"])
        if "cuda" in payload["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(payload["rng"]["cuda"])
        if payload.get("grad_scaler") and self.scaler.is_enabled():  # empty when saved without fp16: start afresh
            self.scaler.load_state_dict(payload["grad_scaler"])
        self._load_average(payload, path)

    def _load_average(self, payload: dict[str, Any], path: str | Path) -> None:
        """The saved EMA, or, for a run that turns ``ema_decay`` on midway, one started from the weights just loaded."""
        if not self.ema:
            return
        if "ema" in payload:
            self.ema.load_state_dict(payload["ema"])
        else:
            self.ema.restart_from(self.model)
            self.log(f"{path} holds no average of its weights: the EMA (decay {self.cfg.ema_decay}) starts from its step {self.step}")

    def fit(self, max_steps: int | None = None) -> dict[str, Any]:
        """Train until ``max_steps`` (default: the config's), validating, logging and saving on the way."""
        max_steps = max_steps or self.cfg.max_steps
        main = ddp.is_main()  # with several ranks, rank 0 alone logs, validates and saves
        if main:
            self.metrics.restart_at(self.step)
        started, window_start, window_images = time.perf_counter(), time.perf_counter(), 0
        bar = progress_bar(range(self.step, max_steps), self.progress, f"training {self.phase}", total=max_steps - self.step)
        for _ in bar:
            row = self.train_step()
            if self.ema:
                self.ema.update(self.model)
            window_images += self.global_batch
            if not main:
                continue
            if self.step % self.cfg.log_every == 0 or self.step == max_steps:
                row["images_per_s"] = window_images / max(time.perf_counter() - window_start, 1e-9)
                self.metrics.write(row)
                window_start, window_images = time.perf_counter(), 0
                if hasattr(bar, "set_postfix"):
                    bar.set_postfix(loss=f"{row['loss']:.3f}")
            if self.step % self.cfg.val_every == 0 and self.step < max_steps:
                result = self.validate_and_show(self.cfg.val_images)
                self.metrics.write({"step": self.step, **result})
                self._keep_best(result)
            if self.step % self.cfg.checkpoint_every == 0:
                self.save()
            if self.cfg.keep_every and self.step % self.cfg.keep_every == 0:  # a trail of the run, for later measurement
                self.save(self.run_dir / "checkpoints" / f"step-{self.step:06d}.ckpt")
        if not main:
            ddp.barrier()  # wait while rank 0 validates and saves
            return {"phase": self.phase, "steps": self.step}
        final = self.validate_and_show(None)
        self.metrics.write({"step": self.step, **final})
        self._keep_best(final)
        self.save()
        summary = {
            "phase": self.phase, "profile": self.config.profile, "steps": self.step, **final,
            "train_seconds_this_session": round(time.perf_counter() - started, 1),
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "device": str(self.device), "ranks": ddp.world_size(), "precision": self.precision.name, **self.summary_extra(),
            **({"best": self.best} if self.cfg.keep_best else {}),
        }
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        from maskgit_lib.figures import plot_training_curves

        fig = plot_training_curves(read_metrics(self.metrics.path), *self.curve_keys)
        fig.savefig(self.run_dir / "curves.png", dpi=120, bbox_inches="tight")
        ddp.barrier()
        return summary

    def _keep_best(self, result: dict[str, float]) -> None:
        """With ``keep_best``: save ``checkpoints/best.ckpt`` whenever the validation improves (lower
        ``val_loss``, or higher ``val_psnr`` for the tokenizer). Early stopping without stopping: the
        run goes on, so the curves show the over-fitting, and the best model stays on disk.

        The mid-run validations may use fewer images than the final one (``val_images``); on a
        small data set set ``val_images`` ≥ the validation set so every point is comparable."""
        if not self.cfg.keep_best:
            return
        key, sign = ("val_loss", 1.0) if "val_loss" in result else ("val_psnr", -1.0)
        value = float(result[key])
        if self.best is None or sign * value < sign * self.best["value"]:
            self.best = {"metric": key, "value": value, "step": self.step}
            self.save(self.run_dir / "checkpoints" / "best.ckpt")

    def run(self, ckpt_path: str | Path | None = None, max_steps: int | None = None) -> dict[str, Any]:
        """Resume from ``ckpt_path`` if given, train to ``max_steps``, and log one line with the result."""
        self.log(data_line(self.data))
        self.log(f"{self.phase} precision: {self.precision.describe()}")
        if ckpt_path:
            self.load(ckpt_path)
            self.log(f"resumed from {ckpt_path} at step {self.step}")
        summary = self.fit(max_steps)
        self.log(f"{self.phase}: step {summary['steps']}, {self.result_text(summary)} -> {self.run_dir}")
        return summary

    def _set_lr(self, *optimizers: torch.optim.Optimizer) -> float:
        lr = lr_at(self.step, self.cfg)
        for opt in optimizers:
            for group in opt.param_groups:
                group["lr"] = lr
        return lr

    def _backward(self, loss: torch.Tensor, retain_graph: bool = False) -> None:
        """Back-propagate ``loss``, multiplied by the gradient scaler's scale under fp16."""
        self.scaler.scale(loss).backward(retain_graph=retain_graph)

    def _step(self, optimizer: torch.optim.Optimizer, module: nn.Module, update_scale: bool = True) -> None:
        """Average the gradients over ranks (data parallel), unscale them, clip their norm, step.

        Averaging comes first so that every rank sees the same inf/nan and the scaler skips the same
        steps everywhere; clipping comes after unscaling so that it sees the true gradients. Then the
        scaler adapts its scale (grows it after a run of clean steps, halves it after an overflow);
        ``update_scale=False`` when a second optimizer's gradients were scaled with the same scale.
        """
        ddp.average_gradients(module.parameters())
        self.scaler.unscale_(optimizer)
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(module.parameters(), self.cfg.grad_clip)
        self.scaler.step(optimizer)  # skipped when a gradient overflowed under fp16
        if update_scale:
            self.scaler.update()


def check_resumable(path: str | Path, phase: str, config: Config, sections: tuple[str, ...]) -> dict[str, Any]:
    """The checkpoint at ``path`` if a ``phase`` run of ``config`` can resume from it, else a
    CheckpointError naming what differs. The ``train_*`` entry points call it before preparing data
    and tokens (minutes), so a wrong ``--ckpt_path`` fails at once."""
    payload = load_checkpoint(path, phase=phase)
    # rebuilt first, so that keys added since the checkpoint was written compare as their defaults
    saved = config_from_dict(payload["config"], source=str(path)).to_dict()
    check_same_settings(saved, config.to_dict(), sections, path)
    return payload

