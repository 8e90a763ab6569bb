"""Editing as decoding with known tokens: inpainting (a box inside), outpainting (the border, or new
columns after shifting the content) and class editing (a region regenerated under another label).

A pixel region becomes a token region by marking every token whose patch it touches
(``pixel_to_token_mask``), optionally dilated; tokens outside the region are copied unchanged,
because known tokens are never resampled."""

from __future__ import annotations

import torch

from maskgit_lib.generator.decoding import maskgit_decode
from maskgit_lib.generator.transformer import MaskGITTransformer


def pixel_to_token_mask(pixel_mask: torch.Tensor, grid: int, dilate: int = 0) -> torch.Tensor:
    """A pixel region (H, W) or (B, H, W), True = change, as a token mask (…, grid·grid).

    A token is regenerated if its patch touches the region at all (max-pooling), so no edited pixel
    is left to a kept token; ``dilate`` adds that many tokens around it, for a softer seam (the
    decoder's receptive field reaches past one patch).
    """
    mask = pixel_mask.float()
    squeeze = mask.dim() == 2
    mask = mask.reshape(-1, 1, *mask.shape[-2:])  # (B, 1, H, W)
    if mask.shape[-1] % grid or mask.shape[-2] % grid:
        raise ValueError(f"a {tuple(mask.shape[-2:])} pixel mask does not split into a {grid}×{grid} token grid")
    tokens = torch.nn.functional.adaptive_max_pool2d(mask, grid)  # (B, 1, g, g)
    if dilate:
        tokens = torch.nn.functional.max_pool2d(tokens, 2 * dilate + 1, stride=1, padding=dilate)
    tokens = tokens.flatten(1).bool()  # (B, g*g)
    return tokens[0] if squeeze else tokens


def box_mask(size: int, top: int, left: int, height: int, width: int) -> torch.Tensor:
    """A (size, size) pixel mask, True inside the box: the region that inpainting regenerates."""
    mask = torch.zeros(size, size, dtype=torch.bool)
    mask[max(top, 0) : top + height, max(left, 0) : left + width] = True
    return mask


def border_mask(size: int, width: int) -> torch.Tensor:
    """A (size, size) pixel mask, True on a frame ``width`` pixels wide: outpainting regenerates the border."""
    mask = torch.ones(size, size, dtype=torch.bool)
    mask[width : size - width, width : size - width] = False
    return mask


def shift_tokens(tokens: torch.Tensor, grid: int, dx: int, mask_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Outpainting by extension: move the content ``dx`` token columns left (dx > 0) or right (dx < 0).

    Returns the shifted tokens (B, N) with the uncovered columns set to ``mask_id`` and the edit mask
    (N,) of those columns, ready for ``maskgit_decode(init_tokens=…, edit_mask=…)``.
    """
    if not 0 < abs(dx) < grid:
        raise ValueError(f"shift by 1 to {grid - 1} token columns (either sign), got {dx}")
    shifted = tokens.reshape(-1, grid, grid).roll(-dx, dims=2)  # (B, g, g)
    new = torch.zeros(grid, grid, dtype=torch.bool, device=tokens.device)
    if dx > 0:
        new[:, grid - dx :] = True
    else:
        new[:, : -dx] = True
    shifted = torch.where(new, mask_id, shifted)
    return shifted.reshape(tokens.shape[0], -1), new.flatten()


EDIT_MODES = ("inpaint", "outpaint", "extend right", "extend left")


@torch.no_grad()
def edit_image(
    model: MaskGITTransformer, tokenizer, image: torch.Tensor, label: int, mode: str = "inpaint",
    box: tuple[int, int, int, int] = (8, 8, 16, 16), border_px: int = 4, shift: int = 2, dilate: int = 0,
    n_variations: int = 4, **decoding,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Regenerate part of one image (3, H, W) in [-1, 1]; returns the starting tokens (N,) (the
    image's, shifted when extending; [MASK] in the region), the edit mask (N,), and the edited token
    grids (n_variations, N).

    ``inpaint``: the pixel box (top, left, height, width); ``outpaint``: a frame ``border_px`` wide;
    ``extend right/left``: the content moves ``shift`` token columns and the new ones are generated.
    ``label`` is the class to generate under (the image's own, or another: class editing).
    """
    if mode not in EDIT_MODES:
        raise ValueError(f"unknown edit mode {mode!r}; choose from {', '.join(EDIT_MODES)}")
    device = next(model.parameters()).device
    tokens = tokenizer.encode(image[None].to(device)).flatten(1)  # (1, N)
    grid = int(round(tokens.shape[1] ** 0.5))
    size = image.shape[-1]
    if mode.startswith("extend"):
        start, region = shift_tokens(tokens, grid, shift if mode == "extend right" else -shift, model.layout.mask_id)
    else:
        pixels = box_mask(size, *box) if mode == "inpaint" else border_mask(size, border_px)
        start, region = tokens, pixel_to_token_mask(pixels, grid, dilate).to(device)
    labels = torch.full((n_variations,), label, device=device)
    edited, _ = maskgit_decode(model, n_variations, labels, init_tokens=start, edit_mask=region, **decoding)
    return start[0], region, edited
