"""The Halton scheduler: the sequence, the order it gives a token grid, and decoding in that order."""

from __future__ import annotations

import pytest
import torch

from maskgit_lib.generator.decoding import maskgit_decode
from maskgit_lib.generator.halton import halton_order, halton_points, halton_priority, radical_inverse
from maskgit_lib.generator.masking import tokens_fixed_after_step

from .conftest import tiny_maskgit

K, C, GRID = 32, 4, 4
N = GRID * GRID


def make():
    return tiny_maskgit(K, C, N)


def test_radical_inverse_mirrors_the_digits():
    assert [radical_inverse(i, 2) for i in range(1, 8)] == [0.5, 0.25, 0.75, 0.125, 0.625, 0.375, 0.875]
    assert [radical_inverse(i, 3) for i in (1, 2, 3, 4)] == pytest.approx([1 / 3, 2 / 3, 1 / 9, 4 / 9])
    assert halton_points(2).flatten().tolist() == pytest.approx([0.5, 1 / 3, 0.25, 2 / 3])


@pytest.mark.parametrize("grid", [1, 2, 3, 4, 8, 16])
def test_the_order_visits_every_position_once(grid):
    order = halton_order(grid)
    assert sorted(order.tolist()) == list(range(grid * grid))


def test_the_order_spreads_out_every_prefix():
    """Low discrepancy: the first 8 positions of an 8×8 grid take 8 different rows and 8 different
    columns and no two are side by side (a raster order's first 8 are one row; a random one often clusters)."""
    order = halton_order(8)[:8]
    rows, cols = order // 8, order % 8
    assert len(set(rows.tolist())) == 8 and len(set(cols.tolist())) == 8
    points = torch.stack([rows, cols], 1).double()
    distances = torch.cdist(points, points) + torch.eye(8) * 99
    assert distances.min() > 1  # never side by side


def test_priority_ranks_positions_in_halton_order():
    priority = halton_priority(N)
    assert torch.equal(priority.argsort(descending=True), halton_order(GRID))
    with pytest.raises(ValueError, match="square token grid"):
        halton_priority(12)


@pytest.mark.parametrize("steps", [1, 4, 7, N])
def test_halton_decoding_reveals_the_next_positions_of_the_order(steps):
    model = make()
    _, history = maskgit_decode(model, 3, torch.tensor([0, 1, 2]), steps=steps, order="halton", seed=3)
    budget = tokens_fixed_after_step("cosine", steps, N)
    order = halton_order(GRID)
    for t, masked in enumerate(history.masked):
        expected = torch.ones(N, dtype=torch.bool)
        expected[order[: budget[t]]] = False
        assert torch.equal(masked, expected.expand(3, N)), f"step {t}"
    assert not history.masked[-1].any()


def test_halton_decoding_ignores_the_noise_and_differs_from_confidence():
    model, labels = make(), torch.tensor([0, 1])
    a, _ = maskgit_decode(model, 2, labels, steps=6, order="halton", randomness=0.0, seed=5)
    b, _ = maskgit_decode(model, 2, labels, steps=6, order="halton", randomness=9.0, seed=5)
    c, history = maskgit_decode(model, 2, labels, steps=6, order="confidence", seed=5)
    assert torch.equal(a, b)
    first = ~history.masked[0]  # the confidence order's first positions depend on the model and the sample
    assert not torch.equal(first[0], first[1]) or not torch.equal(a, c)


def test_halton_editing_keeps_the_known_tokens_and_follows_the_order_inside_the_region():
    model = make()
    init = torch.randint(0, K, (N,))
    region = torch.zeros(N, dtype=torch.bool)
    region[[1, 2, 5, 6, 9, 10]] = True
    edited, history = maskgit_decode(model, 2, torch.tensor([0, 1]), steps=3, order="halton", init_tokens=init,
                                     edit_mask=region, seed=0)
    assert torch.equal(edited[:, ~region], init[~region].expand(2, -1))
    inside = [p for p in halton_order(GRID).tolist() if region[p]]
    first = ~history.masked[0][0] & region
    assert set(torch.nonzero(first).flatten().tolist()) == set(inside[: int(first.sum())])


def test_an_unknown_order_is_a_clear_error():
    with pytest.raises(ValueError, match="order must be one of confidence, halton"):
        maskgit_decode(make(), 1, None, steps=2, order="raster")


def test_reveal_steps_name_the_step_that_fixed_each_position():
    from maskgit_lib.course.pictures import reveal_steps

    model = make()
    _, history = maskgit_decode(model, 2, torch.tensor([0, 1]), steps=5, order="halton", seed=0)
    steps = reveal_steps(history, 1)
    budget = tokens_fixed_after_step("cosine", 5, N)
    assert [int((steps <= t + 1).sum()) for t in range(5)] == budget
    assert torch.equal(steps[halton_order(GRID)], steps[halton_order(GRID)].sort().values)  # the order, step by step


def test_the_cli_lists_the_orders_the_sampler_knows():
    from maskgit_lib import cli
    from maskgit_lib.generator import decoding

    assert cli.ORDERS == decoding.ORDERS
