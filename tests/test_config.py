from __future__ import annotations

import pytest
import yaml

from maskgit_lib.config import PROFILES, Config, ConfigError, config_from_dict, default_profile, load_config


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_loads_into_typed_config(profile):
    config = load_config(profile)
    assert isinstance(config, Config)
    assert config.profile == profile
    assert isinstance(config.data.image_size_px, int) and config.data.image_size_px % 8 == 0


def test_profiles_differ_where_they_should():
    fast, cpu, gpu = (load_config(p) for p in PROFILES)
    assert fast.data.n_train < cpu.data.n_train
    assert cpu.data.image_size_px == 32 and gpu.data.image_size_px == 64


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("MASKGIT_PROFILE", "fast")
    assert default_profile() == "fast"
    assert load_config().profile == "fast"


def test_default_profile_is_the_shipped_size_on_every_device(monkeypatch):
    """Profiles are sizes: a GPU (Colab) gets the same default as a laptop, the size that is shipped."""
    import torch

    monkeypatch.delenv("MASKGIT_PROFILE", raising=False)
    for cuda in (False, True):
        monkeypatch.setattr(torch.cuda, "is_available", lambda cuda=cuda: cuda)
        assert default_profile() == "cpu"


def test_bad_profile_in_environment_is_named(monkeypatch):
    monkeypatch.setenv("MASKGIT_PROFILE", "turbo")
    with pytest.raises(ConfigError, match="MASKGIT_PROFILE='turbo'"):
        default_profile()


def test_config_file_overrides_profile(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"profile": "fast", "data": {"image_size_px": 48, "val_fraction": 0}}))
    config = load_config(config_file=path)
    assert config.profile == "fast"
    assert config.data.image_size_px == 48
    assert config.data.val_fraction == 0.0 and isinstance(config.data.val_fraction, float)
    assert config.data.n_train == load_config("fast").data.n_train  # untouched keys come from the profile


def test_unknown_key_names_key_and_file(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("data:\n  imag_size_px: 32\n")
    with pytest.raises(ConfigError) as err:
        load_config("fast", path)
    message = str(err.value)
    assert "data.imag_size_px" in message and "typo.yaml" in message and "image_size_px" in message
    assert "\n" not in message


def test_unknown_section_names_section(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("dataa:\n  image_size_px: 32\n")
    with pytest.raises(ConfigError, match="unknown key 'dataa' in .*typo.yaml"):
        load_config("fast", path)


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("data:\n  image_size_px: big\n", "data.image_size_px", "an int"),
        ("data:\n  image_size_px: true\n", "data.image_size_px", "an int"),
        ("data:\n  hflip: 3\n", "data.hflip", "a bool"),
        ("data:\n  styles: lorelei\n", "data.styles", "a list"),
        ("data:\n  styles: [lorelei, 3]\n", "data.styles[1]", "a str"),
        ("data: 5\n", "data", "a mapping"),
    ],
)
def test_wrong_type_names_key_and_file(tmp_path, text, key, expected):
    path = tmp_path / "types.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config("fast", path)
    assert f"'{key}'" in str(err.value) and "types.yaml" in str(err.value) and expected in str(err.value)


def test_overrides_ignore_none_and_check_types():
    config = load_config("fast", overrides={"data.image_size_px": 64, "data.seed": None})
    assert config.data.image_size_px == 64 and config.data.seed == 0
    with pytest.raises(ConfigError, match="command-line options"):
        load_config("fast", overrides={"data.n_train": "many"})


def test_round_trip_through_dict():
    config = load_config("gpu")
    assert config_from_dict(config.to_dict()) == config


def test_missing_or_invalid_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("fast", tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config("fast", bad)
