"""Stage 3, evaluation (notebook 07): how good, how fast, and does it copy its training images.

FID with its real-vs-real floor and KID (``metrics``), nearest training images (``memorisation``), the
``maskgit evaluate`` tables (``evaluate``) and the ``maskgit bench`` speed ratios (``bench``); for the
text-conditioned model of notebook 08, an attribute classifier trained on real avatars
(``attribute_classifier``) and the faithfulness of generated images to their prompts (``faithfulness``).
"""

from maskgit_lib.evaluation.attribute_classifier import (
    AttributeClassifier,
    load_attribute_classifier,
    train_attribute_classifier,
)
from maskgit_lib.evaluation.evaluate import GenerationScorer, ablation, evaluate_checkpoint
from maskgit_lib.evaluation.faithfulness import faithfulness, score_readings
from maskgit_lib.evaluation.memorisation import near_copy_stats, nearest, pixel_vectors, summary_line
from maskgit_lib.evaluation.metrics import (
    frechet_distance,
    inception_features,
    kernel_inception_distance,
    load_fid_network,
)

__all__ = [
    "AttributeClassifier",
    "faithfulness",
    "score_readings",
    "load_attribute_classifier",
    "train_attribute_classifier",
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
