"""Captions from attributes: a small grammar, so one avatar gets many phrasings of the same facts.

Why a grammar and not one fixed sentence: a model trained on a single template learns the template,
not the words; shuffled clauses and a few paraphrases per clause make it read each fact wherever it
stands (Muse trains on free text; ours is a closed, generated language a learner can read in full).

A caption names the style (always) and exactly the attributes it is given: ``{"style": "micah",
"hair": "short", "glasses": "dark"}`` → "a micah face with sunglasses and short hair". It has at most
``MAX_CAPTION_WORDS`` words: when the sentence form would be longer, the terse form is used
("micah, short hair, sunglasses, no hat or beard"), which always fits.
"""

from __future__ import annotations

import re

import numpy as np

MAX_CAPTION_WORDS = 16
STYLE_NOUNS = ("avatar", "face", "portrait", "character")

# attribute -> value -> paraphrases. The first paraphrase is the shortest (the terse form uses it).
# ``{c}`` is the hair colour ("blond ") when one is given. A value missing here has no phrase.
PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "hair": {
        "long": ("long {c}hair", "long flowing {c}hair"),
        "short": ("short {c}hair", "cropped {c}hair"),
        "none": ("bald", "a bald head", "no hair"),
    },
    "glasses": {
        "none": ("no glasses", "without glasses"),
        "light": ("glasses", "clear glasses", "spectacles"),
        "dark": ("sunglasses", "dark glasses", "shades"),
    },
    "hat": {"yes": ("hat", "a hat", "headwear"), "no": ("no hat", "without a hat")},
    "beard": {"yes": ("beard", "a beard", "a bearded chin"), "no": ("no beard", "a clean shaven face")},
    # no "smile" here: it is a word of the style "big smile"
    "smiling": {"yes": ("smiling", "a grin", "a happy expression"), "no": ("not smiling", "a serious expression", "a straight face")},
    "skin_tone": {"*": ("{v} skin", "a {v} skin tone")},
    "clothing_colour": {"*": ("{v} clothes", "a {v} shirt", "{v} clothing")},
}
# Paraphrases that are not noun phrases: never after "with" ("with without glasses", "with not smiling").
NOT_AFTER_WITH = frozenset({"bald", "without glasses", "without a hat", "smiling", "not smiling"})
# In the terse form the negatives share one "no": "no glasses, hat or beard".
NEGATIVE_NOUNS = {"glasses": "glasses", "hat": "hat", "beard": "beard"}
ATTRIBUTE_ORDER = ("hair", "glasses", "hat", "beard", "smiling", "skin_tone", "clothing_colour")


class CaptionError(ValueError):
    """Attributes the grammar has no words for; the message names them."""


def split_words(text: str) -> list[str]:
    """The grammar's (and the vocabulary's) words: lower case, split on anything not a letter."""
    return re.findall(r"[a-z]+", text.lower())


def style_words(style: str) -> str:
    """A style name as words: "pixel-art" → "pixel art"."""
    return " ".join(split_words(style))


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def style_caption(style: str, rng: np.random.Generator | None = None) -> str:
    """The class-conditional case as a caption: only the style. Without ``rng``: "a <style> avatar"."""
    words = style_words(style)
    if rng is None:
        return f"{_article(words)} {words} avatar"
    noun = STYLE_NOUNS[rng.integers(len(STYLE_NOUNS))]
    forms = (f"{_article(words)} {words} {noun}", f"{_article(noun)} {noun} in {words} style", f"{words} style {noun}")
    return forms[rng.integers(len(forms))]


def _phrase(attribute: str, value: str, colour: str, choice: int | None, rng: np.random.Generator, after_with: bool = False) -> str:
    table = PHRASES[attribute]
    options = table.get(value, table.get("*"))
    if options is None:
        raise CaptionError(f"the caption grammar has no words for {attribute}={value!r}")
    if after_with:
        options = tuple(o for o in options if o not in NOT_AFTER_WITH)
    template = options[0] if choice == 0 else options[rng.integers(len(options))]
    return template.format(c=f"{colour} " if colour else "", v=value)


def _join(items: list[str], last: str = "and") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


def _clauses(
    attributes: dict[str, str], rng: np.random.Generator, shortest: bool, after_with: bool = False
) -> list[tuple[str, str]]:
    """(attribute, phrase) for every attribute but the style, in random order; ``after_with``: noun phrases only."""
    colour = attributes.get("hair_colour", "")
    clauses = []
    for name in ATTRIBUTE_ORDER:
        if name in attributes:
            clauses.append((name, _phrase(name, attributes[name], colour, 0 if shortest else None, rng, after_with)))
    if colour and "hair" not in attributes:
        clauses.append(("hair_colour", f"{colour} hair"))
    return [clauses[i] for i in rng.permutation(len(clauses))]


