"""Stage 0, the data (notebook 00): images in, prepared uint8 arrays out.

The avatars are rendered offline from their seeds (``avatars``); any folder of images
(``folders``) and the Kaggle data sets (``kaggle_source``) go through the same preparation, cached
once as uint8 arrays (``prepared``) and served as batches in [-1, 1] (``batches``).
"""

from maskgit_lib.data.batches import make_dataloader, training_batch, uint8_to_tensor
from maskgit_lib.data.prepared import (
    DATASETS,
    DataError,
    PreparedData,
    list_prepared,
    load_prepared,
    prepare_data,
)

__all__ = [
    "DATASETS",
    "DataError",
    "PreparedData",
    "list_prepared",
    "load_prepared",
    "make_dataloader",
    "prepare_data",
    "training_batch",
    "uint8_to_tensor",
]
