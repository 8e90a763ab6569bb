"""Notebook 05's measurements and pictures: where each step's tokens land (same-step neighbours, border
share), diversity between samples, the guidance runs read from evaluation files, Figure 2's strip and
the every-knob panel."""

from __future__ import annotations

import json

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from maskgit_lib.course import pictures  # noqa: E402
from maskgit_lib.generator.decoding import maskgit_decode  # noqa: E402

from .conftest import tiny_maskgit  # noqa: E402


class PatchTokenizer:
    """Stands in for the VQGAN: each token becomes a 4×4 grey patch of its own brightness."""

    def decode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, h, w) → (B, 3, 4h, 4w) in [-1, 1]
        grey = tokens.float() / 16 - 1
        return grey.repeat_interleave(4, 1).repeat_interleave(4, 2)[:, None].expand(-1, 3, -1, -1)


def test_neighbour_pairs_are_the_grid_edges():
    pairs = pictures.grid_neighbour_pairs(3)
    assert len(pairs) == 12  # 2 · 3 · 2 edges in a 3×3 grid
    assert {tuple(p) for p in pairs.tolist()} >= {(0, 1), (0, 3), (4, 5), (5, 8)}
    assert not {tuple(p) for p in pairs.tolist()} & {(2, 3), (0, 4)}  # no wrap-around, no diagonal


def test_same_step_share_counts_adjacent_pairs_fixed_together():
    rows = torch.tensor([[1, 1], [2, 2]]).flatten()  # each row one step: 2 of the 4 edges same-step
    checker = torch.tensor([[1, 2], [2, 1]]).flatten()  # no neighbours share a step
    assert pictures.same_step_neighbour_share(rows) == pytest.approx(0.5)
    assert pictures.same_step_neighbour_share(checker) == 0.0
    assert pictures.same_step_neighbour_share(torch.stack([rows, checker])) == pytest.approx(0.25)


def test_the_chance_level_is_what_random_placement_gives():
    fixed = [1, 4, 9, 16]  # 1, 3, 5, 7 tokens revealed by the four steps of a 4×4 grid
    assert pictures.same_step_chance(fixed) == pytest.approx((0 + 6 + 20 + 42) / (16 * 15))
    generator = torch.Generator().manual_seed(0)
    steps = torch.tensor([1] * 1 + [2] * 3 + [3] * 5 + [4] * 7)
    shuffled = torch.stack([steps[torch.randperm(16, generator=generator)] for _ in range(4000)])
    assert pictures.same_step_neighbour_share(shuffled) == pytest.approx(pictures.same_step_chance(fixed), abs=0.01)


def test_border_share_among_the_early_steps():
    ring = pictures.border_positions(4)
    assert int(ring.sum()) == 12 and not ring[5] and ring[4]
    outside_first = torch.where(ring, 1, 2)  # the border fixed at step 1, the centre at step 2
    assert pictures.border_share(outside_first, 1) == 1.0
    assert pictures.border_share(outside_first, 2) == pytest.approx(12 / 16)
    assert pictures.border_share(torch.where(ring, 2, 1), 1) == 0.0
    with pytest.raises(ValueError, match="no position is fixed by step 0"):
        pictures.border_share(outside_first, 0)


def test_reveal_maps_of_every_sample():
    _, history = maskgit_decode(tiny_maskgit(32, 4, 16), 3, torch.tensor([0, 1, 2]), steps=4, seed=0)
    steps = pictures.reveal_steps_all(history)
    assert steps.shape == (3, 16)
    assert torch.equal(steps[2], pictures.reveal_steps(history, 2))


def test_diversity_is_the_mean_share_of_differing_tokens():
    same = torch.zeros(4, 10, dtype=torch.long)
    assert pictures.token_diversity(same) == 0.0
    two = torch.tensor([[0, 0, 0, 0], [0, 0, 1, 1]])
    assert pictures.token_diversity(two) == pytest.approx(0.5)
    assert pictures.token_diversity(torch.arange(12).view(3, 4)) == 1.0
    with pytest.raises(ValueError, match="at least two"):
        pictures.token_diversity(same[:1])


