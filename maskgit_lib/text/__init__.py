"""Stage 4, text (notebook 08): captions from the renderer's attributes and a closed word vocabulary.

A text-conditioned MaskGIT (Muse-style) needs words for its images: ``captions`` turns an avatar's
attributes (``data/attributes.py``) into short, shuffled, paraphrased sentences, and ``vocabulary``
maps those words to ids (and says in one line what it cannot read in a user's prompt).
"""

from maskgit_lib.text.captions import MAX_CAPTION_WORDS, CaptionError, make_caption, style_caption
from maskgit_lib.text.vocabulary import PromptError, Vocabulary

__all__ = ["MAX_CAPTION_WORDS", "CaptionError", "PromptError", "Vocabulary", "make_caption", "style_caption"]
