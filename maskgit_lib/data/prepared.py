"""Prepared data sets: render or load once, cache as uint8 arrays, serve as tensors in [-1, 1].

Why cache uint8 arrays: decoding PNGs or rendering SVGs every epoch would starve a small model on a
CPU. 22,000 images at 32 px are 68 MB of uint8, loaded in a fraction of a second; the DataLoader
only converts and flips.

Layout of one prepared set: ``data/cache/<dataset>-<size>px-<key>/`` holding ``train_images.npy``
(N, H, W, 3) uint8, ``train_labels.npy`` (N,) int64, the same for ``val``, and ``meta.json`` (the
arguments, class names, counts, licences). Avatars also keep ``train_attributes.npy`` (N, A) int16:
what each avatar shows (``data/attributes.py``), read from the same DiceBear pass that drew it. ``<key>`` hashes the arguments, so another image size
or seed gets its own folder and a second call with the same arguments reuses the cache.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from maskgit_lib.config import DataConfig
from maskgit_lib.data import attributes, avatars, folders, kaggle_source
from maskgit_lib.paths import data_dir

DATASETS = ("avatars", "celebrity-faces", "celeba", "folder")
SPLITS = ("train", "val")
CACHE_FORMAT = 2  # 2: avatars record their attributes


class DataError(ValueError):
    """A data set that cannot be prepared as asked; the message says what to do."""


@dataclass
class PreparedData:
    """A prepared data set held in memory (arrays are memory-mapped from the cache)."""

    folder: Path
    meta: dict[str, Any]
    train_images: np.ndarray  # (N, H, W, 3) uint8
    train_labels: np.ndarray  # (N,) int64
    val_images: np.ndarray  # (M, H, W, 3) uint8
    val_labels: np.ndarray  # (M,) int64
    # split -> (N, A) int16 value indices of every recorded attribute, -1 where not defined (avatars only)
    recorded_attributes: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])

    @property
    def image_size_px(self) -> int:
        return int(self.meta["image_size_px"])

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in SPLITS:
            raise DataError(f"unknown split {name!r}; use 'train' or 'val'")
        return (self.train_images, self.train_labels) if name == "train" else (self.val_images, self.val_labels)

    @cached_property
    def attribute_names(self) -> list[str]:
        """The attributes captions name (``captioned`` in attribute_map.yaml); [] without attributes."""
        recorded = self.meta.get("attributes", {}).get("names", [])
        return [name for name in recorded if name in attributes.captioned_attributes()]

    @property
    def attribute_values(self) -> dict[str, list[str]]:
        """Each captioned attribute's values, in the index order of the attribute arrays."""
        values = self.meta.get("attributes", {}).get("values", {})
        return {name: list(values[name]) for name in self.attribute_names}

    @cached_property
    def train_attributes(self) -> np.ndarray | None:
        """(N, A) int16, the captioned attributes of the training images; None without attributes."""
        return self.attribute_table("train") if self.recorded_attributes else None

    @cached_property
    def val_attributes(self) -> np.ndarray | None:
        return self.attribute_table("val") if self.recorded_attributes else None

    def attribute_table(self, split: str, names: list[str] | None = None) -> np.ndarray:
        """(N, len(names)) int16 columns of the recorded attributes (default: the captioned ones)."""
        if not self.recorded_attributes:
            raise DataError(f"{self.folder.name} records no attributes (only the avatars data set does); prepare avatars for text")
        self.split(split)  # a clear error for an unknown split
        recorded = self.meta["attributes"]["names"]
        columns = [recorded.index(name) for name in (names if names is not None else self.attribute_names)]
        return np.asarray(self.recorded_attributes[split][:, columns])

    def describe(self, split: str, index: int) -> dict[str, str]:
        """The captioned attributes of one image as words, only those it shows: ``{"style": "micah", ...}``."""
        table = self.train_attributes if split == "train" else self.val_attributes
        if table is None:
            raise DataError(f"{self.folder.name} records no attributes (only the avatars data set does); prepare avatars for text")
        return attributes.decode_attributes(table[index], self.attribute_values)

    def class_counts(self, split: str = "train") -> dict[str, int]:
        labels = self.split(split)[1]
        counts = np.bincount(labels, minlength=len(self.class_names))
        return {name: int(c) for name, c in zip(self.class_names, counts, strict=True)}


