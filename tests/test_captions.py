"""Captions: every given attribute named, nothing else, at most 16 words, varied but reproducible."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from maskgit_lib.config import DEFAULT_AVATAR_STYLES
from maskgit_lib.data.attributes import attribute_values
from maskgit_lib.text.captions import (
    MAX_CAPTION_WORDS,
    PHRASES,
    CaptionError,
    make_caption,
    split_words,
    style_caption,
    style_words,
)

VALUES = attribute_values(list(DEFAULT_AVATAR_STYLES))
# Words that can only come from one attribute: enough to tell which attributes a caption names.
SIGNS = {
    "glasses": {"glasses", "sunglasses", "spectacles", "shades"},
    "hat": {"hat", "headwear"},
    "beard": {"beard", "bearded", "shaven"},
    "smiling": {"grin", "smiling", "expression", "straight"},
    "skin_tone": {"skin"},
    "clothing_colour": {"clothes", "shirt", "clothing"},
}


def random_attributes(rng: np.random.Generator, keep: float = 0.6) -> dict[str, str]:
    chosen = {"style": str(rng.choice(VALUES["style"]))}
    for name in ("hair", "hair_colour", *SIGNS):
        if rng.random() < keep:
            chosen[name] = str(rng.choice(VALUES[name]))
    if chosen.get("hair") == "none":
        chosen.pop("hair_colour", None)  # the data never colours a bald head
    return chosen


def named_attributes(caption: str, style: str) -> set[str]:
    words = split_words(caption.replace(style_words(style), ""))
    found = {name for name, signs in SIGNS.items() if signs & set(words)}
    if "hair" in words or "bald" in words:
        found.add("hair-words")
    return found


@pytest.mark.parametrize("keep", [0.3, 1.0])
def test_captions_name_exactly_the_given_attributes_in_at_most_16_words(keep):
    rng = np.random.default_rng(0)
    for _ in range(400):
        given = random_attributes(rng, keep)
        caption = make_caption(given, rng)
        words = split_words(caption)
        assert len(words) <= MAX_CAPTION_WORDS, caption
        assert style_words(given["style"]) in " ".join(words), caption
        expected = {n for n in SIGNS if n in given} | ({"hair-words"} if {"hair", "hair_colour"} & set(given) else set())
        assert named_attributes(caption, given["style"]) == expected, (given, caption)
        for name in ("skin_tone", "clothing_colour", "hair_colour"):
            if name in given:
                assert given[name] in words, (given, caption)
        if given.get("hair") in ("long", "short"):
            assert given["hair"] in words or "cropped" in words, caption


def test_the_full_set_falls_back_to_the_terse_form_and_still_fits():
    given = {"style": "open-peeps", "hair": "long", "hair_colour": "blond", "glasses": "none", "hat": "no",
             "beard": "no", "smiling": "no", "skin_tone": "medium", "clothing_colour": "purple"}
    for seed in range(50):
        caption = make_caption(given, np.random.default_rng(seed))
        assert len(split_words(caption)) <= MAX_CAPTION_WORDS, caption
        assert {"glasses", "hat", "beard", "smiling", "medium", "purple", "blond", "long"} <= set(split_words(caption))


def test_order_and_paraphrase_vary_with_the_rng_and_repeat_for_a_seed():
    given = {"style": "micah", "hair": "short", "glasses": "dark", "smiling": "yes", "clothing_colour": "blue"}
    captions = [make_caption(given, np.random.default_rng(seed)) for seed in range(40)]
    assert captions == [make_caption(given, np.random.default_rng(seed)) for seed in range(40)]
    assert len(set(captions)) > 20
    orders = {tuple(w for w in split_words(c) if w in {"sunglasses", "shades", "dark", "blue", "short", "cropped"}) for c in captions}
    assert len(orders) > 5  # clauses move, not only their words
    assert any("shades" in c for c in captions) and any("sunglasses" in c for c in captions)


def test_style_caption_is_the_class_conditional_case():
    assert style_caption("pixel-art") == "a pixel art avatar"
    assert style_caption("adventurer") == "an adventurer avatar"
    assert make_caption({"style": "micah"}, np.random.default_rng(0)).count("micah") == 1
    rng = np.random.default_rng(1)
    for style, _ in itertools.product(DEFAULT_AVATAR_STYLES, range(5)):
        caption = style_caption(style, rng)
        assert style_words(style) in caption and not named_attributes(caption, style)


def test_captions_refuse_what_the_grammar_cannot_say():
    with pytest.raises(CaptionError, match="style"):
        make_caption({"hair": "long"}, np.random.default_rng(0))
    with pytest.raises(CaptionError, match="earrings"):
        make_caption({"style": "micah", "earrings": "hoop"}, np.random.default_rng(0))
    with pytest.raises(CaptionError, match="glasses='pink'"):
        make_caption({"style": "micah", "glasses": "pink"}, np.random.default_rng(0))


def test_every_attribute_value_has_a_phrase():
    for name, table in PHRASES.items():
        for value in VALUES[name]:
            assert value in table or "*" in table, (name, value)


def test_what_follows_with_is_a_noun_phrase():
    """'a micah face with without glasses' and 'with not smiling' read badly: after 'with', noun phrases only."""
    from maskgit_lib.text.captions import NOT_AFTER_WITH

    rng = np.random.default_rng(0)
    attributes = {"style": "micah", "hair": "none", "glasses": "none", "hat": "no", "smiling": "no"}
    with_forms = [c for c in (make_caption(attributes, rng) for _ in range(400)) if " with " in c]
    assert len(with_forms) > 100
    for caption in with_forms:
        after = caption.split(" with ", 1)[1]
        items = [item.strip() for part in after.split(",") for item in part.split(" and ")]
        assert not set(items) & NOT_AFTER_WITH, caption


def test_parse_caption_reads_back_every_caption_the_grammar_writes():
    """The inverse of make_caption: every attribute a caption names is read back, and nothing else."""
    from maskgit_lib.text.captions import parse_caption

    values = attribute_values(DEFAULT_AVATAR_STYLES)
    rng = np.random.default_rng(0)
    names = [n for n in values if n not in ("style", "beard")]
    for _ in range(500):
        attributes = {"style": str(rng.choice(values["style"]))}
        for name in rng.permutation(names)[: rng.integers(0, len(names) + 1)]:
            attributes[str(name)] = str(rng.choice(values[name]))
        if attributes.get("hair") == "none":
            attributes.pop("hair_colour", None)
        caption = make_caption(attributes, rng)
        assert parse_caption(caption, values) == attributes, caption


def test_parse_caption_of_free_prompts():
    from maskgit_lib.text.captions import parse_caption

    values = attribute_values(DEFAULT_AVATAR_STYLES)
    assert parse_caption("A pixel-art avatar with red hair and sunglasses", values) == {
        "style": "pixel-art", "hair_colour": "red", "glasses": "dark"}
    assert parse_caption("a micah face with no glasses", values) == {"style": "micah", "glasses": "none"}
    assert parse_caption("a micah face with glasses", values) == {"style": "micah", "glasses": "light"}
    assert parse_caption("", values) == {}
