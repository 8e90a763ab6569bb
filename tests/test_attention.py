"""Attention weights recomputed from the blocks' inputs match what the fused kernel used."""

from __future__ import annotations

import torch

from maskgit_lib.course.attention import attention_to_grid, attention_weights
from maskgit_lib.generator.transformer import MaskGITTransformer


def tiny(causal: bool) -> MaskGITTransformer:
    torch.manual_seed(0)
    return MaskGITTransformer(32, 4, 16, width=32, depth=2, heads=4, dropout=0.0, causal=causal).eval()


def test_the_weights_reproduce_the_blocks_output():
    model = tiny(causal=False)
    tokens, labels = torch.randint(0, 33, (2, 16)), torch.tensor([1, -1])
    weights = attention_weights(model, tokens, labels)  # (depth, B, H, T, T)
    assert weights.shape == (2, 2, 4, 17, 17)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 4, 17))
    # the first block's attention output, rebuilt from the weights, is the fused kernel's
    block = model.blocks[0]
    x = model.embed(torch.cat([model.class_tokens(labels, 2, tokens.device), tokens], 1)) + model.pos
    _, _, v = block.qkv(block.norm1(x)).view(2, 17, 3, 4, 8).permute(2, 0, 3, 1, 4)
    fused = torch.nn.functional.scaled_dot_product_attention(*block.qkv(block.norm1(x)).view(2, 17, 3, 4, 8).permute(2, 0, 3, 1, 4))
    torch.testing.assert_close(weights[0] @ v, fused, atol=1e-5, rtol=1e-4)


def test_a_causal_model_never_looks_ahead_and_a_bidirectional_one_does():
    tokens = torch.randint(0, 32, (1, 16))
    causal = attention_weights(tiny(causal=True), tokens, torch.tensor([0]))
    assert causal.shape[-1] == 16 and torch.all(causal.triu(1) == 0)
    both = attention_weights(tiny(causal=False), tokens, torch.tensor([0]))
    assert both.triu(1).sum() > 0.1


def test_the_grid_map_is_one_querys_row_over_the_image_tokens():
    weights = torch.zeros(1, 1, 2, 17, 17)
    weights[..., 1 + 5, 1 + 9] = 1.0  # image token 5 looks at image token 9, in both heads
    grid = attention_to_grid(weights, query=5, grid=4)
    assert grid.shape == (1, 1, 4, 4) and grid[0, 0, 2, 1] == 1.0 and grid.sum() == 1.0
    assert attention_to_grid(weights[..., :16, :16], query=5, grid=4).shape == (1, 1, 4, 4)  # causal length