def _evaluation(path, scale: float, fid: float, **changes) -> str:
    decoding = {"steps": 12, "schedule": "cosine", "temperature": 1.0, "randomness": 4.5, "cfg_scale": scale, "seed": 0}
    decoding.update(changes)
    path.write_text(json.dumps({"checkpoint": "m.ckpt", "n": 2000, "device": "cuda", "decoding": decoding,
                                "fid": fid, "fid_floor": 10.0}))
    return str(path)


def test_guidance_runs_keep_only_files_that_differ_in_the_scale(tmp_path):
    files = [_evaluation(tmp_path / "a.json", 0.0, 29.0), _evaluation(tmp_path / "b.json", 3.0, 31.0),
             _evaluation(tmp_path / "c.json", 1.0, 30.0), _evaluation(tmp_path / "d.json", 0.0, 33.0, randomness=2.0)]
    rows = pictures.guidance_measurements(files)
    assert [(r["scale"], r["fid"]) for r in rows] == [(0.0, 29.0), (1.0, 30.0), (3.0, 31.0)]
    with pytest.raises(ValueError, match="no evaluation file"):
        pictures.guidance_measurements([])
    fig = pictures.plot_guidance_tradeoff(rows, {0.0: 0.8, 3.0: 0.6})
    assert list(fig.axes[0].lines[0].get_ydata()) == [29.0, 30.0, 31.0]


def test_figure_two_shows_the_argmax_prediction_and_the_commitment_of_each_step():
    model = tiny_maskgit(32, 4, 16)
    labels = torch.tensor([1, 2])
    _, history = maskgit_decode(model, 2, labels, steps=3, seed=0)
    fig = pictures.show_predicted_and_committed(model, PatchTokenizer(), history, labels, index=1)
    assert len(fig.axes) == 6
    first_guess = model(torch.full((1, 16), model.layout.mask_id), labels[1:]).argmax(-1)  # (1, N) step 1's input
    shown = fig.axes[0].images[0].get_array()  # (16, 16, 3): the argmax image of step 1
    expected = ((first_guess.view(4, 4).float() / 16 - 1 + 1) * 127.5).round()
    assert torch.allclose(torch.as_tensor(shown[::4, ::4, 0]).float(), expected, atol=1)
    last = fig.axes[-1].images[0].get_array()  # the committed canvas after the last step: nothing grey
    final = ((history.tokens[-1][1].view(4, 4).float() / 16) * 127.5).round()
    assert torch.allclose(torch.as_tensor(last[::4, ::4, 0]).float(), final, atol=1)


def test_the_panel_redraws_on_release_and_says_how_long_it_took():
    from maskgit_lib.course.widgets import decoding_panel

    model = tiny_maskgit(32, 4, 16)
    panel = decoding_panel(model, PatchTokenizer(), ["a", "b", "c", "d"], n_samples=4)
    sliders = [w for w in panel.children if hasattr(w, "continuous_update")]
    assert sliders and all(not w.continuous_update for w in sliders)
    status = next(w for w in panel.children if type(w).__name__ == "Label")
    assert status.value.startswith("drawn in")
    assert panel.children[-1] is panel.out
    status.value = "stale"
    next(w for w in panel.children if getattr(w, "description", "") == "steps").value = 3
    assert status.value.startswith("drawn in")  # the change redrew the grid


def test_show_source_finds_a_decorated_function_in_its_own_file(capsys):
    from maskgit_lib.course.graders import show_source

    show_source(maskgit_decode)  # wrapped by @torch.no_grad(), whose code lives in torch
    shown = capsys.readouterr().out
    assert "maskgit_lib/generator/decoding.py, line" in shown and "def maskgit_decode(" in shown
