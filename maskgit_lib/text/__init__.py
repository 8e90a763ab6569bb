"""Stage 3, text (notebook 08): a caption instead of a class, Muse-style at course scale.

A text-conditioned MaskGIT needs words for its images: ``captions`` turns an avatar's attributes
(``data/attributes.py``) into short, shuffled, paraphrased sentences, and ``vocabulary`` maps
those words to ids (and says in one line what it cannot read in a user's prompt). The text
encoder is learned from scratch (``encoder``); the text-conditioned Transformer reads the caption
as a prefix of its sequence or through cross-attention (``conditioned``); its trainer (``train``)
draws a fresh caption per image per step, drops captions for guidance and holds out attribute
combinations. Decoding is the generator's ``maskgit_decode``, with word ids in place of labels
and an optional negative prompt.
"""

from maskgit_lib.text.captions import MAX_CAPTION_WORDS, CaptionError, make_caption, style_caption
from maskgit_lib.text.conditioned import (
    CONDITIONINGS,
    CrossAttentionBlock,
    TextConditionedTransformer,
    build_text_transformer,
    load_text_transformer,
)
from maskgit_lib.text.encoder import TextEncoder
from maskgit_lib.text.vocabulary import PromptError, Vocabulary

__all__ = [
    "CONDITIONINGS",
    "MAX_CAPTION_WORDS",
    "CaptionError",
    "CrossAttentionBlock",
    "PromptError",
    "TextConditionedTransformer",
    "TextEncoder",
    "Vocabulary",
    "build_text_transformer",
    "load_text_transformer",
    "make_caption",
    "style_caption",
]
