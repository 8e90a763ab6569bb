"""What ``maskgit evaluate`` measures: a tokenizer's reconstructions, a Transformer's generations.

Both are scored against ``n`` validation images taken class by class in turn (``balanced_indices``:
for the avatars, whose validation set already cycles through the classes, simply the first ``n``),
and every FID comes with its floor: the FID
between ``n`` *training* images with the same class mix and those validation images. Real features
are cached next to the data set (``fid-*.npy``), so only the model's images cost network time.

- Tokenizer: PSNR, codebook usage and perplexity, and reconstruction FID (rFID: reconstructions vs
  the originals' set).
- Transformer: generation FID overall and per class (each class's samples vs that class's
  validation images, with a per-class floor), for MaskGIT decoding or, for a ``causal`` checkpoint,
  the autoregressive sampler; and the memorisation check (``memorisation``): how close each
  generated image is to its nearest training image, calibrated on the validation images.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from maskgit_lib.checkpoint import load_checkpoint
from maskgit_lib.data.prepared import PreparedData, prepare_data
from maskgit_lib.evaluation.memorisation import memorisation_report
from maskgit_lib.evaluation.metrics import (
    fid_network_source,
    fid_network_tag,
    frechet_distance,
    inception_features,
    matched_indices,
)
from maskgit_lib.figures import to_uint8_nchw
from maskgit_lib.generator.decoding import autoregressive_decode, maskgit_decode
from maskgit_lib.generator.train import tokenizer_path
from maskgit_lib.generator.transformer import load_transformer
from maskgit_lib.progress import progress_bar
from maskgit_lib.system import pick_device
from maskgit_lib.tokenizer.reconstruction import evaluate_reconstruction
from maskgit_lib.tokenizer.vqgan import load_vqgan


def _check_n(data: PreparedData, n: int) -> None:
    if not 2 <= n <= len(data.val_images):
        raise ValueError(f"--n must be between 2 and the {len(data.val_images)} validation images, got {n}")


def real_features(
    data: PreparedData, split: str, indices: np.ndarray, device: str | torch.device = "cpu", progress: bool = False
) -> np.ndarray:
    """Inception features (n, 2048) of some real images, cached in the data set's folder."""
    key = hashlib.sha256(np.asarray(indices, dtype=np.int64).tobytes()).hexdigest()[:12]
    path = data.folder / f"fid-{split}-{len(indices)}-{key}-{fid_network_tag()}.npy"
    if path.is_file():
        return np.load(path)
    images = data.split(split)[0][np.asarray(indices)]
    feats = inception_features(images, device=device, progress=progress)
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, feats)
    tmp.replace(path)
    return feats


