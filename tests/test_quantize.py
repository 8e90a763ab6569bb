"""The vector quantizer, parametrized over every option (tiny tensors, fractions of a second each)."""

from __future__ import annotations

import itertools

import pytest
import torch

from maskgit_lib.config import QuantizerConfig
from maskgit_lib.tokenizer.quantize import CodebookUsage, VectorQuantizer

OPTIONS = [
    dict(use_ema=ema, kmeans_init=km, dead_code_after_steps=dead, l2_normalize=l2)
    for ema, km, dead, l2 in itertools.product([False, True], [False, True], [0, 2], [False, True])
]
IDS = ["-".join(k for k, v in o.items() if v) or "plain" for o in OPTIONS]


def make(seed=0, **options) -> VectorQuantizer:
    torch.manual_seed(seed)
    return VectorQuantizer(QuantizerConfig(codebook_size=16, code_dim=4, **options))


@pytest.mark.parametrize("options", OPTIONS, ids=IDS)
def test_forward_value_is_exactly_the_looked_up_code(options):
    quantizer = make(**options).train()
    z = torch.randn(2, 4, 3, 5)
    out = quantizer(z)
    assert out.quantized.shape == (2, 4, 3, 5) and out.indices.shape == (2, 3, 5)
    assert out.indices.dtype == torch.int64 and 0 <= out.indices.min() and out.indices.max() < 16
    assert torch.equal(out.quantized, quantizer.lookup(out.indices))  # bit for bit


@pytest.mark.parametrize("options", OPTIONS, ids=IDS)
def test_indices_are_the_nearest_codes(options):
    quantizer = make(**options).eval()
    z = torch.randn(1, 4, 4, 4)
    out = quantizer(z)
    flat = z.permute(0, 2, 3, 1).reshape(-1, 4)
    if options["l2_normalize"]:
        flat = torch.nn.functional.normalize(flat, dim=-1)
    expected = torch.cdist(flat, quantizer.codes()).argmin(1)
    assert torch.equal(out.indices.flatten(), expected)


@pytest.mark.parametrize("options", OPTIONS, ids=IDS)
def test_gradient_reaches_the_encoder_straight_through(options):
    quantizer = make(**options).train()
    z = torch.randn(2, 4, 3, 3, requires_grad=True)
    upstream = torch.randn(2, 4, 3, 3)
    (quantizer(z).quantized * upstream).sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    if not options["l2_normalize"]:
        torch.testing.assert_close(z.grad, upstream)  # identity in the backward pass


@pytest.mark.parametrize("options", OPTIONS, ids=IDS)
def test_codebook_learns_by_gradient_or_by_ema(options):
    quantizer = make(**options).train()
    before = quantizer.codebook.detach().clone()
    z = torch.randn(4, 4, 4, 4, requires_grad=True)
    out = quantizer(z)
    out.loss.backward()
    if options["use_ema"]:
        assert not quantizer.codebook.requires_grad and quantizer.codebook.grad is None
        assert not torch.equal(before, quantizer.codebook)  # moved by the moving averages
    else:
        assert quantizer.codebook.grad is not None and quantizer.codebook.grad.abs().sum() > 0


@pytest.mark.parametrize("options", OPTIONS, ids=IDS)
def test_eval_mode_changes_nothing(options):
    quantizer = make(**options).eval()
    state = {k: v.clone() for k, v in quantizer.state_dict().items()}
    for _ in range(3):
        quantizer(torch.randn(2, 4, 4, 4) * 5)
    for key, value in quantizer.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_commitment_loss_is_beta_times_distance():
    quantizer = VectorQuantizer(QuantizerConfig(codebook_size=8, code_dim=2, beta=0.25, use_ema=True)).eval()
    z = torch.randn(1, 2, 2, 2)
    out = quantizer(z)
    expected = 0.25 * (z - out.quantized.detach()).pow(2).mean()
    torch.testing.assert_close(out.loss, expected)
    plain = VectorQuantizer(QuantizerConfig(codebook_size=8, code_dim=2, beta=0.25)).eval()
    out = plain(z)
    torch.testing.assert_close(out.loss, 1.25 * (z - out.quantized.detach()).pow(2).mean())


def clustered(n_clusters=8, per_cluster=32, dim=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_clusters, dim, generator=generator) * 5
    points = centres.repeat_interleave(per_cluster, 0) + 0.05 * torch.randn(n_clusters * per_cluster, dim, generator=generator)
    return points.reshape(n_clusters * per_cluster // 16, 4, 4, dim).permute(0, 3, 1, 2)  # (B, D, 4, 4)


def test_kmeans_init_puts_codes_on_the_data():
    z = clustered()
    plain = VectorQuantizer(QuantizerConfig(codebook_size=8, code_dim=4)).train()
    kmeans = VectorQuantizer(QuantizerConfig(codebook_size=8, code_dim=4, kmeans_init=True)).train()
    plain_out = plain(z)
    assert (z - plain_out.quantized).pow(2).mean() > 1.0  # tiny random codes near the origin fit nothing
    out = kmeans(z)
    assert bool(kmeans.initialized)
    assert out.usage.item() >= 7 / 8
    assert (z - out.quantized).pow(2).mean() < 0.1


def test_dead_codes_are_restarted_from_encoder_outputs():
    torch.manual_seed(0)
    quantizer = VectorQuantizer(QuantizerConfig(codebook_size=8, code_dim=4, dead_code_after_steps=3)).train()
    with torch.no_grad():
        quantizer.codebook[1:] += 100.0  # seven codes far from any data: dead
    z = clustered()
    usages = [quantizer(z).usage.item() for _ in range(4)]
    assert usages[0] <= 1 / 8
    assert usages[-1] > 0.5  # restarted codes sit on encoder outputs and win
    assert quantizer.codebook.abs().max() < 50


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])  # bf16, or fp16 on GPUs without bf16
def test_distances_stay_fp32_under_autocast(dtype):
    quantizer = make(l2_normalize=False).eval()
    z = torch.randn(2, 4, 8, 8)
    reference = quantizer(z).indices
    with torch.autocast("cpu", dtype=dtype):
        out = quantizer(z)
    assert torch.equal(out.indices, reference)
    assert out.quantized.dtype == torch.float32


def test_usage_and_perplexity():
    quantizer = make()
    usage = CodebookUsage(16)
    usage.update(torch.tensor([0, 1, 2, 3] * 10))
    assert usage.usage() == 4 / 16
    assert usage.perplexity() == pytest.approx(4.0)
    with torch.no_grad():
        quantizer.codebook.copy_(torch.eye(16, 4) * 10)
    out = quantizer.eval()(torch.eye(4).reshape(1, 4, 2, 2) * 10)  # four different codes hit once
    assert out.usage.item() == 4 / 16 and out.perplexity.item() == pytest.approx(4.0)


@pytest.mark.parametrize("options", OPTIONS, ids=IDS)
def test_indices_match_forward_without_side_effects(options):
    quantizer = make(**options).train()
    z = torch.randn(2, 4, 3, 3)
    quantizer(z)  # initialise (k-means) and take one training step
    state = {k: v.clone() for k, v in quantizer.state_dict().items()}
    ids = quantizer.indices(z * 3)
    assert all(torch.equal(v, state[k]) for k, v in quantizer.state_dict().items())
    assert torch.equal(ids, quantizer.eval()(z * 3).indices)
