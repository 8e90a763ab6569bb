"""Typed configuration: dataclasses filled from YAML files, one base file per profile.

Why dataclasses + YAML: a learner reads a YAML file and sees every knob; the code gets typed,
auto-completed attributes; a checkpoint can store the config as a plain dict and rebuild it.

Profiles (``MASKGIT_PROFILE`` or ``--profile``) are sizes, not devices:
- ``fast``: tiny data and models, seconds per notebook (tests, CI).
- ``cpu``: the real course, 32 px; **the default on every device** (CPU laptop and Colab GPU alike),
  because its checkpoints are shipped. A GPU only makes it faster. It trains in about an hour of a
  2-core CPU; the name says what it was sized for.
- ``gpu``: 64 px images and bigger models; opt-in (``MASKGIT_PROFILE=gpu``), hours of training.

A user's ``--config_file`` is laid over the profile's file: it only names what it changes.
Unknown keys and wrong types are errors that name the key and the file.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

PROFILES = ("fast", "cpu", "gpu")
PROFILE_ENV_VAR = "MASKGIT_PROFILE"

# Face styles of the DiceBear set that read as faces at 32 px and differ clearly from each other.
# The class label of an avatar is the index of its style in this list.
DEFAULT_AVATAR_STYLES = (
    "pixel-art",
    "lorelei",
    "open-peeps",
    "adventurer",
    "micah",
    "personas",
    "big-smile",
    "miniavs",
)


PrecisionName = Literal["auto", "bf16", "fp16", "fp32"]  # what ``TrainConfig.precision`` accepts
PRECISIONS: tuple[str, ...] = typing.get_args(PrecisionName)


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message says which key and file."""


@dataclass
class DataConfig:
    """Which images to train on and how they are prepared and batched."""

    dataset: str = "avatars"  # avatars | celebrity-faces | celeba | folder
    image_size_px: int = 32
    path: str | None = None  # the image folder, for dataset: folder; a Kaggle set's folder if already there
    n_train: int = 20_000  # avatars: images rendered for training
    n_val: int = 2_000  # avatars: images rendered for validation
    styles: list[str] = field(default_factory=lambda: list(DEFAULT_AVATAR_STYLES))
    seed: int = 0  # avatars: rendering seed; folders: split seed
    val_fraction: float = 0.1  # folder / Kaggle data sets: share of each class kept for validation
    max_images: int | None = None  # folder / Kaggle data sets: keep at most this many (None: all)
    batch_size: int = 64
    num_workers: int = 0  # DataLoader workers; the cached uint8 arrays make 0 fast enough on a CPU
    hflip: bool = True  # random horizontal flips for training batches


@dataclass
class QuantizerConfig:
    """The vector quantizer (see ``quantize``)."""

    codebook_size: int = 512
    code_dim: int = 32  # dimension of the space where codes are looked up
    beta: float = 0.25  # commitment loss weight
    use_ema: bool = False  # codebook updated by moving averages instead of gradients
    ema_decay: float = 0.99
    kmeans_init: bool = False  # initialise the codebook by k-means on the first training batch
    kmeans_iters: int = 10
    dead_code_after_steps: int = 0  # re-seed codes unused for this many training steps (0: never)
    l2_normalize: bool = False  # cosine-similarity codes: vectors and codes on the unit sphere
    # Finite scalar quantization instead (see ``fsq``): values per code dimension, e.g. [8, 8, 8] = 512
    # codes of 3 dimensions; empty: vector quantization. The options above except sizes then do nothing.
    levels: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.levels:
            return
        if min(self.levels) < 3:  # with 2 levels, tanh's range cannot be centred on 0 (fsq.bound)
            raise ConfigError(f"vqgan.quantizer.levels {self.levels}: every entry must be at least 3")
        size = math.prod(self.levels)
        if (self.codebook_size, self.code_dim) != (size, len(self.levels)):
            raise ConfigError(
                f"vqgan.quantizer.levels {self.levels} make {size} codes of {len(self.levels)} dimensions: "
                f"set codebook_size: {size} and code_dim: {len(self.levels)} beside them, or levels: [] for vector quantization"
            )


@dataclass
class VQGANConfig:
    """The tokenizer's architecture (see ``vqgan``)."""

    channels: int = 64  # width of the first level
    channel_mult: list[int] = field(default_factory=lambda: [1, 2, 2])  # one level each; f = 2^(len-1)
    res_blocks: int = 2  # ResNet blocks per level
    attention: bool = True  # self-attention in the middle (lowest resolution)
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)

    @property
    def downsample_factor(self) -> int:
        return 2 ** (len(self.channel_mult) - 1)


@dataclass
class DiscriminatorConfig:
    """The PatchGAN discriminator (see ``discriminator``)."""

    channels: int = 64
    layers: int = 2  # stride-2 layers; 2 gives a 6×6 grid of 22 px patches at 32 px