def cache_spec(cfg: DataConfig) -> dict[str, Any]:
    """The arguments that determine a prepared set's pixels (and so its cache key).

    A Kaggle set's ``path`` (where it was downloaded or attached) is not one of them: the data set is the
    same wherever it lies, so ``maskgit train --dataset celebrity-faces`` finds what was prepared from it.
    """
    if cfg.dataset not in DATASETS:
        raise DataError(f"unknown data set {cfg.dataset!r}; choose from {', '.join(DATASETS)}")
    spec: dict[str, Any] = {"format": CACHE_FORMAT, "dataset": cfg.dataset, "image_size_px": cfg.image_size_px}
    if cfg.dataset == "avatars":
        spec |= {"styles": list(cfg.styles), "n_train": cfg.n_train, "n_val": cfg.n_val, "seed": cfg.seed}
        spec["renderer"] = avatars.renderer_versions()
        spec["attribute_map"] = attributes.map_digest()
    else:
        spec |= {"val_fraction": cfg.val_fraction, "seed": cfg.seed, "max_images": cfg.max_images}
        if cfg.dataset == "folder":
            if not cfg.path:
                raise DataError("--dataset folder needs --path DIR (a folder of images, optionally in class sub-folders)")
            spec["path"] = str(Path(cfg.path).expanduser().resolve())
    return spec


def cache_folder(cfg: DataConfig) -> Path:
    spec = cache_spec(cfg)
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    return data_dir() / "cache" / f"{cfg.dataset}-{cfg.image_size_px}px-{key}"


def prepare_data(cfg: DataConfig, progress: bool = True, force: bool = False) -> PreparedData:
    """Prepare the data set ``cfg`` describes, or load it from the cache if it was prepared before."""
    _check_sizes(cfg)
    folder = cache_folder(cfg)
    if force and folder.exists():
        shutil.rmtree(folder)
    if not (folder / "meta.json").is_file():
        started = time.perf_counter()
        arrays, meta = _build(cfg, progress)
        meta |= {"spec": cache_spec(cfg), "seconds_to_prepare": round(time.perf_counter() - started, 1)}
        _write_atomically(folder, arrays, meta)
    return load_prepared(folder)


def load_prepared(folder: str | Path) -> PreparedData:
    folder = Path(folder)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise DataError(f"{folder} is not a prepared data set; run: maskgit prepare-data")
    meta = json.loads(meta_path.read_text())
    arrays = {f"{s}_{k}": np.load(folder / f"{s}_{k}.npy", mmap_mode="r") for s in SPLITS for k in ("images", "labels")}
    recorded = {s: np.load(folder / f"{s}_attributes.npy", mmap_mode="r") for s in SPLITS if (folder / f"{s}_attributes.npy").is_file()}
    return PreparedData(folder=folder, meta=meta, recorded_attributes=recorded, **arrays)


def list_prepared() -> list[PreparedData]:
    """Every prepared data set in the cache, newest first (for the notebooks' data set picker)."""
    root = data_dir() / "cache"
    folders = [p.parent for p in root.glob("*/meta.json")] if root.is_dir() else []
    return [load_prepared(f) for f in sorted(folders, key=lambda p: p.stat().st_mtime, reverse=True)]


def _check_sizes(cfg: DataConfig) -> None:
    if cfg.image_size_px < 8 or cfg.image_size_px % 8:
        raise DataError(f"image_size_px must be a multiple of 8 (the tokenizer halves it three times), got {cfg.image_size_px}")
    if cfg.dataset == "avatars" and (cfg.n_train < 1 or cfg.n_val < 1):
        raise DataError(f"n_train and n_val must be at least 1, got {cfg.n_train} and {cfg.n_val}")
    if not 0.0 <= cfg.val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {cfg.val_fraction}")


