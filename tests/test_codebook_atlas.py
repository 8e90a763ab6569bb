"""The codebook atlas: each code decoded alone, laid out by usage, unused codes faded."""

from __future__ import annotations

import matplotlib
import numpy as np
import torch

from maskgit_lib.config import load_config
from maskgit_lib.course.codebook_atlas import code_patches, plot_codebook_atlas
from maskgit_lib.tokenizer.vqgan import VQGAN

matplotlib.use("Agg")


def tiny_tokenizer() -> VQGAN:
    torch.manual_seed(0)
    return VQGAN(load_config("fast").vqgan).eval()


def test_each_code_is_the_middle_of_a_grid_filled_with_it():
    tokenizer = tiny_tokenizer()
    config = tokenizer.config
    grid = 32 // config.downsample_factor
    patches = code_patches(tokenizer, grid, tokens_per_side=2, batch_size=5)
    side = 2 * config.downsample_factor
    assert patches.shape == (config.quantizer.codebook_size, 3, side, side)
    code = 3
    whole = tokenizer.decode_tokens(torch.full((1, grid, grid), code))  # (1, 3, 32, 32)
    start = (32 - side) // 2
    torch.testing.assert_close(patches[code], whole[0, :, start : start + side, start : start + side])


def test_the_atlas_puts_the_most_used_code_first_and_fades_unused_ones():
    patches = -torch.ones(4, 3, 2, 2)  # every code black
    patches[2] = 1.0  # code 2 white
    counts = np.array([0, 5, 9, 0])
    fig = plot_codebook_atlas(patches, counts, n_cols=4)
    atlas = fig.axes[0].images[0].get_array()
    assert atlas[0, 0].tolist() == [255, 255, 255], "code 2, the most used, comes first"
    assert atlas[0, 3].tolist() == [0, 0, 0], "code 1, used next, is not faded"
    assert 180 < atlas[0, 6, 0] < 255, "an unused code is faded towards white"
    assert "2 unused" in fig.axes[0].get_title()
