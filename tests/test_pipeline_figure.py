"""Notebook 00's map of the course and its decoding strip: what they label is what the config and the
decoding say, not numbers typed into the picture."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from maskgit_lib.config import load_config
from maskgit_lib.course.pictures import decoded_canvas, pipeline_sizes, plot_pipeline, show_decoding_steps
from maskgit_lib.generator.decoding import DecodeHistory

matplotlib.use("Agg")

PATCH_PX = 4


class PatchTokenizer:
    """A stand-in decoder: token id k paints its 4×4 patch the grey level k (of 255), on a (1, side, side) grid."""

    def decode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        pixels = tokens.float().repeat_interleave(PATCH_PX, 1).repeat_interleave(PATCH_PX, 2)  # (B, H, W)
        return (pixels / 127.5 - 1)[:, None].expand(-1, 3, -1, -1)  # (B, 3, H, W) in [-1, 1]


def texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


@pytest.mark.parametrize("profile", ["fast", "cpu"])
def test_the_map_shows_the_profiles_own_sizes(profile):
    config = load_config(profile)
    side = config.data.image_size_px // config.vqgan.downsample_factor
    fig = plot_pipeline(config, steps=12)
    labels = "\n".join(texts(fig))
    px = config.data.image_size_px
    assert f"{px}×{px}×3 px" in labels
    assert f"{side}×{side} = {side * side} token ids" in labels
    assert f"{config.vqgan.quantizer.codebook_size} codes" in labels and f"0 … {config.vqgan.quantizer.codebook_size - 1}" in labels
    assert f"width {config.transformer.width}, {config.transformer.depth} blocks" in labels
    assert "12 parallel" in labels and "repeat × 12" in labels
    assert len(fig.axes) == 1  # no thumbnails asked for
    plt.close(fig)


def test_the_map_follows_a_changed_config_and_step_count():
    config = load_config("fast")
    config.data.image_size_px, config.vqgan.quantizer.codebook_size, config.transformer.width = 64, 1024, 96
    fig = plot_pipeline(config, steps=8)
    labels = "\n".join(texts(fig))
    side = 64 // config.vqgan.downsample_factor
    assert "64×64×3 px" in labels and f"{side}×{side} = {side * side} token ids" in labels and "0 … 1023" in labels
    assert "width 96" in labels and "8 parallel" in labels and "12 parallel" not in labels
    plt.close(fig)


def test_the_map_draws_the_thumbnails_it_is_given_and_writes_out_the_ids():
    config = load_config("fast")
    side = pipeline_sizes(config, 12)["grid_side"]
    image = np.full((32, 32, 3), 200, dtype=np.uint8)
    ids = torch.arange(side * side).view(side, side) % config.vqgan.quantizer.codebook_size
    fig = plot_pipeline(config, steps=12, image=image, ids=ids, canvases=[image, image], generated=image)
    assert len(fig.axes) == 1 + 4  # the boxes, and one picture above each of four boxes
    assert [str(v) for v in ids.flatten().tolist()] == [t.get_text() for t in fig.axes[-3].texts]  # the ids axis
    plt.close(fig)


def test_the_map_refuses_zero_steps():
    with pytest.raises(ValueError, match="at least 1 step"):
        pipeline_sizes(load_config("fast"), 0)


def test_a_canvas_greys_the_masked_patches_and_keeps_the_fixed_ones():
    tokens = torch.tensor([10, 10, 10, 60])  # (N,) a 2×2 grid
    masked = torch.tensor([False, True, False, True])
    canvas = decoded_canvas(PatchTokenizer(), tokens, masked)  # (8, 8, 3)
    assert canvas.shape == (2 * PATCH_PX, 2 * PATCH_PX, 3)
    assert (canvas[:PATCH_PX, :PATCH_PX] == 10).all() and (canvas[PATCH_PX:, :PATCH_PX] == 10).all()  # fixed: decoded
    assert (canvas[:, PATCH_PX:] == 128).all()  # masked: grey, whatever their id


def test_the_strip_shows_the_start_and_every_step_with_its_count():
    n_tokens, steps = 16, 3
    start = torch.arange(n_tokens)  # (N,)
    start_masked = torch.arange(n_tokens) >= 4  # 4 kept
    history = DecodeHistory()
    for fixed in (6, 10, 16):
        masked = (torch.arange(n_tokens) >= fixed)[None]  # (1, N)
        history.tokens.append(torch.where(masked, 99, start[None]))
        history.masked.append(masked)
    original = np.zeros((16, 16, 3), dtype=np.uint8)
    fig = show_decoding_steps(PatchTokenizer(), history, start, start_masked, original=original, n_cols=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == ["the avatar", "start: 4/16 kept", "step 1: 6/16", "step 2: 10/16", "step 3: 16/16"]
    assert len(shown) == 2 + steps and len(fig.axes) == 6  # 2 rows of 3, the last one empty
    last = shown[-1].images[0].get_array()
    assert not (np.asarray(last) == 128).all(axis=-1).any()  # nothing grey once every token is fixed
    plt.close(fig)
