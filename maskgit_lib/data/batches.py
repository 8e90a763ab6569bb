"""Batches from a prepared data set: uint8 arrays to tensors in [-1, 1], in an order that is a pure
function of (seed, step), so a resumed run sees exactly the batches an uninterrupted one would."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from maskgit_lib.data.prepared import PreparedData


class ImageArrayDataset(Dataset):
    """uint8 images (N, H, W, 3) → float tensors (3, H, W) in [-1, 1], with their integer labels."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, hflip: bool = False):
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels
        self.hflip = hflip

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        pixels = torch.from_numpy(np.array(self.images[index]))  # (H, W, 3) uint8, copied out of the mmap
        image = pixels.permute(2, 0, 1).float().div(127.5).sub(1.0)  # (3, H, W) in [-1, 1]
        if self.hflip and torch.rand(()) < 0.5:
            image = image.flip(-1)
        return image, int(self.labels[index])


def make_dataloader(
    data: PreparedData,
    split: str,
    batch_size: int,
    shuffle: bool | None = None,
    hflip: bool | None = None,
    num_workers: int = 0,
    seed: int = 0,
) -> DataLoader:
    """Batches of (images (B, 3, H, W) in [-1, 1], labels (B,)). Training batches are shuffled,
    flipped and full; validation batches keep their order and every image."""
    training = split == "train"
    shuffle = training if shuffle is None else shuffle
    hflip = training if hflip is None else hflip
    split_images, split_labels = data.split(split)
    dataset = ImageArrayDataset(split_images, split_labels, hflip=hflip)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=training and len(dataset) >= batch_size,
        num_workers=num_workers,
        generator=generator,
        persistent_workers=num_workers > 0,
    )


def uint8_to_tensor(images, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (B, H, W, 3) array → float (B, 3, H, W) in [-1, 1] on ``device``."""
    pixels = torch.from_numpy(np.array(images)).to(device)  # a writable copy (the cache is memory-mapped)
    return pixels.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def epoch_order(n_images: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled order of one epoch, a pure function of (seed, epoch): resumable mid-epoch."""
    return torch.randperm(n_images, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def training_batch(
    data: PreparedData, step: int, batch_size: int, seed: int, hflip: bool = True
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The batch of training step ``step``: images (B, 3, H, W) in [-1, 1], labels (B,), and its epoch.

    Fully determined by (step, batch_size, seed), with no iterator state: a run resumed from a
    checkpoint at step s sees exactly the batches an uninterrupted run would have seen.
    """
    n_images = len(data.train_images)
    per_epoch = max(n_images // batch_size, 1)
    epoch, index = divmod(step, per_epoch)
    order = epoch_order(n_images, seed, epoch)[index * batch_size : (index + 1) * batch_size]
    images = uint8_to_tensor(np.stack([data.train_images[i] for i in order.tolist()]))  # (B, 3, H, W)
    if hflip:
        flip = torch.rand(len(order), generator=torch.Generator().manual_seed(seed * 7919 + step)) < 0.5  # (B,)
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    labels = torch.from_numpy(np.asarray(data.train_labels)[order.numpy()].astype(np.int64))
    return images, labels, epoch


def steps_per_epoch(data: PreparedData, batch_size: int) -> int:
    return max(len(data.train_images) // batch_size, 1)
