"""One load-or-train policy for every notebook: which tokenizer and which Transformer a cell uses.

Why one policy: a learner who trains their own tokenizer in notebook 02 expects notebook 04 to
train on *that* tokenizer, and 05-07 to sample from the Transformer *they* trained in 04. Written
once per notebook, such rules drift apart; here they are written once:

1. ``train=True`` (the notebook's ``TRAIN`` switch) trains a new run now, in its own folder
   ``results/runs/<phase>-<profile>-<date>-<time>/`` (an earlier run is never overwritten);
2. otherwise the learner's own latest *finished* run of that phase and profile is used (any run
   under ``results/runs/`` with a ``summary.json``, notebook or ``maskgit train``); a tokenizer only
   if it was trained on the notebook's images (a run on a photo folder or at another image size is
   skipped, as the Transformer training would refuse it);
3. otherwise the checkpoint shipped in ``results/checkpoints/``.

Downstream follows upstream: a Transformer is only used with the tokenizer it was trained on (its
checkpoint records the tokenizer's file and a digest of it). A profile without shipped checkpoints
never starts a long training by itself: it says so in one line, with the commands to train.

Every choice prints one line: what is used, where it came from, and how to switch.
"""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maskgit_lib.checkpoint import CheckpointError, load_checkpoint
from maskgit_lib.config import Config
from maskgit_lib.paths import repo_root, results_dir, shipped_results_dir

# Profiles small enough that a missing model may be trained on the spot (seconds, not hours).
TRAINS_IN_SECONDS = ("fast",)
# Set (e.g. by `make course`) to prove that the notebooks, as committed, start no training.
NO_TRAINING_ENV_VAR = "MASKGIT_NO_TRAINING"
PHASE_NAMES = {"vqgan": "tokenizer", "transformer": "Transformer", "transformer-ar": "autoregressive baseline",
               "transformer-text": "text-to-image Transformer"}


class ModelChoiceError(CheckpointError):
    """No usable model for a notebook cell; the message says which command makes one.

    IPython shows ``_render_traceback_`` instead of a traceback: the learner reads one line.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


@dataclass
class ModelChoice:
    """The checkpoint a notebook uses, and why."""

    phase: str  # vqgan | transformer | transformer-ar
    path: Path  # the checkpoint file
    source: str  # "trained now" | "your run" | "shipped"
    tokenizer_path: Path | None = None  # Transformers: the tokenizer they were trained on

    @property
    def run_dir(self) -> Path | None:
        return self.path.parent.parent if self.source != "shipped" else None

    def metrics(self) -> list[dict[str, Any]]:
        """The run's metric rows (a shipped checkpoint carries its run's log beside it)."""
        log = self.run_dir / "metrics.jsonl" if self.run_dir else self.path.with_suffix(".metrics.jsonl")
        if not log.is_file():
            return []
        return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def shipped_dir() -> Path:
    """The checkpoints that come with the course: in the checkout, whatever ``MASKGIT_RESULTS_DIR`` says."""
    return shipped_results_dir() / "checkpoints"


def shipped_checkpoint(phase: str, profile: str) -> Path:
    return shipped_dir() / f"{phase}-{profile}.ckpt"


def new_run_dir(phase: str, profile: str) -> Path:
    """A fresh folder per training, named by its start time, so an earlier run is never overwritten."""
    base = results_dir() / "runs" / f"{phase}-{profile}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir, n = base, 1
    while run_dir.exists():
        run_dir, n = base.with_name(f"{base.name}-{n}"), n + 1
    return run_dir


def finished_runs(phase: str, profile: str) -> list[Path]:
    """The learner's finished runs of ``phase`` at ``profile``, newest first (their last.ckpt files)."""
    found = []
    for summary_file in (results_dir() / "runs").glob("*/summary.json"):
        try:
            summary = json.loads(summary_file.read_text())
        except (OSError, ValueError):
            continue  # a run being written right now, or a damaged one: not finished
        ckpt = summary_file.parent / "checkpoints" / "last.ckpt"
        if summary.get("phase") == phase and summary.get("profile") == profile and ckpt.is_file():
            found.append((summary_file.stat().st_mtime, ckpt))
    return [ckpt for _, ckpt in sorted(found, reverse=True)]


