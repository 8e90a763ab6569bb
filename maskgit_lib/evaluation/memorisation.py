"""Does the model copy its training images? Nearest training neighbours of generated images.

On a small data set a low FID can hide a model that reproduces its training images. The check:
for every generated image, the distance to its nearest *training* image, in two spaces:

- the FID network's 2048-D features (what FID sees: a copy there is a copy of content),
- pixels (RMS difference in [0, 1] units: a copy there is a copy of the image itself).

A distance means little on its own, so it is calibrated on real images the model never saw: the
validation images' own nearest training neighbours. A generated image is a **near-copy** if it is
closer to a training image than 95 % of the validation images are to theirs (the threshold is the
5th percentile of the validation distances, so about 5 % of real, novel images fall under it). A
model that generalises shows about that share; a model that memorises shows far more, and its
median distance falls below the validation images'.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from maskgit_lib.figures import to_uint8_nchw

NEAR_COPY_QUANTILE = 0.05  # the share of real validation images that falls under the threshold


def nearest(query: np.ndarray | torch.Tensor, reference: np.ndarray | torch.Tensor, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance (n,) from each query row (n, d) to its nearest reference row (m, d), and that row's index (n,)."""
    ref = torch.as_tensor(reference, dtype=torch.float32)  # (M, D)
    query = torch.as_tensor(query, dtype=torch.float32)  # (N, D)
    distances, indices = [], []
    for start in range(0, len(query), chunk):
        d = torch.cdist(query[start : start + chunk], ref)  # (n, M)
        best = d.min(dim=1)
        distances.append(best.values)
        indices.append(best.indices)
    return torch.cat(distances).numpy(), torch.cat(indices).numpy()


def pixel_vectors(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Images (uint8 NHWC / NCHW, or floats in [-1, 1]) as rows (n, 3·H·W) in [0, 1], divided by √(3HW)
    so that the Euclidean distance between two rows is their RMS pixel difference."""
    x = to_uint8_nchw(images).float().flatten(1) / 255  # (N, 3HW)
    return x / x.shape[1] ** 0.5


def near_copy_stats(generated: np.ndarray, validation: np.ndarray, train: np.ndarray, quantile: float = NEAR_COPY_QUANTILE) -> dict[str, Any]:
    """Nearest-training distances of generated and validation rows, the calibrated threshold, and the near-copy shares."""
    d_gen, idx_gen = nearest(generated, train)
    d_val, _ = nearest(validation, train)
    threshold = float(np.quantile(d_val, quantile))
    return {
        "threshold": threshold, "threshold_quantile": quantile,
        "near_copy_share": float((d_gen <= threshold).mean()), "val_near_copy_share": float((d_val <= threshold).mean()),
        "median_distance": float(np.median(d_gen)), "val_median_distance": float(np.median(d_val)),
        "nearest_train_index": idx_gen.tolist(),
    }


def memorisation_report(
    generated_images, val_images, train_images, generated_features=None, val_features=None, train_features=None,
    quantile: float = NEAR_COPY_QUANTILE, feature_train_index: np.ndarray | None = None,
) -> dict[str, Any]:
    """Near-copy statistics in pixel space against every training image, and in FID-feature space when
    the features are given (``train_features``: of ``train_images[feature_train_index]``, or of all).
    Nearest neighbours are reported as indices into ``train_images``."""
    report = {"pixels": near_copy_stats(pixel_vectors(generated_images), pixel_vectors(val_images), pixel_vectors(train_images), quantile)}
    report["n_train"] = len(train_images)
    if generated_features is not None and val_features is not None and train_features is not None:
        report["inception"] = near_copy_stats(generated_features, val_features, train_features, quantile)
        if feature_train_index is not None:
            index = np.asarray(feature_train_index)
            report["inception"]["nearest_train_index"] = index[report["inception"]["nearest_train_index"]].tolist()
        report["inception"]["n_train"] = len(train_features)
    report["n_generated"], report["n_validation"] = len(generated_images), len(val_images)
    return report


def summary_line(report: dict[str, Any]) -> str:
    """One line per space: the near-copy share beside the validation images', and the median distances."""
    parts = []
    for space in ("inception", "pixels"):
        if space in report:
            r = report[space]
            parts.append(f"{space}: {r['near_copy_share']:.1%} near-copies (real validation images: {r['val_near_copy_share']:.1%}), "
                         f"median distance {r['median_distance']:.3g} vs {r['val_median_distance']:.3g}")
    return "; ".join(parts)
