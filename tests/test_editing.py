"""Editing: pixel regions become token regions, kept tokens stay exactly, the schedule covers the rest."""

from __future__ import annotations

import pytest
import torch

from maskgit_lib.generator.decoding import maskgit_decode
from maskgit_lib.generator.editing import border_mask, box_mask, pixel_to_token_mask, shift_tokens
from maskgit_lib.generator.masking import tokens_fixed_after_step
from maskgit_lib.generator.transformer import MaskGITTransformer

from .conftest import tiny_maskgit

K, C, GRID = 32, 4, 4
N = GRID * GRID


def make():
    return tiny_maskgit(K, C, N)


def test_every_touched_token_is_regenerated():
    # 16 px image, 4x4 tokens of 4 px: a 2x2 pixel box straddling tokens (0,0),(0,1),(1,0),(1,1).
    mask = box_mask(16, top=3, left=3, height=2, width=2)
    tokens = pixel_to_token_mask(mask, GRID).reshape(GRID, GRID)
    expected = torch.zeros(GRID, GRID, dtype=torch.bool)
    expected[:2, :2] = True
    assert torch.equal(tokens, expected)
    dilated = pixel_to_token_mask(mask, GRID, dilate=1).reshape(GRID, GRID)
    expected[:3, :3] = True
    assert torch.equal(dilated, expected)
    assert pixel_to_token_mask(border_mask(16, 1), GRID).reshape(GRID, GRID)[1:3, 1:3].sum() == 0
    assert pixel_to_token_mask(border_mask(16, 1), GRID).sum() == 12
    with pytest.raises(ValueError, match="token grid"):
        pixel_to_token_mask(torch.ones(15, 15), GRID)


@pytest.mark.parametrize("steps", [1, 3, 8])
def test_inpainting_keeps_tokens_outside_the_region_exactly(steps):
    model = make()
    original = torch.randint(0, K, (3, N), generator=torch.Generator().manual_seed(1))
    region = pixel_to_token_mask(box_mask(16, 4, 4, 8, 8), GRID)  # the 2x2 centre tokens
    edited, history = maskgit_decode(
        model, 3, torch.tensor([0, 1, 2]), steps=steps, seed=5, init_tokens=original, edit_mask=region
    )
    assert torch.equal(edited[:, ~region], original[:, ~region])
    assert (edited < K).all()
    n_new = int(region.sum())
    used = min(steps, n_new)
    assert len(history.tokens) == used
    assert history.fixed_counts == [N - n_new + f for f in tokens_fixed_after_step("cosine", used, n_new)]
    for tokens in history.tokens:
        assert torch.equal(tokens[:, ~region], original[:, ~region])


def test_class_editing_changes_only_the_region_and_depends_on_the_class():
    model = make()
    original = torch.randint(0, K, (1, N), generator=torch.Generator().manual_seed(2))
    region = torch.zeros(N, dtype=torch.bool)
    region[:8] = True
    results = [
        maskgit_decode(model, 4, torch.full((4,), c), steps=4, seed=0, init_tokens=original, edit_mask=region)
        for c in (0, 3)
    ]
    for tokens, _ in results:
        assert torch.equal(tokens[:, 8:], original.expand(4, -1)[:, 8:])
    # the requested class reaches the model: the first step's confidences differ (same seed, same draws)
    assert not torch.allclose(results[0][1].confidence[0], results[1][1].confidence[0])


def test_outpainting_by_shifting_keeps_the_moved_content():
    model = make()
    original = torch.arange(N).reshape(1, N) % K
    shifted, new = shift_tokens(original, GRID, 1, model.layout.mask_id)
    grid = original.reshape(GRID, GRID)
    assert torch.equal(shifted.reshape(GRID, GRID)[:, :-1], grid[:, 1:])
    assert new.reshape(GRID, GRID)[:, -1].all() and new.sum() == GRID
    extended, _ = maskgit_decode(model, 1, torch.tensor([1]), steps=4, init_tokens=shifted, edit_mask=new)
    assert torch.equal(extended.reshape(GRID, GRID)[:, :-1], grid[:, 1:])
    left, new_left = shift_tokens(original, GRID, -2, model.layout.mask_id)
    assert new_left.reshape(GRID, GRID)[:, :2].all() and torch.equal(left.reshape(GRID, GRID)[:, 2:], grid[:, :2])


def test_editing_errors_are_clear():
    model = make()
    original = torch.zeros(2, N, dtype=torch.long)
    with pytest.raises(ValueError, match="both init_tokens"):
        maskgit_decode(model, 2, init_tokens=original)
    with pytest.raises(ValueError, match="no token"):
        maskgit_decode(model, 2, init_tokens=original, edit_mask=torch.zeros(N, dtype=torch.bool))
    uneven = torch.zeros(2, N, dtype=torch.bool)
    uneven[0, 0] = True
    uneven[1, :2] = True
    with pytest.raises(ValueError, match="same number"):
        maskgit_decode(model, 2, init_tokens=original, edit_mask=uneven)


@pytest.mark.parametrize("mode", ["inpaint", "outpaint", "extend right", "extend left"])
def test_edit_image_keeps_the_image_tokens_outside_the_region(mode):
    from maskgit_lib.config import load_config
    from maskgit_lib.generator.editing import edit_image
    from maskgit_lib.tokenizer.vqgan import VQGAN

    torch.manual_seed(0)
    tokenizer = VQGAN(load_config("fast").vqgan).eval()  # 32 px -> 8x8 tokens, 64 codes
    model = MaskGITTransformer(64, C, 64, width=32, depth=1, heads=4, dropout=0.0).eval()
    image = torch.rand(3, 32, 32) * 2 - 1
    start, region, edited = edit_image(model, tokenizer, image, 1, mode, box=(4, 4, 8, 8), border_px=4, shift=2, steps=4)
    own = tokenizer.encode(image[None]).flatten(1)[0]
    assert edited.shape == (4, 64) and (edited < 64).all()
    assert torch.equal(edited[:, ~region], start[~region].expand(4, -1))
    # 4 px tokens: the box covers pixels 4-11 = tokens 1-2 in both directions; the frame is one token wide
    expected_region = {"inpaint": 4, "outpaint": 28, "extend right": 16, "extend left": 16}[mode]
    assert int(region.sum()) == expected_region
    if mode in ("inpaint", "outpaint"):
        assert torch.equal(start[~region], own[~region])
    with pytest.raises(ValueError, match="unknown edit mode"):
        edit_image(model, tokenizer, image, 1, "rotate")