def balanced_indices(labels: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` indices when the classes take turns: each class's first image, then each one's
    second, ... so any ``n`` is as class-balanced as the data allow (a folder's validation images are
    stored class after class; a plain prefix would score the first classes only)."""
    labels = np.asarray(labels)
    rank = np.zeros(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        rank[rows] = np.arange(len(rows))
    return np.lexsort((labels, rank))[:n]  # by rank within the class, then by class


def reference_sets(data: PreparedData, n: int, device, progress: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features of ``n`` class-balanced validation images, of ``n`` class-matched training images, and the labels."""
    _check_n(data, n)
    val_idx = balanced_indices(data.val_labels, n)
    labels = np.asarray(data.val_labels[val_idx])
    val = real_features(data, "val", val_idx, device, progress)
    train = real_features(data, "train", matched_indices(np.asarray(data.train_labels), labels), device, progress)
    return val, train, labels


def evaluate_tokenizer(path: str | Path, n: int = 2000, device: str | None = None, progress: bool = True) -> dict[str, Any]:
    """PSNR, usage, perplexity and rFID (with its floor) of a tokenizer checkpoint."""
    device = device or pick_device()
    started = time.perf_counter()
    model, config = load_vqgan(path, device)
    data = prepare_data(config.data, progress=progress)
    val, train, _ = reference_sets(data, n, device, progress)
    images = data.val_images[balanced_indices(data.val_labels, n)]
    recon: list[torch.Tensor] = []
    scores, _ = evaluate_reconstruction(model, images, keep=recon)
    recon_feats = inception_features(torch.cat(recon), device=device, progress=progress)
    return {
        "checkpoint": str(path), "phase": "vqgan", "n": n, "device": str(device),
        "psnr": scores["val_psnr"], "usage": scores["val_usage"], "perplexity": scores["val_perplexity"],
        "rfid": frechet_distance(recon_feats, val), "fid_floor": frechet_distance(train, val),
        "fid_network": fid_network_source(), "seconds": time.perf_counter() - started,
    }


def generate_images(
    model, tokenizer, labels: torch.Tensor, batch_size: int = 250, progress: bool = False, **decoding: Any
) -> torch.Tensor:
    """uint8 images (n, 3, H, W) for ``labels``, MaskGIT or autoregressive by the model's kind.

    Each batch gets its own seed (``seed`` + batch index), so n images are the same whatever the device.
    """
    device = next(model.parameters()).device
    seed = decoding.pop("seed", 0)
    images = []
    for i, start in enumerate(progress_bar(range(0, len(labels), batch_size), progress, "generating")):
        batch = labels[start : start + batch_size].to(device)
        if model.causal:
            tokens = autoregressive_decode(model, len(batch), batch, temperature=decoding.get("temperature", 1.0), seed=seed + i)
        else:
            tokens, _ = maskgit_decode(model, len(batch), batch, seed=seed + i, **decoding)
        side = int(round(tokens.shape[1] ** 0.5))
        with torch.no_grad():
            images.append(to_uint8_nchw(tokenizer.decode_tokens(tokens.view(-1, side, side))).cpu())
    return torch.cat(images)


class GenerationScorer:
    """A Transformer, its tokenizer and the real reference features, loaded once; ``score()`` then
    generates ``n`` images with the validation set's labels under any decoding settings and
    returns their FID, overall and per class, with the floors."""

    def __init__(self, path: str | Path, n: int = 2000, device: str | None = None, progress: bool = True):
        self.path, self.n, self.progress = str(path), n, progress
        self.device = device or pick_device()
        self.model, config = load_transformer(path, self.device)
        self.tokenizer, _ = load_vqgan(tokenizer_path(config), self.device)
        self.data = data = prepare_data(config.data, progress=progress)
        self.val, self.train, self.labels = reference_sets(data, n, self.device, progress)
        self.train_labels = np.asarray(data.train_labels)[matched_indices(np.asarray(data.train_labels), self.labels)]
        self.class_names = load_checkpoint(path).get("class_names") or data.class_names
        self.floor = frechet_distance(self.train, self.val)
        self.class_floors = {  # the same for every score(): computed once
            c: frechet_distance(self.train[self.train_labels == c], self.val[self.labels == c])
            for c in range(len(self.class_names)) if (self.labels == c).sum() >= 2
        }

    def score(self, seed: int = 0, **decoding: Any) -> dict[str, Any]:
        """FID of ``n`` generated images; ``decoding``: steps, schedule, order, temperature, randomness, cfg_scale."""
        if self.model.causal:
            decoding = {k: v for k, v in decoding.items() if k == "temperature"}
        started = time.perf_counter()
        images = generate_images(self.model, self.tokenizer, torch.from_numpy(self.labels), progress=self.progress,
                                 seed=seed, **decoding)
        seconds = time.perf_counter() - started
        gen = inception_features(images, device=self.device, progress=self.progress)
        per_class = {}
        for c, floor in self.class_floors.items():
            rows = self.labels == c
            per_class[self.class_names[c]] = {"n": int(rows.sum()), "fid": frechet_distance(gen[rows], self.val[rows]), "floor": floor}
        return {"decoding": {**decoding, "seed": seed}, "fid": frechet_distance(gen, self.val), "fid_floor": self.floor,
                "per_class": per_class, "generation_images_per_s": self.n / seconds, "images": images, "features": gen}

    def memorisation(self, images: torch.Tensor, features: np.ndarray, max_train: int | None = None) -> dict[str, Any]:
        """The memorisation check of generated images (see ``memorisation``), calibrated on the validation
        images: in pixels against every training image (cheap), in FID features against all of them or
        ``max_train`` (the FID floor's class-matched ones when ``max_train`` = n, whose features are
        cached already, else drawn at random, fixed seed)."""
        n_train = len(self.data.train_images)
        if not max_train or max_train >= n_train:
            train_idx = np.arange(n_train)
        elif max_train == self.n:  # the floor's class-matched training images: their features are cached already
            train_idx = matched_indices(np.asarray(self.data.train_labels), self.labels)
        else:
            train_idx = np.sort(np.random.default_rng(0).choice(n_train, max_train, replace=False))
        train_feats = real_features(self.data, "train", train_idx, self.device, self.progress)
        val_images = self.data.val_images[balanced_indices(self.data.val_labels, self.n)]
        return memorisation_report(images, val_images, self.data.train_images, features, self.val, train_feats,
                                   feature_train_index=train_idx)

    def header(self) -> dict[str, Any]:
        return {"checkpoint": self.path, "phase": "transformer-ar" if self.model.causal else "transformer",
                "n": self.n, "device": str(self.device), "fid_network": fid_network_source()}


def evaluate_transformer(
    path: str | Path, n: int = 2000, steps: int = 12, schedule: str = "cosine", order: str = "confidence",
    temperature: float = 1.0, randomness: float = 4.5, cfg_scale: float = 0.0, seed: int = 0, device: str | None = None,
    progress: bool = True, memorisation: bool = True, memorisation_train: int | None = None,
) -> dict[str, Any]:
    """Generation FID, overall and per class, each with its real-vs-real floor; and the memorisation
    check against all training images (or ``memorisation_train`` of them: FID features of every
    training image cost an hour on a 2-core CPU, once, then they are cached)."""
    started = time.perf_counter()
    scorer = GenerationScorer(path, n, device, progress)
    result = scorer.score(seed, steps=steps, schedule=schedule, order=order, temperature=temperature, randomness=randomness,
                          cfg_scale=cfg_scale)
    images, features = result.pop("images"), result.pop("features")
    if memorisation:
        result["memorisation"] = scorer.memorisation(images, features, memorisation_train)
    return {**scorer.header(), **result, "seconds": time.perf_counter() - started}


def ablation(
    path: str | Path, n: int = 2000, steps: tuple[int, ...] = (4, 8, 12, 16), schedules: tuple[str, ...] = ("cosine", "linear", "square"),
    orders: tuple[str, ...] = ("confidence",), device: str | None = None, progress: bool = True, **decoding: Any,
) -> dict[str, Any]:
    """FID and sampling speed for every (order, schedule, steps), same images' labels and seed."""
    scorer = GenerationScorer(path, n, device, progress)
    rows = []
    for order in orders:
        for schedule in schedules:
            for count in steps:
                result = scorer.score(steps=count, schedule=schedule, order=order, **decoding)
                rows.append({"order": order, "steps": count, "schedule": schedule, "fid": result["fid"],
                             "images_per_s": result["generation_images_per_s"]})
    return {**scorer.header(), "fid_floor": scorer.floor, "rows": rows}


def evaluate_checkpoint(path: str | Path, **options: Any) -> dict[str, Any]:
    """Dispatch on the checkpoint's phase (what ``maskgit evaluate`` calls)."""
    phase = str(load_checkpoint(path).get("phase", ""))
    if phase == "vqgan":
        options = {k: v for k, v in options.items() if k in ("n", "device", "progress")}
        return evaluate_tokenizer(path, **options)
    steps, schedule, order = options.pop("steps", 12), options.pop("schedule", "cosine"), options.pop("order", "confidence")
    if phase == "transformer-text":  # FID and faithfulness, from validation captions
        from maskgit_lib.evaluation.text_eval import evaluate_text_transformer

        if any(isinstance(v, tuple | list) for v in (steps, schedule, order)):
            raise ValueError("an ablation table (several --steps/--schedule/--order) is for class models; give one of each")
        options = {k: v for k, v in options.items() if k not in ("memorisation", "memorisation_train")}
        return evaluate_text_transformer(path, steps=steps, schedule=schedule, order=order, **options)
    if options.pop("held_out", 0):
        raise ValueError("--held-out is for text models (held-out attribute pairs); this is a class model")
    options = {k: v for k, v in options.items() if k not in ("classifier", "cfg_ramp")}
    if any(isinstance(v, tuple | list) for v in (steps, schedule, order)):  # an ablation table: FIDs only
        options = {k: v for k, v in options.items() if k not in ("memorisation", "memorisation_train")}
        as_tuple = lambda v: tuple(v) if isinstance(v, tuple | list) else (v,)  # noqa: E731
        return ablation(path, steps=as_tuple(steps), schedules=as_tuple(schedule), orders=as_tuple(order), **options)
    return evaluate_transformer(path, steps=steps, schedule=schedule, order=order, **options)
