"""Figures that training runs and notebooks both draw: image grids, saved PNGs, training curves.

Matplotlib only; the notebooks' own pictures live in :mod:`maskgit_lib.course.pictures`."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """(B, 3, H, W) floats in [-1, 1], (B, 3, H, W) uint8 tensors (saved samples) or (B, H, W, 3) uint8
    arrays → (B, H, W, 3) uint8."""
    if isinstance(images, torch.Tensor) and images.dtype == torch.uint8:
        return images.permute(0, 2, 3, 1).cpu().numpy()  # already pixels: no rescaling
    if isinstance(images, torch.Tensor):
        pixels = images.detach().float().clamp(-1, 1).add(1).mul(127.5).round().byte()  # (B, 3, H, W)
        return pixels.permute(0, 2, 3, 1).cpu().numpy()  # (B, H, W, 3)
    return np.asarray(images, dtype=np.uint8)


def image_grid(images: torch.Tensor | np.ndarray, n_cols: int, pad_px: int = 1, pad_value: int = 255) -> np.ndarray:
    """Tile images into one (rows*H, cols*W, 3) uint8 array, row by row, padded with white."""
    pixels = to_uint8(images)  # (B, H, W, 3)
    count, height, width, _ = pixels.shape
    n_rows = -(-count // n_cols)
    grid = np.full(
        (n_rows * (height + pad_px) - pad_px, n_cols * (width + pad_px) - pad_px, 3), pad_value, dtype=np.uint8
    )
    for index in range(count):
        row, col = divmod(index, n_cols)
        top, left = row * (height + pad_px), col * (width + pad_px)
        grid[top : top + height, left : left + width] = pixels[index]
    return grid


def save_figure(fig, folder: Path, name: str) -> Path:
    """Save ``fig`` as ``folder/name.png`` (150 dpi) and return the path."""
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return path


def save_image(grid: np.ndarray, path: str | Path, scale: int = 1) -> Path:
    """Save a uint8 (H, W, 3) array as PNG, enlarged ``scale`` times with nearest-neighbour pixels."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(grid)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    image.save(path)
    return path


def plot_training_curves(rows: list[dict], loss_keys: list[str], val_keys: list[str]):
    """Training losses (left, log scale) and validation metrics (one panel each) against the step."""
    fig, axes = plt.subplots(1, 1 + len(val_keys), figsize=(4.2 * (1 + len(val_keys)), 3.2))
    for key in loss_keys:
        points = [(r["step"], r[key]) for r in rows if key in r]
        if points:
            axes[0].plot(*zip(*points, strict=True), label=key)
    axes[0].set_yscale("symlog", linthresh=1e-3)  # log-like, but the GAN losses may be negative
    axes[0].set_xlabel("step")
    axes[0].legend(fontsize=8)
    axes[0].set_title("training losses")
    for ax, key in zip(axes[1:], val_keys, strict=True):
        for shown, label in ((key, "trained weights"), (f"{key}_ema", "EMA of the weights")):
            points = [(r["step"], r[shown]) for r in rows if shown in r]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=label)
        if any(f"{key}_ema" in r for r in rows):  # a run with train.ema_decay: two lines, say which
            ax.legend(fontsize=8)
        if "usage" in key:
            ax.set_ylim(0, 1.05)  # a share of the codebook: show it on its full scale
        ax.set_xlabel("step")
        ax.set_title(key)
    fig.tight_layout()
    return fig


def to_uint8_nchw(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Images as uint8 (B, 3, H, W): accepts uint8 (B, H, W, 3) arrays (the data cache) or floats in [-1, 1]."""
    if isinstance(images, np.ndarray):  # the data cache is memory-mapped read-only: torch wants a copy it may write
        images = torch.from_numpy(images if images.flags.writeable else images.copy())
    if images.dtype == torch.uint8:
        return images.permute(0, 3, 1, 2) if images.shape[-1] == 3 else images
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # like a saved PNG
