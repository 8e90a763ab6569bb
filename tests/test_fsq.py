"""Finite scalar quantization: the fixed grid, its token ids, the straight-through gradient, the tokenizer with it."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from maskgit_lib.config import ConfigError, QuantizerConfig, load_config
from maskgit_lib.tokenizer.fsq import FiniteScalarQuantizer
from maskgit_lib.tokenizer.vqgan import VQGAN


def fsq(levels=(8, 5, 3)) -> FiniteScalarQuantizer:
    levels = list(levels)
    size = 1
    for level in levels:
        size *= level
    return FiniteScalarQuantizer(QuantizerConfig(codebook_size=size, code_dim=len(levels), levels=levels))


def test_every_level_is_reachable_and_zero_stays_zero():
    quantizer = fsq((8, 5, 4))
    z = torch.linspace(-20, 20, 4001).view(1, 1, -1, 1).expand(1, 3, -1, 1)  # (1, 3, 4001, 1)
    digits = quantizer._digits(quantizer.bound(z))
    for channel, level in enumerate((8, 5, 4)):
        assert sorted(digits[0, channel].unique().tolist()) == list(range(level))
    assert quantizer.bound(torch.zeros(1, 3, 1, 1)).abs().max() < 1e-6


def test_token_ids_are_mixed_radix_digits_and_lookup_inverts_them():
    quantizer = fsq((8, 5, 3))
    z = torch.randn(4, 3, 6, 6) * 3
    out = quantizer(z)
    digits = quantizer._digits(quantizer.bound(z))  # (B, 3, H, W)
    assert torch.equal(out.indices, digits[:, 0] + 8 * digits[:, 1] + 40 * digits[:, 2])
    assert torch.equal(quantizer.indices(z), out.indices)
    assert torch.equal(quantizer.lookup(out.indices), out.quantized)  # bit for bit: what the ids name
    assert out.quantized.abs().max() <= 1


def test_codes_are_the_whole_grid_in_token_order():
    quantizer = fsq((4, 3))
    codes = quantizer.codes()  # (12, 2)
    assert codes.shape == (12, 2) and len(codes.unique(dim=0)) == 12
    ids = torch.tensor([[[7]]])
    assert torch.equal(quantizer.lookup(ids)[0, :, 0, 0], codes[7])
    assert torch.equal(codes[7], torch.tensor([(3 - 2) / 2, (1 - 1) / 1]))  # 7 = 3 + 4·1: digits (3, 1)


def test_straight_through_gradient_is_that_of_the_bounded_value():
    quantizer = fsq((8, 8, 8))
    z = torch.randn(2, 3, 4, 4, requires_grad=True)
    quantizer(z).quantized.sum().backward()
    reference = z.detach().clone().requires_grad_(True)
    (quantizer.bound(reference) / 4).sum().backward()
    assert torch.allclose(z.grad, reference.grad) and z.grad.abs().min() > 0


def test_no_loss_and_honest_usage():
    quantizer = fsq((3, 3))
    z = torch.tensor([[-5.0, 5.0], [-5.0, -5.0]]).view(1, 2, 1, 2)  # two positions: digits (0, 0) and (2, 0)
    out = quantizer(z)
    assert out.indices.flatten().tolist() == [0, 2]
    assert out.loss.item() == 0 and out.usage.item() == pytest.approx(2 / 9) and out.perplexity.item() == pytest.approx(2.0)


def test_bf16_autocast_gives_the_same_tokens():
    quantizer = fsq((8, 8, 8))
    z = torch.randn(2, 3, 8, 8) * 2
    with torch.autocast("cpu", dtype=torch.bfloat16):
        tokens = quantizer.indices(z)
    assert torch.equal(tokens, quantizer.indices(z))


def test_levels_must_agree_with_codebook_size_and_code_dim():
    with pytest.raises(ConfigError, match="set codebook_size: 512 and code_dim: 3"):
        QuantizerConfig(codebook_size=1024, code_dim=32, levels=[8, 8, 8])
    with pytest.raises(ConfigError, match="at least 3"):
        QuantizerConfig(codebook_size=16, code_dim=2, levels=[8, 2])


def test_a_config_file_with_inconsistent_levels_is_named_in_the_error(tmp_path):
    override = tmp_path / "mine.yaml"
    override.write_text("vqgan:\n  quantizer:\n    levels: [8, 8, 8]\n")
    with pytest.raises(ConfigError, match=r"set codebook_size: 512 and code_dim: 3 .*\(in .*mine\.yaml\)"):
        load_config("fast", config_file=override)


def test_a_config_file_switches_the_tokenizer_to_fsq(tmp_path):
    override = tmp_path / "fsq.yaml"
    override.write_text("vqgan:\n  quantizer:\n    levels: [8, 8, 8]\n    codebook_size: 512\n    code_dim: 3\n")
    config = load_config("fast", config_file=override)
    model = VQGAN(config.vqgan)
    assert isinstance(model.quantizer, FiniteScalarQuantizer)
    assert not list(model.quantizer.parameters())  # nothing to learn in the quantizer


def test_fsq_tokenizer_trains_on_a_fixed_batch():
    config = load_config("fast")
    config.vqgan.quantizer = dataclasses.replace(config.vqgan.quantizer, levels=[5, 5, 5], codebook_size=125, code_dim=3)
    torch.manual_seed(0)
    model = VQGAN(config.vqgan).train()
    images = F.interpolate(torch.rand(8, 3, 4, 4) * 2 - 1, size=32, mode="bilinear")  # smooth: learnable
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(40):
        recon, quant = model(images)
        loss = (recon - images).abs().mean() + quant.loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    ids = model.eval().encode(images)
    assert ids.shape == (8, 8, 8) and 0 <= ids.min() and ids.max() < 125
    assert model.decode_tokens(ids).shape == images.shape
