"""Avatar attributes: the map covers everything the renderer emits, and the pixels did not change."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from maskgit_lib.config import DEFAULT_AVATAR_STYLES, load_config
from maskgit_lib.data import attributes, avatars
from maskgit_lib.data.attributes import AttributeMapError, attribute_map, describe_options
from maskgit_lib.data.prepared import prepare_data

SEEDS_PER_STYLE = 300


def old_render_avatar(style: str, seed_string: str, image_size_px: int) -> np.ndarray:
    """render_avatar as it was before attributes existed (the shipped checkpoints saw these pixels)."""
    import resvg_py
    from dicebear import Avatar

    svg = Avatar(avatars._style(style), {"seed": seed_string}).to_string()
    big = image_size_px * avatars.SUPERSAMPLE
    png = resvg_py.svg_to_bytes(svg_string=svg, width=big, height=big, background="white")
    image = Image.open(io.BytesIO(bytes(png))).convert("RGB").resize((image_size_px, image_size_px), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def test_rendering_with_attributes_keeps_the_pixels_byte_identical():
    styles = list(DEFAULT_AVATAR_STYLES)
    images, labels, _ = avatars.render_split(styles, 16, 32, seed=0, split="val", progress=False, workers=1)
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        expected = old_render_avatar(styles[label], avatars.avatar_seed(0, "val", index), 32)
        assert image.tobytes() == expected.tobytes(), f"image {index} changed"


@pytest.mark.parametrize("style", DEFAULT_AVATAR_STYLES)
def test_every_variant_and_colour_in_the_style_definition_is_mapped(style):
    """Read the style's own definition: each option a rule reads, every value it can take."""
    definition = avatars._style_definition(style)
    rules = attribute_map()["styles"][style]
    for attribute, rule in rules.items():
        option = rule["option"]
        if option.endswith("Variant"):
            for variant in definition["components"][option[: -len("Variant")]]["variants"]:
                options = {option: variant, **{k: [] for k in rule.get("unless", {})}}
                attributes._apply_rule(style, attribute, rule, options)  # raises if unmapped
        else:
            for hex_colour in definition["colors"][option[: -len("Color")]]["values"]:
                assert hex_colour.lower() in attribute_map()["colours"][rule["table"]], f"{style} {option} {hex_colour}"


@pytest.mark.parametrize("style", DEFAULT_AVATAR_STYLES)
def test_a_few_hundred_rendered_seeds_are_described_in_the_shared_words(style):
    from dicebear import Avatar

    values = attributes.attribute_values(list(DEFAULT_AVATAR_STYLES))
    seen = {name: set() for name in values}
    for i in range(SEEDS_PER_STYLE):
        options = Avatar(avatars._style(style), {"seed": f"maskgit-course:0:train:{i}"}).to_json()["options"]
        described = describe_options(style, options)
        assert described["style"] == style
        for name, word in described.items():
            assert word in values[name], (name, word)
            seen[name].add(word)
        assert not ("hair_colour" in described and described.get("hair") == "none"), "a bald head has no hair colour"
    for name in attribute_map()["styles"][style]:
        assert seen[name], f"{style}: {name} never defined in {SEEDS_PER_STYLE} seeds"


def test_an_unmapped_value_fails_naming_it():
    rule = attribute_map()["styles"]["micah"]["glasses"] | {"values": {"light": ["round"]}}
    with pytest.raises(AttributeMapError, match="glassesVariant='square'"):
        attributes._apply_rule("micah", "glasses", rule, {"glassesVariant": "square"})
    with pytest.raises(AttributeMapError, match="#123456"):
        attributes._apply_rule("micah", "skin_tone", attribute_map()["styles"]["micah"]["skin_tone"], {"baseColor": ["#123456"]})


def test_known_avatars_read_as_drawn():
    """Spot checks against options set by hand (what the map says in words)."""
    assert describe_options("pixel-art", {"hairVariant": "long03", "hairColor": ["#28150a"], "mouthVariant": "sad01",
                                          "skinColor": ["#8d5524"], "clothingColor": ["#03396c"]}) == {
        "style": "pixel-art", "hair": "long", "hair_colour": "black", "glasses": "none", "hat": "no", "beard": "no",
        "smiling": "no", "skin_tone": "dark", "clothing_colour": "blue"}
    bald = describe_options("micah", {"hairVariant": "mrClean", "hairColor": ["#000000"], "mouthVariant": "smirk",
                                      "baseColor": ["#f9c9b6"], "shirtColor": ["#ffffff"], "glassesVariant": "round"})
    assert bald == {"style": "micah", "hair": "none", "glasses": "light", "hat": "no", "beard": "no",
                    "skin_tone": "light", "clothing_colour": "white"}  # smirk: not named; bald: no hair colour
    assert describe_options("glass", {}) == {"style": "glass"}  # a style outside the map: its name only


def test_prepared_avatars_carry_their_attributes(data_home):
    cfg = load_config("fast").data
    cfg.n_train, cfg.n_val = 16, 8
    data = prepare_data(cfg, progress=False)
    assert data.train_attributes.shape == (16, len(data.attribute_names)) and data.train_attributes.dtype == np.int16
    assert data.attribute_names[0] == "style" and set(data.attribute_names) <= set(attributes.attribute_names())
    np.testing.assert_array_equal(data.train_attributes[:, 0], data.train_labels)  # style = class label
    for index in range(8):  # the cache says what a fresh description says
        described = data.describe("val", index)
        fresh = attributes.avatar_attributes(cfg.styles[data.val_labels[index]], avatars.avatar_seed(cfg.seed, "val", index))
        assert described == {k: v for k, v in fresh.items() if k in data.attribute_names}


def test_the_attribute_map_is_part_of_the_cache_key(monkeypatch):
    from maskgit_lib.data import prepared

    cfg = load_config("fast").data
    before = prepared.cache_folder(cfg)
    monkeypatch.setattr(attributes, "map_digest", lambda: "changed")
    assert prepared.cache_folder(cfg) != before


def test_a_data_set_without_attributes_says_so(tmp_path):
    from maskgit_lib.data.prepared import DataError, PreparedData

    empty = np.zeros((2, 32, 32, 3), np.uint8)
    folder = PreparedData(folder=tmp_path / "folder-32px-x", meta={"class_names": ["a"]}, train_images=empty,
                          train_labels=np.zeros(2, np.int64), val_images=empty, val_labels=np.zeros(2, np.int64))
    assert folder.attribute_names == [] and folder.attribute_values == {}
    assert folder.train_attributes is None and folder.val_attributes is None
    with pytest.raises(DataError, match="records no attributes"):
        folder.describe("train", 0)