@dataclass
class LossConfig:
    """The tokenizer's loss terms and their weights (see ``losses``)."""

    l1_weight: float = 1.0
    l2_weight: float = 1.0
    perceptual_weight: float = 0.1  # LPIPS; 0 turns it off
    perceptual_net: str = "alex"  # alex | vgg
    disc_weight: float = 0.1  # multiplies the adaptive weight
    disc_start_step: int = 2000  # the GAN loss (and the discriminator's training) starts here
    max_adaptive_weight: float = 1e4
    leaky_discriminator: bool = False  # reproduce the original project's bug (ablation only)


@dataclass
class TransformerConfig:
    """MaskGIT's bidirectional Transformer over token grids (see ``transformer``)."""

    tokenizer: str = "results/checkpoints/vqgan-{profile}.ckpt"  # relative paths start at the project root
    width: int = 256
    depth: int = 6
    heads: int = 8
    mlp_ratio: int = 4
    dropout: float = 0.1
    causal: bool = False  # True: the autoregressive (raster-order) baseline
    schedule: str = "cosine"  # training masks and decoding (see ``masking``)
    label_smoothing: float = 0.1
    class_dropout: float = 0.1  # share of examples trained unconditionally, for classifier-free guidance
    loss_on_all_tokens: bool = False  # default: loss on the masked tokens only
    condition: Literal["class", "text"] = "class"  # text: a caption conditions the image (the ``text`` section)


@dataclass
class TextConfig:
    """Text conditioning (notebook 08, ``maskgit_lib.text``), used when ``transformer.condition`` is text.

    Captions are drawn from each image's attributes, a fresh one per image per step; the words are
    embedded by a small encoder learned with the generator (no pretrained one is reachable offline).
    """

    max_words: int = 16  # longest caption, in words (the prompt is padded to it)
    encoder_layers: int = 1  # Transformer layers over the word embeddings (0: the embeddings alone)
    # prefix: [caption words | image tokens] in one bidirectional sequence (the words never masked, no
    # loss on them); cross_attention: image tokens attend to the words in an extra layer per block (Muse)
    conditioning: Literal["prefix", "cross_attention"] = "prefix"
    caption_dropout: float = 0.1  # share of examples trained with the empty caption, for guidance
    # attribute combinations never shown in training (compositional generalisation), each a list of
    # "attribute=value" strings, e.g. [["style=micah", "glasses=dark"]]: every image with all of them is left out
    held_out: list[list[str]] = field(default_factory=list)


@dataclass
class TrainConfig:
    """One training phase: optimisation, schedule, logging, checkpoints."""

    max_steps: int = 3000
    batch_size: int = 32
    lr: float = 4e-4  # peak learning rate, after warmup
    min_lr_ratio: float = 0.1  # cosine decay ends at lr * min_lr_ratio
    warmup_steps: int = 200
    betas: list[float] = field(default_factory=lambda: [0.5, 0.9])
    weight_decay: float = 0.0
    grad_clip: float = 1.0  # max global gradient norm (0: no clipping)
    # Mixed precision (see ``precision``; the quantizer and GroupNorm stay fp32 in all of them). auto:
    # bf16 autocast on a CUDA GPU with native bf16, fp16 autocast + gradient scaler on one without (T4,
    # V100), and on a CPU ``cpu_precision``: the profile states there what it measured, since the CPU
    # speed-up of bf16 depends on the model (1.4-1.6x for the cpu profile on the reference CPU).
    precision: PrecisionName = "auto"
    cpu_precision: Literal["bf16", "fp16", "fp32"] = "fp32"  # what auto means on a CPU
    compile: bool = False  # torch.compile the model's forward (first steps are slow: compilation)
    channels_last: bool = False  # tokenizer only: convolutions in NHWC layout (GPU tensor cores; no gain on the reference CPU)
    seed: int = 0
    log_every: int = 25  # steps between metric rows
    val_every: int = 500  # steps between validations (PSNR, codebook usage) and image grids
    val_images: int = 512  # validation images during training; the final validation uses all
    checkpoint_every: int = 500  # steps between checkpoints (also written at the end)
    keep_best: bool = False  # also keep checkpoints/best.ckpt, the best validation so far (small data sets)
    keep_every: int = 0  # > 0: also keep checkpoints/step-NNNNNN.ckpt every this many steps (to measure over training)
    # > 0: also keep an exponential moving average of the weights with this decay (``maskgit_lib.ema``;
    # e.g. 0.999): the Transformer phases validate it too, and ``maskgit export --ema`` ships it
    ema_decay: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay {self.ema_decay}: use a value in [0, 1), e.g. 0.999 (0 keeps no average)")


