"""The toys of notebook 01 must show what the notebook says they show."""

from __future__ import annotations

import numpy as np
import torch

from maskgit_lib.config import QuantizerConfig
from maskgit_lib.course.vq_toy import (
    image_patches,
    patches_to_images,
    quantize_patches,
    toy_points,
    train_patch_vq,
    train_toy_vq,
)


def test_plain_vq_collapses_and_the_cures_fix_it():
    points = toy_points(1000, "blobs")
    plain = train_toy_vq(points, QuantizerConfig(codebook_size=64, code_dim=2), steps=300, lr=0.02)
    cured = train_toy_vq(points, QuantizerConfig(codebook_size=64, code_dim=2, dead_code_after_steps=20), steps=300, lr=0.02)
    assert plain.usage[-1] < 0.5 < 0.9 < cured.usage[-1]
    assert cured.recon_mse[-1] < plain.recon_mse[-1]
    assert len(plain.codebooks) == len(plain.steps) == 30 and plain.codebooks[0].shape == (64, 2)


def test_patches_round_trip_exactly():
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    patches = image_patches(images)
    assert patches.shape == (3 * 64, 48)
    back = patches_to_images(patches, 3, 32)
    expected = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    torch.testing.assert_close(back, expected)


def test_patch_codebook_reconstructs_better_with_more_codes():
    rng = np.random.default_rng(1)
    images = (rng.random((16, 32, 32, 3)) * 255).astype(np.uint8)
    patches = image_patches(images)
    errors = []
    for size in (4, 64):
        quantizer, usage, _ = train_patch_vq(patches, QuantizerConfig(codebook_size=size, code_dim=48, kmeans_init=True), steps=20)
        quantized, ids = quantize_patches(quantizer, patches)
        errors.append((quantized - patches).pow(2).mean().item())
        assert ids.max() < size and len(usage) == 20
    assert errors[1] < errors[0]


def test_fsq_toy_cannot_collapse_and_shows_z_where_its_grid_lives():
    points = toy_points(1000, "blobs")
    plain = train_toy_vq(points, QuantizerConfig(codebook_size=64, code_dim=2), steps=300, lr=0.02)
    fsq = train_toy_vq(points, QuantizerConfig(codebook_size=64, code_dim=2, levels=[8, 8]), steps=300, lr=0.05)
    assert fsq.usage[-1] > 2 * plain.usage[-1] and fsq.recon_mse[-1] < plain.recon_mse[-1]
    grid = torch.tensor([-4, -3, -2, -1, 0, 1, 2, 3]) / 4  # 8 levels per axis, in token-id order
    assert torch.equal(fsq.codebooks[-1], torch.cartesian_prod(grid, grid)[:, [1, 0]])  # never moves
    z, codes = fsq.encoded[-1], fsq.codebooks[-1]
    assert z.abs().max() <= 1  # in code space, so each point lies beside the code it was rounded to
    assert ((z - codes[fsq.assignments[-1]]).abs() <= 1 / 8 + 1e-6).all()


def test_l2_normalised_codes_cure_the_collapse_and_are_shown_on_the_unit_circle():
    points = toy_points(1000, "blobs")
    plain = train_toy_vq(points, QuantizerConfig(codebook_size=64, code_dim=2), steps=300, lr=0.02)
    l2 = train_toy_vq(points, QuantizerConfig(codebook_size=64, code_dim=2, l2_normalize=True), steps=300, lr=0.02)
    assert l2.usage[-1] > 2 * plain.usage[-1]
    for z, codes in ((l2.encoded[0], l2.codebooks[0]), (l2.encoded[-1], l2.codebooks[-1])):
        torch.testing.assert_close(z.norm(dim=1), torch.ones(len(z)))  # where the comparison happens
        torch.testing.assert_close(codes.norm(dim=1), torch.ones(len(codes)))
