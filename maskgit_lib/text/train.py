"""Training the text-conditioned Transformer (phase ``transformer-text``) on the cached token grids.

The class trainer's step with three changes (``TransformerTrainer`` does the rest: masks, loss,
logging, checkpoints, exact resume):
- the condition is a caption, drawn afresh for every image at every step from the image's
  attributes (``captions.make_caption``: clauses in random order, paraphrases), so the model learns
  the attributes, not one sentence per image. The draw is seeded by (seed, step): a resumed run
  draws exactly the captions the uninterrupted one would;
- caption dropout: each example independently (probability ``text.caption_dropout``) gets the
  empty caption, all PAD, so the model also learns the unconditional prediction guidance needs.
  The *dropped* examples are the empty ones (open-muse#143 shipped the opposite: 90 % empty);
- held-out attribute combinations (``text.held_out``) are removed from the training images, so a
  prompt that asks for one tests composition, not memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from maskgit_lib import distributed as ddp
from maskgit_lib.config import Config, ConfigError
from maskgit_lib.data.attributes import decode_attributes
from maskgit_lib.data.batches import epoch_order
from maskgit_lib.data.prepared import PreparedData
from maskgit_lib.generator.decoding import maskgit_decode
from maskgit_lib.generator.masking import label_dropout
from maskgit_lib.generator.train import TransformerTrainer
from maskgit_lib.generator.transformer import TEXT_PHASE
from maskgit_lib.text.captions import make_caption
from maskgit_lib.text.conditioned import TextConditionedTransformer, build_text_transformer
from maskgit_lib.text.encoder import PAD
from maskgit_lib.text.vocabulary import Vocabulary
from maskgit_lib.trainer import check_resumable

Caption = Callable[[dict[str, str], np.random.Generator], str]  # attributes, rng -> a caption


def drop_captions(words: torch.Tensor, drop: torch.Tensor) -> torch.Tensor:
    """Word ids (B, W) with the rows where ``drop`` (B,) is True emptied to PAD: the null caption."""
    return torch.where(drop[:, None], PAD, words)


def parse_held_out(held_out: Sequence[Sequence[str]], values: dict[str, list[str]]) -> list[list[tuple[str, str]]]:
    """``[["style=micah", "glasses=dark"], …]`` → ``[[("style", "micah"), ("glasses", "dark")], …]``,
    checked against the data set's attributes (a typo would otherwise hold out nothing, silently)."""
    parsed = []
    for combination in held_out:
        pairs = []
        for item in combination:
            name, _, value = item.partition("=")
            name, value = name.strip(), value.strip()
            if name not in values:
                raise ConfigError(f"text.held_out: unknown attribute {name!r} in {item!r}; known: {', '.join(values)}")
            if value not in values[name]:
                raise ConfigError(f"text.held_out: {name} has no value {value!r}; its values: {', '.join(values[name])}")
            pairs.append((name, value))
        parsed.append(pairs)
    return parsed


def held_out_images(attributes: np.ndarray, names: list[str], values: dict[str, list[str]],
                    held_out: list[list[tuple[str, str]]]) -> np.ndarray:
    """(N,) bool: the images (rows of ``attributes`` (N, A), value indices) that show a held-out combination."""
    hidden = np.zeros(len(attributes), dtype=bool)
    for combination in held_out:
        has_all = np.ones(len(attributes), dtype=bool)
        for name, value in combination:
            has_all &= attributes[:, names.index(name)] == values[name].index(value)
        hidden |= has_all
    return hidden


def check_text_data(data: PreparedData) -> None:
    """Text training needs every image's attributes: only the rendered avatars have them."""
    if getattr(data, "train_attributes", None) is None:
        raise ConfigError(f"text conditioning needs captions, made from the attributes of rendered avatars; the data set "
                          f"{data.meta.get('dataset')!r} has none: train with data.dataset: avatars, or transformer.condition: class")


