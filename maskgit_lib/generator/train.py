"""Training the Transformer (phase ``transformer``) on the cached token grids.

Each step: a batch of token grids; for every example its own mask ratio r ~ U(0, 1) and
⌈γ(r)·N⌉ positions replaced by [MASK] (``masking.training_mask``); the class label replaced by
"no class" for a random ``class_dropout`` share of examples, independently of the mask, so the
model also learns the unconditional distribution that classifier-free guidance needs; the loss is
the cross-entropy on the masked positions. With ``transformer.causal`` the same trainer fits the
autoregressive baseline (next-token loss on every position, no masking).

Logging, checkpoints and exact resume come from :class:`maskgit_lib.trainer.PhaseTrainer`; batches,
masks and label drops are pure functions of (seed, step).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from maskgit_lib import distributed as ddp
from maskgit_lib.checkpoint import CheckpointError, load_checkpoint
from maskgit_lib.config import Config, load_config
from maskgit_lib.data.batches import epoch_order
from maskgit_lib.data.prepared import PreparedData, prepare_data
from maskgit_lib.generator.decoding import maskgit_decode
from maskgit_lib.generator.masking import label_dropout, training_mask
from maskgit_lib.generator.tokens import file_digest, token_dataset
from maskgit_lib.generator.transformer import MaskGITTransformer, build_transformer, masked_token_loss
from maskgit_lib.paths import repo_root
from maskgit_lib.precision import autocast_for
from maskgit_lib.tokenizer.vqgan import vqgan_from_checkpoint
from maskgit_lib.trainer import PhaseTrainer, check_resumable, default_run_dir


def tokenizer_path(config: Config) -> Path:
    """The tokenizer checkpoint named by ``transformer.tokenizer`` ({profile} filled in)."""
    path = Path(config.transformer.tokenizer.format(profile=config.profile)).expanduser()
    if not path.is_absolute():
        path = (repo_root() or Path.cwd()) / path
    if not path.is_file():
        raise CheckpointError(
            f"tokenizer checkpoint {path} not found: train one (maskgit train --phase vqgan) and pass it with --tokenizer"
        )
    return path


def _which_images(data: dict[str, Any]) -> tuple[str, str | None, int]:
    """What decides a data set's pixels for a tokenizer: the data set, its folder, the image size."""
    folder = data.get("path") if data["dataset"] == "folder" else None
    return data["dataset"], str(Path(folder).expanduser().resolve()) if folder else None, int(data["image_size_px"])


def _image_words(which: tuple[str, str | None, int], with_size: bool) -> str:
    dataset, folder, size_px = which
    words = f"{dataset} {folder}" if folder else dataset
    return f"{words} at {size_px} px" if with_size else words


def _shown(path: Path) -> str:
    """``path`` as a learner would type it from here: relative to the current folder when inside it."""
    path = Path(path).resolve()
    return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)


def tokenizer_saw_these_images(tokenizer_config: dict[str, Any], config: Config) -> bool:
    """Was the tokenizer (its stored config) trained on the images ``config`` trains on?

    Only what decides the pixels is compared (data set, folder, image size), so the shipped tokenizer
    keeps serving avatar runs of any n_train or seed. One test for the training guard below and for
    the notebooks' choice of the learner's tokenizer (``load_or_train``), so the two never disagree.
    """
    return _which_images(tokenizer_config["data"]) == _which_images(config.to_dict()["data"])


def check_tokenizer_data(tokenizer_config: dict[str, Any], config: Config, path: Path) -> None:
    """Refuse a tokenizer trained on other images than this run trains on.

    Why: ``transformer.tokenizer`` defaults to the shipped avatar tokenizer, so a Transformer on a
    learner's own photos would otherwise train, without a word, on the tokens of a codebook that never
    saw such images (the comparison: :func:`tokenizer_saw_these_images`).
    """
    if tokenizer_saw_these_images(tokenizer_config, config):
        return
    theirs, ours = _which_images(tokenizer_config["data"]), _which_images(config.to_dict()["data"])
    dataset, folder, size_px = ours
    command = f"maskgit train --phase vqgan --profile {config.profile} --dataset {dataset}"
    command += f" --path {shlex.quote(folder)}" if folder else ""
    if size_px != load_config(config.profile).data.image_size_px:
        command += f" --image-size {size_px}"
    with_size = theirs[2] != size_px
    raise CheckpointError(
        f"the tokenizer {_shown(path)} was trained on {_image_words(theirs, with_size)}, this run trains on "
        f"{_image_words(ours, with_size)}: train a tokenizer on it first ({command}) and pass it with "
        f"--tokenizer {_shown(default_run_dir('vqgan', config.profile) / 'checkpoints' / 'last.ckpt')}"
    )


def check_tokenizer_fits(config: Config) -> None:
    """:func:`check_tokenizer_data` for the tokenizer ``config`` names (one read of its checkpoint)."""
    path = tokenizer_path(config)
    check_tokenizer_data(load_checkpoint(path, phase="vqgan")["config"], config, path)


