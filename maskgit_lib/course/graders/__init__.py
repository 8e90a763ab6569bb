"""The graders of the write-it-yourself cells and exercises, one module per notebook that has
them (00 has none).

Every ``check_*`` runs the learner's function and the library's on random inputs and edge cases and
prints one line: ✓ it matches, ✗ what differs with a hint, or ✎ not yet while the stub is empty. The
shared machinery (the ``Verdict``, the one-line messages, ``show_source``) is in ``verdict``.
"""

from maskgit_lib.course.graders.nb01_vector_quantization import (
    check_ema_update,
    check_perplexity,
    check_quantize,
    check_vq_loss,
)
from maskgit_lib.course.graders.nb02_vqgan import (
    check_adaptive_weight,
    check_hinge_losses,
    check_psnr,
)
from maskgit_lib.course.graders.nb03_masking_schedule import check_reference_log, check_tokens_masked
from maskgit_lib.course.graders.nb04_transformer import (
    check_label_dropout,
    check_masked_cross_entropy,
    check_random_mask,
    check_split_accuracy,
    check_training_step,
)
from maskgit_lib.course.graders.nb05_iterative_decoding import check_decode_step, check_guided_logits
from maskgit_lib.course.graders.nb06_editing import check_inpaint
from maskgit_lib.course.graders.nb07_evaluation import check_frechet_distance, check_kid
from maskgit_lib.course.graders.nb08_text_to_image import (
    check_caption_ids,
    check_faithfulness,
    check_prompt_guidance,
)
from maskgit_lib.course.graders.verdict import Verdict, show_source

__all__ = [
    "Verdict",
    "check_adaptive_weight",
    "check_caption_ids",
    "check_decode_step",
    "check_ema_update",
    "check_faithfulness",
    "check_frechet_distance",
    "check_guided_logits",
    "check_hinge_losses",
    "check_inpaint",
    "check_kid",
    "check_label_dropout",
    "check_masked_cross_entropy",
    "check_perplexity",
    "check_prompt_guidance",
    "check_psnr",
    "check_quantize",
    "check_random_mask",
    "check_reference_log",
    "check_split_accuracy",
    "check_tokens_masked",
    "check_training_step",
    "check_vq_loss",
    "show_source",
]