def _sentence(style: str, clauses: list[str], with_form: bool, rng: np.random.Generator) -> str:
    if not clauses:
        return style_caption(style, rng)
    if with_form:
        return f"{style_caption(style, rng)} with {_join(clauses)}"
    return f"{_join(clauses)}, {style_words(style)} style"


def _terse(style: str, clauses: list[tuple[str, str]], attributes: dict[str, str]) -> str:
    negatives = [NEGATIVE_NOUNS[n] for n, _ in clauses if n in NEGATIVE_NOUNS and attributes[n] in ("no", "none")]
    positives = [p for n, p in clauses if not (n in NEGATIVE_NOUNS and attributes[n] in ("no", "none"))]
    parts = [style_words(style), *positives] + ([f"no {_join(negatives, 'or')}"] if negatives else [])
    return ", ".join(parts)


def make_caption(attributes: dict[str, str], rng: np.random.Generator) -> str:
    """One caption naming the style and exactly the given attributes, ≤ ``MAX_CAPTION_WORDS`` words.

    ``attributes``: words as ``PreparedData.describe`` gives them, ``style`` required. The clause order
    and the paraphrases come from ``rng``: the same seed gives the same caption.
    """
    if "style" not in attributes:
        raise CaptionError("a caption needs the style: pass attributes with a 'style' key")
    unknown = sorted(set(attributes) - {"style", "hair_colour", *PHRASES})
    if unknown:
        raise CaptionError(f"the caption grammar has no words for the attributes {unknown}")
    with_form = bool(rng.random() < 0.5)  # "a micah face with …" or "…, micah style"
    caption = _sentence(attributes["style"], [p for _, p in _clauses(attributes, rng, False, with_form)], with_form, rng)
    if len(split_words(caption)) <= MAX_CAPTION_WORDS:
        return caption
    return _terse(attributes["style"], _clauses(attributes, rng, True), attributes)


def grammar_words(attribute_values: dict[str, list[str]]) -> set[str]:
    """Every word a caption over these attribute values can contain (for the closed vocabulary)."""
    fixed = "a an with and or no style in " + " ".join(STYLE_NOUNS)
    words = set(split_words(fixed))
    for style in attribute_values.get("style", []):
        words.update(split_words(style))
    for value in attribute_values.get("hair_colour", []):
        words.update(split_words(f"{value} hair"))
    for attribute, table in PHRASES.items():
        for value in attribute_values.get(attribute, []):
            for template in table.get(value, table.get("*", ())):
                words.update(split_words(template.format(c="", v=value)))
    words.update(NEGATIVE_NOUNS.values())
    return words


def _spread_negatives(text: str) -> str:
    """The terse form's shared "no": "no glasses, hat or beard" → "no glasses, no hat, no beard"."""
    nouns = "|".join(NEGATIVE_NOUNS.values())
    pattern = re.compile(rf"\bno ((?:{nouns})(?:, (?:{nouns}))*(?: or (?:{nouns})))")
    return pattern.sub(lambda m: ", ".join(f"no {w}" for w in re.split(r", | or ", m.group(1))), text)


def parse_caption(prompt: str, attribute_values: dict[str, list[str]]) -> dict[str, str]:
    """What a prompt asks for, read back with the grammar's own phrases: the inverse of
    :func:`make_caption` on its own captions (a test checks the round trip), and the attributes a
    free prompt such as "a micah face with sunglasses" is scored on. Where phrases overlap ("glasses"
    in "no glasses"), the longest one wins."""
    text = f" {' '.join(split_words(_spread_negatives(prompt.lower())))} "
    asked: dict[str, str] = {}
    for style in attribute_values.get("style", []):
        if f" {style_words(style)} " in text:
            asked["style"] = style
    colours = attribute_values.get("hair_colour", [])
    for colour in colours:
        if f" {colour} hair " in text:
            asked["hair_colour"] = colour
    plain = text
    for colour in colours:
        plain = plain.replace(f" {colour} hair ", " hair ")
    for name, table in PHRASES.items():
        best = (0, None)
        for value in attribute_values.get(name, []):
            for phrase in table.get(value, table.get("*", ())):
                words = " ".join(split_words(phrase.format(c="", v=value)))
                if f" {words} " in plain and len(words) > best[0]:
                    best = (len(words), value)
        if best[1] is not None:
            asked[name] = best[1]
    return asked
