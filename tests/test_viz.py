"""Figure helpers: what they draw is what they were given."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from maskgit_lib.course.pictures import show_nearest_neighbours
from maskgit_lib.figures import image_grid

matplotlib.use("Agg")


def test_nearest_neighbour_pairs_show_each_image_beside_its_neighbour_and_the_distance():
    rng = np.random.default_rng(0)
    generated = torch.from_numpy(rng.integers(0, 256, size=(5, 3, 8, 8), dtype=np.uint8))  # (B, 3, H, W) as generated
    neighbours = rng.integers(0, 256, size=(5, 8, 8, 3), dtype=np.uint8)  # (B, H, W, 3) as the data cache stores them
    distances = np.array([0.0123, 0.2, 0.05, 0.3, 0.1])
    fig = show_nearest_neighbours(generated, neighbours, distances, n_cols=3)
    axes = fig.axes
    assert len(axes) == 6  # 2 rows of 3, the last one empty
    for index, ax in enumerate(axes[:5]):
        pair = np.stack([generated[index].permute(1, 2, 0).numpy(), neighbours[index]])
        assert np.array_equal(ax.images[0].get_array(), image_grid(pair, n_cols=2, pad_px=2, pad_value=160))
        assert [t.get_text() for t in ax.texts] == [f"{distances[index]:.3f}"]
    assert not axes[5].images and not axes[5].texts
    plt.close(fig)


def test_nearest_neighbour_pairs_refuse_mismatched_lengths():
    images = np.zeros((3, 4, 4, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="one neighbour and one distance per generated image"):
        show_nearest_neighbours(images, images[:2], [0.1, 0.2, 0.3])


def test_a_uint8_tensor_is_taken_as_pixels_not_rescaled():
    import torch

    from maskgit_lib.figures import image_grid, to_uint8

    pixels = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)  # (B, 3, H, W), as `maskgit evaluate` keeps samples
    assert (to_uint8(pixels) == pixels.permute(0, 2, 3, 1).numpy()).all()
    assert image_grid(pixels, n_cols=2)[:4, :4].tolist() == pixels[0].permute(1, 2, 0).tolist()