def _display(path: Path) -> str:
    for base in (repo_root(), results_dir().parent):
        if base is not None and path.is_relative_to(base):
            return str(path.relative_to(base))
    return str(path)


def _announce(choice: ModelChoice, how_to_switch: str, announce: bool = True) -> ModelChoice:
    if not announce:
        return choice
    where = _display(choice.run_dir if choice.run_dir else choice.path)
    print(f"{PHASE_NAMES[choice.phase]}: {choice.source} {where} · {how_to_switch}")
    return choice


def _tokenizer_words(tokenizer: ModelChoice) -> str:
    if tokenizer.source == "shipped":
        return "the shipped tokenizer"
    return f"your tokenizer {_display(tokenizer.run_dir)}"


def _missing(phase: str, profile: str) -> ModelChoiceError:
    flag = {"transformer-ar": " --autoregressive", "transformer-text": " --condition text"}.get(phase, "")
    cli_phase = "vqgan" if phase == "vqgan" else "transformer"
    # The switch lives where that phase is trained (a missing tokenizer stops notebooks 04-07 too).
    switch = {"vqgan": "set TRAIN = True in notebook 02, ", "transformer": "set TRAIN = True in notebook 04, ",
              "transformer-text": "set TRAIN = True in notebook 08, "}.get(phase, "")
    return ModelChoiceError(
        f"no {PHASE_NAMES[phase]} for the '{profile}' profile yet (none shipped, none trained): {switch}"
        f"run `maskgit train --phase {cli_phase}{flag} --profile {profile}`, "
        f"or use the default profile (unset MASKGIT_PROFILE)"
    )


def _start_training(phase: str, profile: str) -> Path:
    """A new run folder for a training the learner asked for; refused under ``MASKGIT_NO_TRAINING``."""
    if os.environ.get(NO_TRAINING_ENV_VAR):
        raise ModelChoiceError(f"a {PHASE_NAMES[phase]} training was about to start, but {NO_TRAINING_ENV_VAR} is set: "
                               f"unset it, or keep TRAIN = False")
    return new_run_dir(phase, profile)


def _tokenizer_runs(config: Config) -> tuple[Path | None, list[Path]]:
    """The learner's latest finished tokenizer run on ``config``'s images, and the newer runs skipped.

    Why: ``maskgit train --phase vqgan --dataset folder`` lands in the same ``results/runs/``; the
    avatar notebooks must not pick that tokenizer up (notebook 04 could not train on it). Checkpoints
    are read newest first, only until one fits.
    """
    from maskgit_lib.generator.train import tokenizer_saw_these_images

    skipped = []
    for ckpt in finished_runs("vqgan", config.profile):
        if tokenizer_saw_these_images(load_checkpoint(ckpt, phase="vqgan")["config"], config):
            return ckpt, skipped
        skipped.append(ckpt)
    return None, skipped


def _skipped_note(skipped: list[Path]) -> str:
    """The announcement's tail naming the learner's runs left out for their images ('' if none)."""
    if not skipped:
        return ""
    more = f" and {len(skipped) - 1} more" if len(skipped) > 1 else ""
    return f" (skipped {_display(skipped[0].parent.parent)}{more}: trained on other images)"


def choose_tokenizer(
    config: Config, train: bool = False, prefer: str = "latest", progress: bool = True, announce: bool = True
) -> ModelChoice:
    """The tokenizer a notebook uses: trained now, the learner's latest run, or the shipped one.

    ``prefer="shipped"`` skips the learner's runs (to compare, or to go back). Only runs trained on
    ``config``'s images count (data set, folder, image size: see :func:`_tokenizer_runs`).
    """
    from maskgit_lib.tokenizer.train import train_vqgan

    profile = config.profile
    if train:
        run_dir = _start_training("vqgan", profile)
        train_vqgan(config, run_dir=run_dir, progress=progress)
        return _announce(ModelChoice("vqgan", run_dir / "checkpoints" / "last.ckpt", "trained now"),
                         "notebook 04 trains its Transformer on it", announce)
    own, skipped = _tokenizer_runs(config) if prefer != "shipped" else (None, [])
    if own:
        return _announce(ModelChoice("vqgan", own, "your run"),
                         "choose_tokenizer(config, prefer='shipped') for the shipped one" + _skipped_note(skipped), announce)
    shipped = shipped_checkpoint("vqgan", profile)
    if shipped.is_file():
        return _announce(ModelChoice("vqgan", shipped, "shipped"),
                         "TRAIN = True in notebook 02 trains your own" + _skipped_note(skipped), announce)
    if profile in TRAINS_IN_SECONDS:
        return choose_tokenizer(config, train=True, progress=progress, announce=announce)
    raise _missing("vqgan", profile)


