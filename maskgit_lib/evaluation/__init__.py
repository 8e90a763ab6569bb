"""Stage 3, evaluation (notebook 07): how good, how fast, and does it copy its training images.

FID with its real-vs-real floor and KID (``metrics``), nearest training images (``memorisation``), the
``maskgit evaluate`` tables (``evaluate``) and the ``maskgit bench`` speed ratios (``bench``).
"""

from maskgit_lib.evaluation.evaluate import GenerationScorer, ablation, evaluate_checkpoint
from maskgit_lib.evaluation.memorisation import near_copy_stats, nearest, pixel_vectors, summary_line
from maskgit_lib.evaluation.metrics import (
    frechet_distance,
    inception_features,
    kernel_inception_distance,
    load_fid_network,
)

__all__ = [
    "GenerationScorer",
    "ablation",
    "evaluate_checkpoint",
    "frechet_distance",
    "inception_features",
    "kernel_inception_distance",
    "load_fid_network",
    "near_copy_stats",
    "nearest",
    "pixel_vectors",
    "summary_line",
]