@dataclass
class Config:
    """The whole configuration of a run. Later phases add their own sections."""

    profile: str = "cpu"
    data: DataConfig = field(default_factory=DataConfig)
    vqgan: VQGANConfig = field(default_factory=VQGANConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train_vqgan: TrainConfig = field(default_factory=TrainConfig)
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    train_transformer: TrainConfig = field(default_factory=TrainConfig)
    text: TextConfig = field(default_factory=TextConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


DEFAULT_PROFILE = "cpu"  # the size whose checkpoints are shipped


def default_profile() -> str:
    """``MASKGIT_PROFILE`` if set, else the shipped size, whatever the device.

    Why not "gpu when CUDA is available": a GPU learner would then start on a size with no shipped
    checkpoints and an hours-long training. A GPU makes the default size fast; bigger is opt-in.
    """
    chosen = os.environ.get(PROFILE_ENV_VAR, "").strip()
    if chosen:
        if chosen not in PROFILES:
            raise ConfigError(f"{PROFILE_ENV_VAR}={chosen!r} is not a profile; use one of {', '.join(PROFILES)}")
        return chosen
    return DEFAULT_PROFILE


def profile_file(profile: str) -> Path:
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    return Path(str(resources.files("maskgit_lib") / "configs" / f"{profile}.yaml"))


def load_config(
    profile: str | None = None,
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Build a :class:`Config`: the profile's YAML, then ``config_file``, then ``overrides``.

    ``overrides`` maps dotted keys to values (``{"data.image_size_px": 64}``); ``None`` values are
    ignored so command-line flags that were not given change nothing.
    """
    user: dict[str, Any] = {}
    if config_file is not None:
        user = _read_yaml(Path(config_file))
        profile = profile or user.pop("profile", None)
    profile = profile or default_profile()
    base_path = profile_file(profile)
    merged = _read_yaml(base_path)
    merged["profile"] = profile
    config = _build(Config, merged, base_path.name, prefix="")
    if user:
        config = _apply(config, user, str(config_file))
    if overrides:
        nested: dict[str, Any] = {}
        for dotted, value in overrides.items():
            if value is None:
                continue
            *parents, leaf = dotted.split(".")
            node = nested
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        config = _apply(config, nested, "command-line options")
    return config


def config_from_dict(values: dict[str, Any], source: str = "checkpoint") -> Config:
    """Rebuild a config saved with :meth:`Config.to_dict` (e.g. inside a checkpoint)."""
    return _build(Config, _upgrade_old_keys(values), source, prefix="")


def _upgrade_old_keys(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the ``bf16: true|false`` of configs written before ``precision`` existed (the
    shipped checkpoints, learners' older runs and YAML files) translated, so that they still load.

    ``bf16: false`` meant no autocast anywhere: ``precision: fp32``. ``bf16: true`` meant "mixed
    precision on" and ran on CPUs and on GPUs with native bf16: ``precision: auto`` with
    ``cpu_precision: bf16`` computes exactly the same there, and takes fp16 + gradient scaler on a
    GPU without native bf16 (T4), where bf16 is only emulated. Keys of the new names win.
    """
    out = dict(values)
    for section in ("train_vqgan", "train_transformer"):
        old = out.get(section)
        if isinstance(old, dict) and isinstance(old.get("bf16"), bool):
            new = {"precision": "auto", "cpu_precision": "bf16"} if old["bf16"] else {"precision": "fp32"}
            out[section] = new | {k: v for k, v in old.items() if k != "bf16"}
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; check the path")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}".replace("\n", " ")) from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path} must hold a mapping of sections (data:, ...), not {type(values).__name__}")
    return values


def _apply(config: Config, values: dict[str, Any], source: str) -> Config:
    merged = _deep_merge(config.to_dict(), _upgrade_old_keys(values))
    return _build(Config, merged, source, prefix="")


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _build(cls: type, values: Any, source: str, prefix: str) -> Any:
    """Make a ``cls`` dataclass from ``values``, checking every key and type."""
    section = prefix.rstrip(".") or "the top level"
    if not isinstance(values, dict):
        raise ConfigError(f"'{section}' in {source} must be a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(
                f"unknown key '{prefix}{key}' in {source}; known keys in {section}: {', '.join(sorted(known))}"
            )
    kwargs = {}
    for name in known & values.keys():
        kwargs[name] = _check(hints[name], values[name], f"{prefix}{name}", source)
    try:
        return cls(**kwargs)
    except ConfigError as err:  # a check across keys (``__post_init__``): say where the values came from
        raise ConfigError(f"{err} (in {source})") from None


def _check(hint: Any, value: Any, key: str, source: str) -> Any:
    """Return ``value`` if it fits the type ``hint`` (ints may stand for floats), else raise."""
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, source, prefix=f"{key}.")
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check(inner[0], value, key, source)
    if origin is Literal:
        if value not in args:
            _type_error(key, source, f"one of {', '.join(map(str, args))}", value)
        return value
    if origin is list:
        if not isinstance(value, list | tuple):
            _type_error(key, source, "a list", value)
        return [_check(args[0], item, f"{key}[{i}]", source) for i, item in enumerate(value)]
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        _type_error(key, source, "an int", value)
    if not isinstance(value, hint):
        _type_error(key, source, {int: "an int", float: "a float", bool: "a bool", str: "a str"}.get(hint, str(hint)), value)
    return value


def _type_error(key: str, source: str, expected: str, value: Any) -> typing.NoReturn:
    raise ConfigError(f"'{key}' in {source} must be {expected}, got {type(value).__name__} {value!r}")
