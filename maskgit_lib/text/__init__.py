"""Stage 3, text (notebook 08): a caption instead of a class, Muse-style at course scale.

Captions from the renderer's attributes and the closed word vocabulary (``captions``,
``vocabulary``), the text encoder learned from scratch (``encoder``), the text-conditioned
Transformer with its two ways of reading the caption, a prefix or cross-attention
(``conditioned``), and its trainer (``train``: a fresh caption per image per step, caption dropout
for guidance, held-out attribute pairs). Decoding is the generator's ``maskgit_decode``, with word
ids in place of labels and an optional negative prompt.
"""

from maskgit_lib.text.conditioned import (
    CONDITIONINGS,
    CrossAttentionBlock,
    TextConditionedTransformer,
    build_text_transformer,
    load_text_transformer,
)
from maskgit_lib.text.encoder import TextEncoder

__all__ = [
    "CONDITIONINGS",
    "CrossAttentionBlock",
    "TextConditionedTransformer",
    "TextEncoder",
    "build_text_transformer",
    "load_text_transformer",
]