def _build(cfg: DataConfig, progress: bool) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    if cfg.dataset == "avatars":
        return _build_avatars(cfg, progress)
    if cfg.dataset == "folder":
        return _build_folder(Path(cfg.path or ""), cfg, progress, source={"path": cfg.path})
    source: dict[str, Any] = {"kaggle": kaggle_source.KAGGLE_DATASETS[cfg.dataset]}
    if cfg.path:  # already downloaded, or attached to a Kaggle notebook (kaggle_source.kagglehub_download)
        root = Path(cfg.path).expanduser()
        if not root.is_dir():
            raise DataError(f"{root} is not a folder; give the folder that holds the {cfg.dataset} data set, or no path to download it")
        return _build_folder(root, cfg, progress, source=source | {"path": str(root)})
    try:
        root = kaggle_source.download(cfg.dataset, data_dir() / "downloads" / cfg.dataset, progress)
    except kaggle_source.KaggleError as err:
        raise DataError(str(err)) from None
    return _build_folder(root, cfg, progress, source=source)


def _build_avatars(cfg: DataConfig, progress: bool) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays = {}
    for split, n in (("train", cfg.n_train), ("val", cfg.n_val)):
        try:
            imgs, labels, described = avatars.render_split(cfg.styles, n, cfg.image_size_px, cfg.seed, split, progress)
        except avatars.UnknownStyleError as err:
            raise DataError(str(err)) from None
        arrays[f"{split}_images"], arrays[f"{split}_labels"], arrays[f"{split}_attributes"] = imgs, labels, described
    meta = {
        "dataset": "avatars",
        "image_size_px": cfg.image_size_px,
        "class_names": list(cfg.styles),
        "counts": {"train": cfg.n_train, "val": cfg.n_val},
        "seed": cfg.seed,
        "seed_string_pattern": avatars.avatar_seed(cfg.seed, "<split>", "<index>"),
        "licences": [avatars.style_licence(s) for s in cfg.styles],
        "renderer": avatars.renderer_versions(),
        "attributes": {"names": attributes.attribute_names(), "values": attributes.attribute_values(cfg.styles)},
    }
    return arrays, meta


def split_indices(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split: each class keeps ``round(val_fraction * n)`` images for validation
    (at least one when the class has two or more and ``val_fraction > 0``)."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = int(round(val_fraction * len(members)))
        if val_fraction > 0 and len(members) >= 2:
            n_val = max(n_val, 1)
        val.append(members[:n_val])
        train.append(members[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def drop_empty_classes(labels: np.ndarray, class_names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Labels and names without the classes that kept no image, the others renumbered in order.

    A README or Thumbs.db beside the class sub-folders makes a class of the folder's loose files;
    once such files are skipped the class is empty, and a model would be built for a class it
    never sees (and a sampler would offer it).
    """
    present = np.unique(labels)  # (C',) sorted label ids that kept at least one image
    new_label = np.full(len(class_names), -1, dtype=np.int64)
    new_label[present] = np.arange(len(present))
    return new_label[labels], [class_names[i] for i in present]


def _build_folder(root: Path, cfg: DataConfig, progress: bool, source: dict[str, Any]):
    try:
        found = folders.scan_folder(root)
    except FileNotFoundError as err:
        raise DataError(str(err)) from None
    files, labels = found.files, np.asarray(found.labels, dtype=np.int64)
    if cfg.max_images is not None and cfg.max_images < len(files):
        keep = np.sort(np.random.default_rng(cfg.seed).permutation(len(files))[: cfg.max_images])
        files, labels = [files[i] for i in keep], labels[keep]
    try:
        pixels, kept, report = folders.load_images(files, cfg.image_size_px, progress)
    except ValueError as err:
        raise DataError(f"{root}: {err}") from None
    report.warn_if_skipped()
    labels, class_names = drop_empty_classes(labels[kept], found.class_names)
    train_idx, val_idx = split_indices(labels, cfg.val_fraction, cfg.seed)
    arrays = {
        "train_images": pixels[train_idx],
        "train_labels": labels[train_idx],
        "val_images": pixels[val_idx],
        "val_labels": labels[val_idx],
    }
    meta = {
        "dataset": cfg.dataset,
        "image_size_px": cfg.image_size_px,
        "class_names": class_names,
        "counts": {"train": len(train_idx), "val": len(val_idx)},
        "skipped_files": len(report.skipped),
        "seed": cfg.seed,
        "source": source,
    }
    return arrays, meta


def _write_atomically(folder: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write into ``<folder>.partial`` and rename: an interrupted run never leaves a half cache."""
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name, array in arrays.items():
        np.save(partial / f"{name}.npy", np.ascontiguousarray(array))
    (partial / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    if folder.exists():
        shutil.rmtree(folder)
    partial.rename(folder)



