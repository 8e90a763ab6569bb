"""Mixed precision: what ``auto`` picks on each device, old ``bf16`` configs, the CLI flags, ``maskgit info``.

No GPU here: the CUDA queries are faked with the answers a T4 (no native bf16; bf16 only emulated)
and an H100 would give. The fp16 + gradient-scaler training itself is tested on the CPU in
test_train.py and test_train_transformer.py.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from maskgit_lib import cli
from maskgit_lib.config import ConfigError, TrainConfig, config_from_dict, load_config
from maskgit_lib.precision import grad_scaler, resolve_precision
from maskgit_lib.tokenizer.losses import adaptive_weight

GPUS = {"Tesla T4": (7, 5), "NVIDIA H100 80GB HBM3": (9, 0)}


@pytest.fixture
def fake_gpu(monkeypatch):
    """``fake_gpu(name)``: torch answers as if that CUDA GPU were present."""

    def install(name: str) -> None:
        major, _ = GPUS[name]
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
        monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device=None: SimpleNamespace(name=name, total_memory=16 * 2**30))
        # like torch: with emulation allowed, a T4 also says yes
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: major >= 8 or including_emulation)

    return install


def test_auto_takes_fp16_with_a_scaler_on_a_gpu_without_native_bf16(fake_gpu):
    fake_gpu("Tesla T4")
    chosen = resolve_precision(TrainConfig(precision="auto"), "cuda:0")
    assert chosen.name == "fp16" and chosen.uses_grad_scaler
    assert chosen.describe() == "fp16 autocast + gradient scaler (auto: CUDA GPU Tesla T4 has no native bf16)"


def test_auto_takes_bf16_without_a_scaler_on_a_gpu_with_native_bf16(fake_gpu):
    fake_gpu("NVIDIA H100 80GB HBM3")
    chosen = resolve_precision(TrainConfig(precision="auto", cpu_precision="fp32"), "cuda:0")
    assert chosen.name == "bf16" and not chosen.uses_grad_scaler
    assert "has native bf16" in chosen.reason


@pytest.mark.parametrize(("profile", "expected"), [("cpu", "bf16"), ("gpu", "bf16"), ("fast", "fp32")])
def test_auto_on_a_cpu_is_the_profiles_choice(profile, expected):
    for cfg in (load_config(profile).train_vqgan, load_config(profile).train_transformer):
        assert cfg.precision == "auto"
        chosen = resolve_precision(cfg, "cpu")
        assert chosen.name == expected and "cpu_precision" in chosen.reason


def test_an_explicit_precision_wins_and_emulated_bf16_is_named(fake_gpu):
    fake_gpu("Tesla T4")
    assert resolve_precision(TrainConfig(precision="fp32"), "cuda:0").name == "fp32"
    forced = resolve_precision(TrainConfig(precision="bf16"), "cuda:0")
    assert forced.name == "bf16" and "emulates" in forced.reason
    assert resolve_precision(TrainConfig(precision="fp16"), "cpu").uses_grad_scaler


def test_the_scaler_is_a_pass_through_unless_fp16():
    loss = torch.tensor(2.0)
    for cfg, enabled in ((TrainConfig(precision="fp32"), False), (TrainConfig(precision="bf16"), False), (TrainConfig(precision="fp16"), True)):
        scaler = grad_scaler(torch.device("cpu"), resolve_precision(cfg, "cpu"))
        assert scaler.is_enabled() == enabled
        assert (scaler.scale(loss) is loss) == (not enabled)


def test_adaptive_weight_is_the_same_from_scaled_losses():
    layer = torch.nn.Parameter(torch.randn(4, 4))
    x = torch.randn(8, 4)
    rec, gan = (x @ layer).pow(2).mean(), -(x @ layer).tanh().mean()
    plain = adaptive_weight(rec, gan, layer, 1e4)
    assert adaptive_weight(rec, gan, layer, 1e4, loss_scale=2.0**16) == pytest.approx(plain.item(), rel=1e-5)
    assert adaptive_weight(rec * float("inf"), gan, layer, 1e4).item() == 0  # an overflow: the scaler skips that step


def test_old_bf16_keys_still_load():
    """Checkpoints and YAML files written before ``precision`` carry ``bf16: true|false``."""
    stored = load_config("cpu").to_dict()
    for section in ("train_vqgan", "train_transformer"):
        del stored[section]["precision"], stored[section]["cpu_precision"]
        stored[section]["bf16"] = section == "train_vqgan"
    config = config_from_dict(stored)
    assert (config.train_vqgan.precision, config.train_vqgan.cpu_precision) == ("auto", "bf16")  # same on CPUs and bf16 GPUs
    assert config.train_transformer.precision == "fp32"  # bf16: false was fp32 everywhere


def test_old_bf16_key_in_a_config_file_and_the_cli_flag(tmp_path):
    overlay = tmp_path / "old.yaml"
    overlay.write_text("train_vqgan:\n  bf16: false\n")
    assert load_config("cpu", config_file=overlay).train_vqgan.precision == "fp32"
    parser = cli.build_parser()
    assert parser.parse_args(["train", "--phase", "vqgan", "--bf16"]).precision == "bf16"  # the original project's flag
    assert parser.parse_args(["train", "--phase", "vqgan", "--precision", "fp16"]).precision == "fp16"
    assert parser.parse_args(["train", "--phase", "vqgan"]).precision is None  # the profile decides


def test_an_unknown_precision_names_the_key():
    with pytest.raises(ConfigError, match=r"'train_vqgan.precision' in command-line options must be one of auto, bf16, fp16, fp32"):
        load_config("fast", overrides={"train_vqgan.precision": "fp8"})


def test_info_says_which_precision_each_phase_uses_and_why(fake_gpu, capsys):
    fake_gpu("Tesla T4")
    assert cli.main(["info", "--profile", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "precision, tokenizer: fp16 autocast + gradient scaler (auto: CUDA GPU Tesla T4 has no native bf16)" in out
    assert "precision, transformer: fp16 autocast + gradient scaler" in out
