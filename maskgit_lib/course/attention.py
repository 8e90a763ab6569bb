"""Where the Transformer looks (notebook 04): its attention weights, recomputed from each block's input.

Why recompute: the blocks call ``F.scaled_dot_product_attention``, which never materialises the weights
(that is what makes it fast). A forward pre-hook on every block catches the block's input x; the
weights are then softmax(q·kᵀ/√d) with q, k from the block's own ``norm1`` and ``qkv`` layers, and the
causal mask where the model is causal: exactly what the fused kernel computed, now visible.
"""

from __future__ import annotations

import math

import torch

from maskgit_lib.generator.transformer import MaskGITTransformer


@torch.no_grad()
def block_inputs(model: torch.nn.Module, *args: torch.Tensor) -> list[torch.Tensor]:
    """Run ``model(*args)`` in eval mode and return what every block of ``model.blocks`` received."""
    inputs: list[torch.Tensor] = []
    hooks = [block.register_forward_pre_hook(lambda _, hook_args: inputs.append(hook_args[0])) for block in model.blocks]
    try:
        model.eval()(*args)
    finally:
        for hook in hooks:
            hook.remove()
    return inputs


def attention_scores(block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The scaled dot products q·kᵀ/√d a block computes from its input x (B, T, D): (B, H, T, T)."""
    b, t, c = x.shape
    q, k, _ = block.qkv(block.norm1(x)).view(b, t, 3, block.heads, c // block.heads).permute(2, 0, 3, 1, 4)
    return q @ k.transpose(-1, -2) / math.sqrt(c // block.heads)


@torch.no_grad()
def attention_weights(model: MaskGITTransformer, tokens: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """Every block's attention, (depth, B, heads, T, T): row i is where position i looks (sums to 1).

    Position 0 is the class token, position 1 + j is image token j (a causal model reads
    [class, t_0 … t_{N-2}], so its position i + 1 holds t_i and predicts t_{i+1}).
    """
    weights = []
    for block, x in zip(model.blocks, block_inputs(model, tokens, labels), strict=True):
        scores = attention_scores(block, x)  # (B, H, T, T)
        if model.causal:
            t = x.shape[1]
            scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
        weights.append(scores.softmax(-1))
    return torch.stack(weights)  # (depth, B, H, T, T)


def attention_to_grid(weights: torch.Tensor, query: int, grid: int) -> torch.Tensor:
    """One query position's attention over the image tokens, averaged over heads: (…, grid, grid).
    ``query`` counts sequence positions after the class token (0 … N-1); whatever the map does not
    sum to went to the class token."""
    row = weights.mean(dim=-3)[..., 1 + query, :]  # (…, T): heads averaged, the query's row
    image = row[..., 1:]  # (…, N) the image tokens' share
    if image.shape[-1] < grid * grid:  # causal: the sequence stops one token early
        image = torch.cat([image, image.new_zeros(*image.shape[:-1], grid * grid - image.shape[-1])], dim=-1)
    return image.reshape(*image.shape[:-1], grid, grid)
