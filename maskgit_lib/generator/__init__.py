"""Stage 2, the generator (notebooks 03 to 06): a bidirectional Transformer fills in masked token grids.

How many tokens to mask (``masking``; a spread-out order: ``halton``), the Transformer and its
masked-token loss (``transformer``, which also loads a trained one), the token grids it learns from
(``tokens``), iterative decoding (``decoding``), editing as decoding with known tokens (``editing``)
and its trainer (``train``). It reads the tokenizer's model, never the tokenizer's trainer.
"""

from maskgit_lib.generator.decoding import (
    autoregressive_decode,
    decode_step,
    guided_logits,
    gumbel_noise,
    maskgit_decode,
    time_sampling,
)
from maskgit_lib.generator.editing import EDIT_MODES, border_mask, box_mask, edit_image, pixel_to_token_mask
from maskgit_lib.generator.halton import halton_order
from maskgit_lib.generator.masking import (
    SCHEDULES,
    gamma,
    label_dropout,
    reference_gamma,
    tokens_fixed_after_step,
    tokens_revealed_per_step,
    training_mask,
)
from maskgit_lib.generator.tokens import token_dataset
from maskgit_lib.generator.train import TransformerTrainer, accuracy_by_mask_ratio, train_transformer
from maskgit_lib.generator.transformer import (
    MaskGITTransformer,
    build_transformer,
    load_transformer,
    masked_token_loss,
)

__all__ = [
    "EDIT_MODES",
    "SCHEDULES",
    "MaskGITTransformer",
    "TransformerTrainer",
    "accuracy_by_mask_ratio",
    "autoregressive_decode",
    "border_mask",
    "box_mask",
    "build_transformer",
    "decode_step",
    "edit_image",
    "gamma",
    "guided_logits",
    "gumbel_noise",
    "halton_order",
    "label_dropout",
    "load_transformer",
    "masked_token_loss",
    "maskgit_decode",
    "pixel_to_token_mask",
    "reference_gamma",
    "time_sampling",
    "token_dataset",
    "tokens_fixed_after_step",
    "tokens_revealed_per_step",
    "train_transformer",
    "training_mask",
]
