"""Vector quantization you can watch: 2-D toy data, and raw image patches without any encoder.

Notebook 01 uses these to show VQ as online k-means, codebook collapse and its cures (k-means init,
EMA updates, dead-code restart, ℓ2-normalised codes), and why an image tokenizer needs a learned
encoder at all.

The 2-D toy is a tiny autoencoder: z = A·x + a (a learned linear "encoder"), q = VQ(z),
x̂ = B·q + b (a learned linear "decoder"). With a learned encoder, the commitment weight β matters:
it decides how hard the encoder is pulled towards the codes it was assigned. With ``levels`` in the
config the quantizer is FSQ's fixed grid (``fsq``) instead, and the plots show z in code space; with
``l2_normalize`` they show z on the unit circle, where it is compared with the codes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maskgit_lib.config import QuantizerConfig
from maskgit_lib.progress import progress_bar
from maskgit_lib.system import torch_threads
from maskgit_lib.tokenizer.fsq import FiniteScalarQuantizer
from maskgit_lib.tokenizer.quantize import CodebookUsage, VectorQuantizer
from maskgit_lib.tokenizer.vqgan import make_quantizer


def toy_points(n_points: int = 2000, kind: str = "blobs", seed: int = 0) -> torch.Tensor:
    """2-D data far from the origin (where a default codebook starts): (N, 2).

    ``blobs``: 12 Gaussian clusters on a ring of radius 4 around (4, 4); ``moons``: two interleaved
    arcs, a shape k-means must tile with many codes.
    """
    generator = torch.Generator().manual_seed(seed)
    if kind == "blobs":
        angles = torch.arange(12) * (2 * math.pi / 12)
        centres = torch.stack([angles.cos(), angles.sin()], 1) * 4 + 4  # (12, 2)
        which = torch.randint(12, (n_points,), generator=generator)
        return centres[which] + 0.35 * torch.randn(n_points, 2, generator=generator)
    if kind == "moons":
        t = torch.rand(n_points, generator=generator) * math.pi
        upper = torch.rand(n_points, generator=generator) < 0.5
        x = torch.where(upper, t.cos(), 1 - t.cos())
        y = torch.where(upper, t.sin(), 0.5 - t.sin())
        return torch.stack([x, y], 1) * 3 + 4 + 0.15 * torch.randn(n_points, 2, generator=generator)
    raise ValueError(f"unknown toy data {kind!r}; use 'blobs' or 'moons'")


@dataclass
class ToyRun:
    """What happened during a toy VQ training: snapshots to replay in a widget."""

    points: torch.Tensor  # (N, 2) the data
    encoded: list[torch.Tensor] = field(default_factory=list)  # per snapshot: (N, 2) encoder outputs z
    codebooks: list[torch.Tensor] = field(default_factory=list)  # per snapshot: (K, 2) codes
    assignments: list[torch.Tensor] = field(default_factory=list)  # per snapshot: (N,) code ids
    steps: list[int] = field(default_factory=list)
    usage: list[float] = field(default_factory=list)  # per step: fraction of codes used on all points
    perplexity: list[float] = field(default_factory=list)
    recon_mse: list[float] = field(default_factory=list)


class ToyAutoencoder(nn.Module):
    def __init__(self, config: QuantizerConfig, learn_encoder: bool = True):
        super().__init__()
        self.encoder = nn.Linear(2, config.code_dim)
        self.decoder = nn.Linear(config.code_dim, 2)
        for layer in (self.encoder, self.decoder):  # start as the identity: z = x
            nn.init.eye_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.encoder.requires_grad_(learn_encoder)
        self.quantizer = make_quantizer(config)

    def forward(self, x: torch.Tensor):
        z = self.encoder(x)  # (N, 2)
        out = self.quantizer(z[:, :, None, None])  # the quantizer wants (B, D, H, W)
        if isinstance(self.quantizer, FiniteScalarQuantizer):  # shown where its grid of codes lives
            z = self.quantizer.scaled(z[:, :, None, None])[:, :, 0, 0]
        elif self.quantizer.config.l2_normalize:  # compared by direction: shown on the unit circle, with the codes
            z = F.normalize(z, dim=1)
        return self.decoder(out.quantized[:, :, 0, 0]), z, out


def train_toy_vq(
    points: torch.Tensor,
    config: QuantizerConfig,
    steps: int = 300,
    batch_size: int = 256,
    lr: float = 0.05,
    learn_encoder: bool = True,
    snapshots: int = 30,
    seed: int = 0,
    progress: bool = False,
) -> ToyRun:
    """Train the toy autoencoder with Adam on mini-batches; keep ``snapshots`` frames for replay."""
    with torch_threads(1):  # tiny tensors: extra threads only add overhead
        return _train_toy_vq(points, config, steps, batch_size, lr, learn_encoder, snapshots, seed, progress)


def _train_toy_vq(points, config, steps, batch_size, lr, learn_encoder, snapshots, seed, progress) -> ToyRun:
    torch.manual_seed(seed)
    model = ToyAutoencoder(config, learn_encoder)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=lr)
    run = ToyRun(points=points)
    snap_at = set(np.linspace(0, steps, snapshots).round().astype(int).tolist())
    for step in progress_bar(range(steps + 1), progress, "toy VQ"):
        if step in snap_at:
            _snapshot(model, run, step)
        if step == steps:
            break
        batch = points[torch.randint(len(points), (batch_size,))]
        recon, _, out = model.train()(batch)
        loss = F.mse_loss(recon, batch) + out.loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        _record(model, run)
    return run


@torch.no_grad()
def _snapshot(model: ToyAutoencoder, run: ToyRun, step: int) -> None:
    _, z, out = model.eval()(run.points)
    run.steps.append(step)
    run.encoded.append(z.clone())
    run.codebooks.append(model.quantizer.codes().clone())
    run.assignments.append(out.indices.flatten().clone())


@torch.no_grad()
def _record(model: ToyAutoencoder, run: ToyRun) -> None:
    recon, _, out = model.eval()(run.points)
    usage = CodebookUsage(model.quantizer.config.codebook_size)
    usage.update(out.indices)
    run.usage.append(usage.usage())
    run.perplexity.append(usage.perplexity())
    run.recon_mse.append(F.mse_loss(recon, run.points).item())


# ---------------------------------------------------------------------- image patches


def image_patches(images: np.ndarray, patch_px: int = 4) -> torch.Tensor:
    """uint8 images (N, H, W, 3) → patch vectors (N*(H/p)*(W/p), 3*p*p) in [-1, 1], row-major."""
    x = torch.from_numpy(np.asarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1  # (N, 3, H, W)
    patches = F.unfold(x, kernel_size=patch_px, stride=patch_px)  # (N, 3*p*p, L)
    return patches.transpose(1, 2).reshape(-1, patches.shape[1])  # (N*L, 3*p*p)


def patches_to_images(patches: torch.Tensor, n_images: int, image_size_px: int, patch_px: int = 4) -> torch.Tensor:
    """Inverse of :func:`image_patches`: (N*L, 3*p*p) → images (N, 3, H, W)."""
    per_image = (image_size_px // patch_px) ** 2
    cols = patches.reshape(n_images, per_image, -1).transpose(1, 2)  # (N, 3*p*p, L)
    return F.fold(cols, (image_size_px, image_size_px), kernel_size=patch_px, stride=patch_px)


def train_patch_vq(
    patches: torch.Tensor, config: QuantizerConfig, steps: int = 300, batch_size: int = 1024, lr: float = 0.01,
    seed: int = 0, progress: bool = False,
) -> tuple[VectorQuantizer, list[float], list[float]]:
    """Learn a codebook for raw patches (no encoder). Returns the quantizer and per-step batch usage and
    perplexity."""
    torch.manual_seed(seed)
    quantizer = VectorQuantizer(config).train()
    optimizer = torch.optim.Adam([p for p in quantizer.parameters() if p.requires_grad] or [torch.zeros(1, requires_grad=True)], lr=lr)
    usage, perplexity = [], []
    for _ in progress_bar(range(steps), progress, "patch VQ"):
        batch = patches[torch.randint(len(patches), (batch_size,))]
        out = quantizer(batch[:, :, None, None])
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        usage.append(out.usage.item())
        perplexity.append(out.perplexity.item())
    return quantizer.eval(), usage, perplexity


@torch.no_grad()
def quantize_patches(quantizer: VectorQuantizer, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace every patch by its code: (quantized patches (M, D), code ids (M,))."""
    out = quantizer.eval()(patches[:, :, None, None])
    return out.quantized[:, :, 0, 0], out.indices.flatten()