class TransformerTrainer(PhaseTrainer):
    phase = "transformer"
    architecture_sections = ("transformer",)
    curve_keys = (["loss"], ["val_loss", "val_accuracy"])

    def __init__(
        self, config: Config, data: PreparedData | None = None, run_dir: str | Path | None = None, progress: bool = True,
        device: str | torch.device | None = None, log: Callable[[str], None] = print,
    ):
        if config.transformer.causal:
            self.phase = "transformer-ar"
        path = tokenizer_path(config)
        tokenizer_payload = load_checkpoint(path, phase="vqgan")  # read once: checked now, built below
        check_tokenizer_data(tokenizer_payload["config"], config, path)  # before the run folder exists
        self._setup_common(config, config.train_transformer, run_dir, progress, device, log)
        with ddp.main_first():  # rank 0 prepares (renders, caches) the data set; the others read it
            self.data = data if data is not None else prepare_data(config.data, progress=self.progress)
        self.tokenizer, _ = vqgan_from_checkpoint(tokenizer_payload, path, self.device)
        del tokenizer_payload  # the weights now live in the model
        self.tokenizer_digest = file_digest(path)  # ties the Transformer to these exact tokenizer bytes
        with ddp.main_first():  # rank 0 encodes and caches the tokens; the others read the cache
            self.tokens = token_dataset(self.data, self.tokenizer, path, progress=progress and ddp.is_main())
        self.n_train = len(self.tokens["train_tokens"])
        grid = self.tokens["train_tokens"].shape[1:]
        self.model = self.build_model(self.tokenizer.config.quantizer.codebook_size, grid[0] * grid[1]).to(self.device)
        self.forward = self._compiled(self.model)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.cfg.lr, betas=tuple(self.cfg.betas),
                                           weight_decay=self.cfg.weight_decay)

    def build_model(self, codebook_size: int, n_tokens: int) -> torch.nn.Module:
        """The model this phase trains (a text-conditioned trainer builds another)."""
        return build_transformer(self.config, codebook_size, len(self.data.class_names), n_tokens)

    def modules(self) -> dict[str, Any]:
        return {"model": self.model, "optimizer": self.optimizer}

    def _batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's share of step ``step``'s global batch (all of it on one process)."""
        size = self.global_batch
        per_epoch = max(self.n_train // size, 1)
        epoch, index = divmod(step, per_epoch)
        order = epoch_order(self.n_train, self.cfg.seed, epoch)[index * size : (index + 1) * size]
        order = order[ddp.local_share(self.cfg.batch_size)]
        tokens = torch.from_numpy(self.tokens["train_tokens"][order.numpy()].astype(np.int64)).flatten(1)  # (B, N)
        labels = torch.from_numpy(self.tokens["train_labels"][order.numpy()])  # (B,)
        return tokens.to(self.device), labels.to(self.device)

    def _loss(
        self, tokens: torch.Tensor, labels: torch.Tensor, generator: torch.Generator, share: slice | None = None
    ) -> tuple[torch.Tensor, dict]:
        """Loss and accuracy; with ``share``, the masks are drawn for the global batch and sliced, so
        several ranks draw exactly what one process with the whole batch would."""
        t = self.config.transformer
        normalizer = None
        with autocast_for(self.device, self.precision.name):
            if self.model.causal:
                logits = self.forward(tokens, labels)  # position i predicts token i from tokens < i
                mask = torch.ones_like(tokens, dtype=torch.bool)
            else:
                n_drawn = self.global_batch if share is not None else len(tokens)
                drawn = training_mask(n_drawn, tokens.shape[1], t.schedule, generator=generator, device=self.device)
                mask = drawn[share] if share is not None else drawn
                # every rank knows the global mask: normalise by its share of the global count
                normalizer = drawn.sum().clamp_min(1) / ddp.world_size() if share is not None else None
                inputs = torch.where(mask, self.model.layout.mask_id, tokens)
                logits = self.forward(inputs, labels)  # (B, N, K)
            loss = masked_token_loss(logits, tokens, mask, t.label_smoothing, t.loss_on_all_tokens or self.model.causal, normalizer)
        accuracy = ((logits.argmax(-1) == tokens) & mask).sum() / mask.sum()
        return loss, {"loss": loss.item(), "masked_accuracy": accuracy.item()}

    def train_step(self) -> dict[str, Any]:
        tokens, labels = self._batch(self.step)
        generator = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + self.step)
        share = ddp.local_share(self.cfg.batch_size)
        drop = label_dropout(self.global_batch, self.config.transformer.class_dropout, generator)[share]  # (B,) independent of the mask
        labels = torch.where(drop.to(self.device), -1, labels)
        lr = self._set_lr(self.optimizer)
        self.model.train()
        loss, stats = self._loss(tokens, labels, generator, share)
        self.optimizer.zero_grad(set_to_none=True)
        self._backward(loss)
        self._step(self.optimizer, self.model)
        self.step += 1
        return {"step": self.step, "epoch": self.epoch(), "lr": lr, **stats, "dropped_labels": int(drop.sum())}

    @torch.no_grad()
    def validate(self, n_images: int | None = None, batch_size: int = 256) -> dict[str, float]:
        """Loss and accuracy on validation tokens with fixed masks (the same every time)."""
        self.model.eval()
        n = n_images or len(self.tokens["val_tokens"])
        tokens_all, labels_all = self.tokens["val_tokens"][:n], self.validation_conditions(n)
        generator = torch.Generator().manual_seed(12345)
        total_loss, total_acc, count = 0.0, 0.0, 0
        for start in range(0, len(tokens_all), batch_size):
            tokens = torch.from_numpy(tokens_all[start : start + batch_size].astype(np.int64)).flatten(1).to(self.device)
            labels = labels_all[start : start + batch_size].to(self.device)
            loss, stats = self._loss(tokens, labels, generator)
            total_loss += loss.item() * len(tokens)
            total_acc += stats["masked_accuracy"] * len(tokens)
            count += len(tokens)
        return {"val_loss": total_loss / count, "val_accuracy": total_acc / count}

    def validation_conditions(self, n: int) -> torch.Tensor:
        """What the first ``n`` validation images are conditioned on: their labels (n,)."""
        return torch.from_numpy(self.tokens["val_labels"][:n])

    @torch.no_grad()
    def sample_grid(self, per_class: int = 8, steps: int = 12) -> torch.Tensor:
        """``per_class`` samples of every class (rows), decoded to images (C*per_class, 3, H, W)."""
        from maskgit_lib.generator.decoding import autoregressive_decode

        labels = torch.arange(len(self.data.class_names)).repeat_interleave(per_class)
        if self.model.causal:
            tokens = autoregressive_decode(self.model, len(labels), labels, seed=0)
        else:
            tokens, _ = maskgit_decode(self.model, len(labels), labels, steps=steps, schedule=self.config.transformer.schedule, seed=0)
        side = int(round(tokens.shape[1] ** 0.5))
        return self.tokenizer.decode_tokens(tokens.view(-1, side, side)).cpu()

    def validate_and_show(self, n_images: int | None) -> dict[str, float]:
        from maskgit_lib.figures import image_grid, save_image

        result = self.validate(n_images)
        if self.ema:  # the same fixed masks on the averaged weights: the two losses compare directly
            with self.averaged_weights():
                result.update({f"{k}_ema": v for k, v in self.validate(n_images).items()})
        save_image(image_grid(self.sample_grid(), n_cols=8), self.run_dir / f"samples_{self.step:06d}.png", scale=3)
        return result

    def state(self) -> dict[str, Any]:
        """The checkpoint also records which tokenizer file the token ids mean something for."""
        return {**super().state(), "tokenizer_digest": self.tokenizer_digest}

    def result_text(self, summary: dict[str, Any]) -> str:
        text = f"val loss {summary['val_loss']:.3f}, masked-token accuracy {summary['val_accuracy']:.1%}"
        if "val_loss_ema" in summary:
            text += f" (EMA weights: {summary['val_loss_ema']:.3f}, {summary['val_accuracy_ema']:.1%})"
        return text

    def summary_extra(self) -> dict[str, Any]:
        return {"tokens_per_image": self.model.n_tokens, "codebook_size": self.model.layout.codebook_size,
                "classes": len(self.data.class_names), "causal": self.model.causal}


def train_transformer(config: Config, ckpt_path=None, max_steps: int | None = None, run_dir=None, progress: bool = True) -> dict[str, Any]:
    """What ``maskgit train --phase transformer`` runs."""
    if ckpt_path:
        phase = "transformer-ar" if config.transformer.causal else TransformerTrainer.phase
        check_resumable(ckpt_path, phase, config, TransformerTrainer.architecture_sections)
    return TransformerTrainer(config, run_dir=run_dir, progress=progress).run(ckpt_path, max_steps)


@torch.no_grad()
def accuracy_by_mask_ratio(
    model: MaskGITTransformer, tokens: np.ndarray, labels: np.ndarray, ratios: list[float], seed: int = 0
) -> list[float]:
    """Masked-token accuracy when a fixed share of every grid is masked: more context, easier guesses."""
    model.eval()
    device = next(model.parameters()).device
    grid = torch.from_numpy(tokens.astype(np.int64)).flatten(1).to(device)  # (B, N)
    label_t = torch.from_numpy(labels).to(device)
    generator = torch.Generator().manual_seed(seed)
    result = []
    for ratio in ratios:
        n_masked = max(1, round(ratio * grid.shape[1]))
        ranks = torch.rand(grid.shape, generator=generator).argsort(1).argsort(1).to(device)
        mask = ranks < n_masked
        logits = model(torch.where(mask, model.layout.mask_id, grid), label_t)
        result.append((((logits.argmax(-1) == grid) & mask).sum() / mask.sum()).item())
    return result
