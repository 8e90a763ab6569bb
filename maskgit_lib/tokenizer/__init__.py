"""Stage 1, the tokenizer (notebooks 01 and 02): an image becomes a small grid of code ids, and back.

Vector quantization (``quantize``; a fixed grid instead: ``fsq``), the VQGAN around it (``vqgan``,
which also loads a trained one), the losses that train it (``losses``, ``perceptual``,
``discriminator``), how well it reconstructs (``reconstruction``) and its trainer (``train``).
"""

from maskgit_lib.tokenizer.discriminator import PatchDiscriminator
from maskgit_lib.tokenizer.fsq import FiniteScalarQuantizer
from maskgit_lib.tokenizer.losses import adaptive_weight, generator_adv_loss, hinge_d_loss
from maskgit_lib.tokenizer.perceptual import WeightsError, load_lpips, prepare_weights
from maskgit_lib.tokenizer.quantize import CodebookUsage, VectorQuantizer, ema_codebook_update, nearest_code
from maskgit_lib.tokenizer.reconstruction import evaluate_reconstruction, psnr
from maskgit_lib.tokenizer.train import VQGANTrainer, compare_discriminator_leak, train_vqgan
from maskgit_lib.tokenizer.vqgan import VQGAN, load_vqgan

__all__ = [
    "VQGAN",
    "CodebookUsage",
    "FiniteScalarQuantizer",
    "PatchDiscriminator",
    "VQGANTrainer",
    "VectorQuantizer",
    "WeightsError",
    "adaptive_weight",
    "compare_discriminator_leak",
    "ema_codebook_update",
    "evaluate_reconstruction",
    "generator_adv_loss",
    "hinge_d_loss",
    "load_lpips",
    "load_vqgan",
    "nearest_code",
    "prepare_weights",
    "psnr",
    "train_vqgan",
]
