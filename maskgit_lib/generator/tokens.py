"""The data set as tokens: every image encoded once by the trained tokenizer, and cached.

Why once: the Transformer phase never needs pixels, and running the encoder every step would cost
more than the Transformer itself on a CPU. Training images are encoded twice, as they are and
mirrored, since a mirrored face is as valid a training example as the original (the tokenizer's
own augmentation, carried over to phase 2).

The cache lives beside the prepared images (``<data folder>/tokens-<key>.npz``); the key hashes the
tokenizer file, so a retrained tokenizer gets fresh tokens.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from maskgit_lib.data.batches import uint8_to_tensor
from maskgit_lib.data.prepared import PreparedData
from maskgit_lib.progress import progress_bar
from maskgit_lib.tokenizer.vqgan import VQGAN


def file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


@torch.no_grad()
def encode_images(tokenizer: VQGAN, images: np.ndarray, flip: bool = False, batch_size: int = 256, progress: bool = False) -> np.ndarray:
    """uint8 images (N, H, W, 3) → token grids (N, h, w) int16 (mirrored first if ``flip``)."""
    tokenizer.eval()
    device = next(tokenizer.parameters()).device
    chunks = []
    for start in progress_bar(range(0, len(images), batch_size), progress, "encoding images to tokens"):
        batch = uint8_to_tensor(images[start : start + batch_size], device)  # (B, 3, H, W)
        if flip:
            batch = batch.flip(-1)
        chunks.append(tokenizer.encode(batch).to(torch.int16).cpu().numpy())  # (B, h, w)
    return np.concatenate(chunks)


def token_dataset(data: PreparedData, tokenizer: VQGAN, tokenizer_path: str | Path, progress: bool = True) -> dict[str, np.ndarray]:
    """``train_tokens`` (2N, h, w) (originals then mirrored), ``train_labels`` (2N,), ``val_tokens``
    (M, h, w), ``val_labels`` (M,); encoded once per tokenizer file and cached."""
    path = data.folder / f"tokens-{file_digest(tokenizer_path)}.npz"
    if not path.is_file():
        arrays = {
            "train_tokens": np.concatenate([
                encode_images(tokenizer, data.train_images, flip=False, progress=progress),
                encode_images(tokenizer, data.train_images, flip=True, progress=progress),
            ]),
            "train_labels": np.concatenate([data.train_labels, data.train_labels]).astype(np.int64),
            "val_tokens": encode_images(tokenizer, data.val_images, progress=progress),
            "val_labels": np.asarray(data.val_labels, dtype=np.int64),
        }
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    with np.load(path) as cached:
        return {key: cached[key] for key in cached.files}