def transformer_tokenizer(path: Path) -> tuple[Path, str | None]:
    """The tokenizer file a Transformer checkpoint was trained on, and its digest when recorded."""
    payload = load_checkpoint(path)
    named = Path(payload["config"]["transformer"]["tokenizer"].format(profile=payload["config"]["profile"]))
    if not named.is_absolute():
        named = (repo_root() or Path.cwd()) / named
    return named, payload.get("tokenizer_digest")


def fits(transformer_path: Path, tokenizer_path: Path) -> bool:
    """Was this Transformer trained on exactly this tokenizer file (same place, same bytes)?"""
    from maskgit_lib.generator.tokens import file_digest

    named, digest = transformer_tokenizer(transformer_path)
    if named.resolve() != tokenizer_path.resolve() or not tokenizer_path.is_file():
        return False
    return digest is None or digest == file_digest(tokenizer_path)


def choose_transformer(
    config: Config, train: bool = False, prefer: str = "latest", causal: bool = False, progress: bool = True,
    text: bool = False,
) -> ModelChoice:
    """The Transformer a notebook uses, always with the tokenizer it was trained on.

    Training trains on the tokenizer :func:`choose_tokenizer` picks (the learner's own, if any);
    loading takes the learner's latest run trained on that tokenizer, else the shipped pair.
    ``causal``: the autoregressive baseline (notebook 05); ``text``: the text-to-image model (notebook 08).
    """
    from maskgit_lib.generator.train import train_transformer

    phase = "transformer-ar" if causal else "transformer-text" if text else "transformer"
    profile = config.profile
    tokenizer = choose_tokenizer(config, prefer=prefer, progress=progress, announce=False)
    if train:
        run_config = copy.deepcopy(config)
        run_config.transformer.tokenizer = str(tokenizer.path)
        run_config.transformer.causal = causal
        run_config.transformer.condition = "text" if text else "class"
        run_dir = _start_training(phase, profile)
        if text:
            from maskgit_lib.text.train import train_text_transformer

            train_text_transformer(run_config, run_dir=run_dir, progress=progress)
        else:
            train_transformer(run_config, run_dir=run_dir, progress=progress)
        return _announce(ModelChoice(phase, run_dir / "checkpoints" / "last.ckpt", "trained now", tokenizer.path),
                         f"trained on {_tokenizer_words(tokenizer)}")
    own = [p for p in finished_runs(phase, profile) if fits(p, tokenizer.path)] if prefer != "shipped" else []
    if own:
        return _announce(ModelChoice(phase, own[0], "your run", tokenizer.path),
                         f"trained on {_tokenizer_words(tokenizer)}; prefer='shipped' for the shipped pair")
    shipped = shipped_checkpoint(phase, profile)
    if shipped.is_file():
        note = ("`maskgit train --phase transformer --autoregressive` trains your own" if causal
                else "TRAIN = True in notebook 08 trains your own" if text else "TRAIN = True in notebook 04 trains your own")
        if tokenizer.source != "shipped":
            note = (f"your tokenizer {_display(tokenizer.path)} has no {PHASE_NAMES[phase]} yet, so the shipped pair "
                    f"is used; {note.replace(' your own', ' one on it')}")
        return _announce(ModelChoice(phase, shipped, "shipped", transformer_tokenizer(shipped)[0]), note)
    if profile in TRAINS_IN_SECONDS:
        return choose_transformer(config, train=True, causal=causal, progress=progress, text=text)
    raise _missing(phase, profile)

