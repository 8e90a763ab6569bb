"""The memorisation check: nearest neighbours, RMS pixel distances, and calibrated near-copy shares."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maskgit_lib.evaluation.evaluate import balanced_indices
from maskgit_lib.evaluation.memorisation import (
    memorisation_report,
    near_copy_stats,
    nearest,
    pixel_vectors,
    summary_line,
)


def test_nearest_matches_brute_force():
    rng = np.random.default_rng(0)
    query, reference = rng.normal(size=(37, 5)), rng.normal(size=(101, 5))
    distances, indices = nearest(query, reference, chunk=8)
    full = np.linalg.norm(query[:, None] - reference[None], axis=-1)
    assert np.array_equal(indices, full.argmin(1))
    assert np.allclose(distances, full.min(1), atol=1e-5)


def test_pixel_distance_is_the_rms_difference():
    a = np.zeros((1, 4, 4, 3), dtype=np.uint8)
    b = np.full((1, 4, 4, 3), 51, dtype=np.uint8)  # every channel differs by 51/255 = 0.2
    assert torch.dist(pixel_vectors(a)[0], pixel_vectors(b)[0]).item() == pytest.approx(0.2, abs=1e-6)


def test_copies_are_flagged_and_fresh_samples_are_not():
    rng = np.random.default_rng(1)
    train, val, fresh = rng.normal(size=(500, 8)), rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    copies = train[rng.choice(500, 400)] + rng.normal(scale=1e-3, size=(400, 8))
    memorised, novel = near_copy_stats(copies, val, train), near_copy_stats(fresh, val, train)
    assert memorised["near_copy_share"] == 1.0 and memorised["median_distance"] < 0.01
    assert novel["near_copy_share"] < 0.12 and novel["val_near_copy_share"] == pytest.approx(0.05, abs=0.01)
    assert memorised["nearest_train_index"][:3] != novel["nearest_train_index"][:3]


def test_report_has_both_spaces_and_one_summary_line():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(30, 8, 8, 3), dtype=np.uint8)
    feats = rng.normal(size=(30, 16))
    report = memorisation_report(images[:10], images[10:20], images[20:], feats[:10], feats[10:20], feats[25:],
                                 feature_train_index=np.arange(5, 10))
    assert set(report) >= {"pixels", "inception"} and report["n_train"] == 10 and report["inception"]["n_train"] == 5
    assert all(5 <= i < 10 for i in report["inception"]["nearest_train_index"])
    line = summary_line(report)
    assert "\n" not in line and line.startswith("inception:") and "pixels:" in line
    assert "inception" not in memorisation_report(images[:10], images[10:20], images[20:])


def test_balanced_indices_take_the_classes_in_turn():
    stored_by_class = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    assert balanced_indices(stored_by_class, 5).tolist() == [0, 3, 5, 1, 4]
    cycling = np.arange(24) % 8  # the avatars' validation set: already balanced, so simply the prefix
    assert balanced_indices(cycling, 10).tolist() == list(range(10))