class TextTransformerTrainer(TransformerTrainer):
    phase = TEXT_PHASE
    architecture_sections = ("transformer", "text")

    def __init__(
        self, config: Config, data: PreparedData | None = None, run_dir: str | Path | None = None, progress: bool = True,
        device: str | torch.device | None = None, log: Callable[[str], None] = print,
        vocabulary: Vocabulary | None = None, caption: Caption = make_caption,
    ):
        """``vocabulary`` (default: every word the caption grammar can emit over the data set's
        attributes) and ``caption`` can be replaced, e.g. by tests."""
        check_text_config(config)
        self.vocabulary, self.caption = vocabulary, caption
        super().__init__(config, data, run_dir, progress, device, log)
        names, values = self.data.attribute_names, self.data.attribute_values
        n_images = len(self.tables["train"])
        hidden = held_out_images(self.tables["train"], names, values, parse_held_out(config.text.held_out, values))
        hidden = np.concatenate([hidden, hidden])  # the token set holds every image twice, as it is and mirrored
        self.train_index = np.flatnonzero(~hidden)  # token rows training may use
        self.n_train = len(self.train_index)
        self.n_held_out_images = int(hidden[:n_images].sum())
        if self.n_train < self.global_batch:
            raise ConfigError(f"text.held_out leaves {self.n_train} training grids, fewer than one batch of {self.global_batch}")
        self.val_words = self.vocabulary.encode_batch(self._captions("val", np.arange(len(self.tokens["val_tokens"])),
                                                                     np.random.default_rng(12345)))  # (M, W), fixed

    def build_model(self, codebook_size: int, n_tokens: int) -> TextConditionedTransformer:
        check_text_data(self.data)
        self.tables = {"train": np.asarray(self.data.train_attributes), "val": np.asarray(self.data.val_attributes)}  # (N, A) read once
        if self.vocabulary is None:
            self.vocabulary = Vocabulary.from_grammar(self.data.attribute_values, max_words=self.config.text.max_words)
        return build_text_transformer(self.config, codebook_size, n_tokens, len(self.vocabulary.words))

    def _captions(self, split: str, images: np.ndarray, rng: np.random.Generator) -> list[str]:
        """One fresh caption for each image index of ``split``, in order, from ``rng``."""
        values = self.data.attribute_values
        return [self.caption(decode_attributes(self.tables[split][i], values), rng) for i in images]

    def _batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's share of step ``step``'s global batch: token grids (B, N) and caption word ids (B, W)."""
        size = self.global_batch
        per_epoch = max(self.n_train // size, 1)
        epoch, index = divmod(step, per_epoch)
        rows = self.train_index[epoch_order(self.n_train, self.cfg.seed, epoch)[index * size : (index + 1) * size].numpy()]
        rng = np.random.default_rng([self.cfg.seed, step])  # the whole global batch's captions: every rank agrees
        words = self.vocabulary.encode_batch(self._captions("train", rows % len(self.tables["train"]), rng))  # (B, W)
        share = ddp.local_share(self.cfg.batch_size)
        tokens = torch.from_numpy(self.tokens["train_tokens"][rows[share]].astype(np.int64)).flatten(1)  # (B, N)
        return tokens.to(self.device), words[share].to(self.device)

    def train_step(self) -> dict[str, Any]:
        tokens, words = self._batch(self.step)
        generator = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + self.step)
        share = ddp.local_share(self.cfg.batch_size)
        drop = label_dropout(self.global_batch, self.config.text.caption_dropout, generator)[share]  # (B,) True: empty caption
        words = drop_captions(words, drop.to(self.device))
        lr = self._set_lr(self.optimizer)
        self.model.train()
        loss, stats = self._loss(tokens, words, generator, share)
        self.optimizer.zero_grad(set_to_none=True)
        self._backward(loss)
        self._step(self.optimizer, self.model)
        self.step += 1
        return {"step": self.step, "epoch": self.epoch(), "lr": lr, **stats, "dropped_captions": int(drop.sum())}

    def validation_conditions(self, n: int) -> torch.Tensor:
        """One fixed caption per validation image (the same at every validation): word ids (n, W)."""
        return self.val_words[:n]

    def sample_prompts(self, n_prompts: int = 8) -> list[str]:
        """The prompts of the sample grids: the fixed captions of the first validation images."""
        return [self.vocabulary.decode(row) for row in self.val_words[:n_prompts].tolist()]

    @torch.no_grad()
    def sample_grid(self, per_class: int = 8, steps: int = 12) -> torch.Tensor:
        """``per_class`` samples of each of 8 prompts (rows), decoded to images (8*per_class, 3, H, W)."""
        words = self.val_words[:8].repeat_interleave(per_class, dim=0)  # (B, W)
        tokens, _ = maskgit_decode(self.model, len(words), words, steps=steps, schedule=self.config.transformer.schedule, seed=0)
        side = int(round(tokens.shape[1] ** 0.5))
        return self.tokenizer.decode_tokens(tokens.view(-1, side, side)).cpu()

    def validate_and_show(self, n_images: int | None) -> dict[str, float]:
        prompts = self.run_dir / "samples_prompts.txt"
        if not prompts.is_file():
            prompts.parent.mkdir(parents=True, exist_ok=True)
            prompts.write_text("".join(f"row {i + 1}: {p}\n" for i, p in enumerate(self.sample_prompts())))
        return super().validate_and_show(n_images)

    def state(self) -> dict[str, Any]:
        """The checkpoint also carries the word list: ids mean nothing without it."""
        return {**super().state(), "vocabulary": self.vocabulary.to_list()}

    def summary_extra(self) -> dict[str, Any]:
        return {"tokens_per_image": self.model.n_tokens, "codebook_size": self.model.layout.codebook_size,
                "conditioning": self.config.text.conditioning, "vocabulary_words": len(self.vocabulary.words),
                "held_out_images": self.n_held_out_images}


def check_text_config(config: Config) -> None:
    """Settings a text model cannot have, refused before anything is prepared."""
    if config.transformer.causal:
        raise ConfigError("the autoregressive baseline is class-conditional only: drop --autoregressive (or transformer.causal) for a text model")
    if config.data.dataset != "avatars":
        raise ConfigError(f"text conditioning needs captions, made from the attributes of rendered avatars; "
                          f"{config.data.dataset!r} has none: train with data.dataset: avatars, or transformer.condition: class")


def train_text_transformer(config: Config, ckpt_path=None, max_steps: int | None = None, run_dir=None, progress: bool = True) -> dict[str, Any]:
    """What ``maskgit train --phase transformer`` runs when ``transformer.condition`` is text."""
    check_text_config(config)
    if ckpt_path:
        check_resumable(ckpt_path, TEXT_PHASE, config, TextTransformerTrainer.architecture_sections)
    return TextTransformerTrainer(config, run_dir=run_dir, progress=progress).run(ckpt_path, max_steps)
