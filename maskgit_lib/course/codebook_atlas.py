"""The codebook atlas (notebook 02): every code of a trained tokenizer drawn as the patch it decodes to.

Why: usage curves say *how many* codes the tokenizer uses; the atlas shows *what* they are. A code is
drawn by decoding a grid filled with that one id and cutting out the middle: the decoder's
receptive field spans several tokens, so a lone code among other ids would be smeared into its
neighbours, while a grid of itself shows the texture the decoder gives it. Codes are laid out by how
often the validation images use them, most used first; unused codes are faded.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from maskgit_lib.figures import image_grid, to_uint8
from maskgit_lib.tokenizer.vqgan import VQGAN


@torch.no_grad()
def code_patches(tokenizer: VQGAN, grid: int, tokens_per_side: int = 2, batch_size: int = 128) -> torch.Tensor:
    """Each code decoded on its own: (K, 3, p, p) in [-1, 1], the middle ``tokens_per_side``² tokens'
    worth of pixels (p = tokens_per_side × image side / grid), enough to show a texture."""
    device = next(tokenizer.parameters()).device
    codebook_size = tokenizer.config.quantizer.codebook_size
    patches = []
    for start in range(0, codebook_size, batch_size):
        ids = torch.arange(start, min(start + batch_size, codebook_size), device=device)  # (b,)
        images = tokenizer.decode_tokens(ids[:, None, None].expand(-1, grid, grid))  # (b, 3, H, W)
        side = tokens_per_side * images.shape[-1] // grid
        start_px = (images.shape[-1] - side) // 2
        patches.append(images[:, :, start_px : start_px + side, start_px : start_px + side].cpu())  # (b, 3, p, p)
    return torch.cat(patches)


def plot_codebook_atlas(patches: torch.Tensor, counts: torch.Tensor | np.ndarray, n_cols: int = 32, fade: float = 0.8):
    """The patches (K, 3, p, p), most used code first, unused ones faded towards white."""
    counts = np.asarray(counts, dtype=np.float64)  # (K,)
    order = np.argsort(-counts, kind="stable")  # most used first
    pixels = to_uint8(patches[torch.from_numpy(order)]).astype(np.float64)  # (K, p, p, 3)
    unused = counts[order] == 0
    pixels[unused] = pixels[unused] * (1 - fade) + 255 * fade
    atlas = image_grid(pixels.astype(np.uint8), n_cols=n_cols)
    fig, ax = plt.subplots(figsize=(12, 12 * atlas.shape[0] / atlas.shape[1] + 0.6))
    ax.imshow(atlas, interpolation="nearest")
    ax.set_title(f"the {len(counts)} codes as the patch each decodes to, most used first "
                 f"({int(unused.sum())} unused on the validation set, faded)")
    ax.axis("off")
    return fig
