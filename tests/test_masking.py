"""Masking schedules, the training mask, and the decoding budget per step."""

from __future__ import annotations

import math

import pytest
import torch

from maskgit_lib.generator.masking import (
    SCHEDULES,
    gamma,
    label_dropout,
    reference_gamma,
    tokens_fixed_after_step,
    tokens_masked_after_step,
    tokens_revealed_per_step,
    training_mask,
)


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedules_go_from_all_masked_to_none_monotonically(name):
    r = torch.linspace(0, 1, 1001)
    values = gamma(name, r)
    assert values[0].item() == pytest.approx(1.0) and values[-1].item() == pytest.approx(0.0, abs=1e-12)
    assert (values[1:] <= values[:-1] + 1e-12).all()


def test_schedule_shapes():
    half = {name: float(gamma(name, 0.5)) for name in SCHEDULES}
    assert half["cosine"] == pytest.approx(math.cos(math.pi / 4))
    assert half["linear"] == pytest.approx(0.5)
    assert half["cubic"] > half["square"] > half["cosine"] > half["linear"] > half["sqrt"]  # concave ones keep more masked
    with pytest.raises(ValueError, match="unknown masking schedule 'coz'"):
        gamma("coz", 0.5)


@pytest.mark.parametrize("name", ["cosine", "linear", "cubic"])
def test_training_mask_counts_follow_one_ratio_per_example(name):
    n_tokens, batch = 64, 256
    mask = training_mask(batch, n_tokens, name, generator=torch.Generator().manual_seed(3))
    r = torch.rand(batch, generator=torch.Generator().manual_seed(3), dtype=torch.float64)  # the same draws
    expected = torch.ceil(gamma(name, r) * n_tokens).clamp(1, n_tokens).long()
    assert mask.shape == (batch, n_tokens) and mask.dtype == torch.bool
    assert torch.equal(mask.sum(1), expected)
    assert len(set(mask.sum(1).tolist())) > 20  # ratios differ between examples


def test_training_mask_average_matches_the_schedule_integral():
    mask = training_mask(20_000, 64, "cosine", generator=torch.Generator().manual_seed(0))
    assert mask.float().mean().item() == pytest.approx(2 / math.pi + 0.5 / 64, abs=0.01)  # ∫ cos(πr/2) dr + ceil's half token
    assert mask.float().mean(0).std() < 0.02  # every position equally likely to be masked


@pytest.mark.parametrize("name", SCHEDULES)
@pytest.mark.parametrize("steps", [1, 4, 8, 12, 16, 64])
def test_decoding_budget(name, steps):
    revealed = tokens_revealed_per_step(name, steps, 64)
    fixed = tokens_fixed_after_step(name, steps, 64)
    assert len(revealed) == steps and sum(revealed) == 64 and min(revealed) >= 1
    assert fixed[-1] == 64 and fixed == sorted(fixed)


def test_decoding_budget_formula_and_edge_cases():
    fixed = tokens_fixed_after_step("cosine", 12, 64)
    expected, previous = [], 0
    for t in range(12):
        formula = math.floor(64 * (1 - math.cos(math.pi / 2 * (t + 1) / 12)) + 1e-9)  # floor(N (1 - γ((t+1)/T)))
        previous = max(formula, previous + 1)  # ... but at least one new token per step
        expected.append(previous)
    assert fixed == expected and expected[0] == 1 and fixed[-1] == 64
    assert tokens_revealed_per_step("linear", 64, 64) == [1] * 64
    assert tokens_revealed_per_step("cosine", 8, 64)[0] < tokens_revealed_per_step("cosine", 8, 64)[-1]
    with pytest.raises(ValueError, match="between 1 and the number of tokens"):
        tokens_revealed_per_step("cosine", 65, 64)


def test_tokens_masked_after_step_counts_down_to_zero():
    assert tokens_masked_after_step("cosine", 8, 64) == [64 - f for f in tokens_fixed_after_step("cosine", 8, 64)]
    assert tokens_masked_after_step("linear", 1, 10) == [0]
    assert tokens_masked_after_step("cosine", 10, 10) == list(range(9, -1, -1))


def test_reference_log_and_exp_are_the_google_research_forms():
    """mask_schedule.py: log = -log2(r)/log2(N), exp = 1 - 2^(-log2(N)(1 - r)), clipped to [1e-6, 1]."""
    n = 256
    for r in [0.1, 0.25, 0.5, 0.9]:
        assert float(reference_gamma("log", r, n)) == pytest.approx(-math.log2(r) / 8)
        assert float(reference_gamma("exp", r, n)) == pytest.approx(1 - 2 ** (-8 * (1 - r)))
    assert float(reference_gamma("log", 0.0, n)) == 1.0 and float(reference_gamma("log", 1.0, n)) == 1e-6
    assert float(reference_gamma("exp", 0.0, n)) == pytest.approx(1 - 1 / n)
    # the course's N-free shapes differ: the reference log is far more convex
    assert float(reference_gamma("log", 0.5, n)) < float(gamma("log", 0.5)) / 2
    with pytest.raises(ValueError, match="reference forms"):
        reference_gamma("cosine", 0.5, n)


def test_label_dropout_rate_and_reproducibility():
    drop = label_dropout(20_000, 0.1, torch.Generator().manual_seed(0))
    assert drop.dtype == torch.bool and abs(drop.float().mean().item() - 0.1) < 0.01
    assert torch.equal(drop, label_dropout(20_000, 0.1, torch.Generator().manual_seed(0)))
    assert not label_dropout(10, 0.0).any() and label_dropout(10, 1.0).all()
