"""What an avatar shows, in words shared by every style: hair, glasses, a hat, a smile, colours.

Why: a text-conditioned MaskGIT (notebook 08) needs captions, and captions need facts about each
image. The renderer knows them exactly: DiceBear resolves every option (which hair, which hex colour,
glasses or none) before it draws. Each style names its options its own way, so the mapping from a
style's options to a small shared vocabulary is written once, as data, in ``attribute_map.yaml``
(documented there); this module only applies it.

An attribute's value is a word (``{"hair": "long", "glasses": "dark"}``); the prepared arrays store
its index in ``attribute_values()[name]``, and -1 where it is not defined for the avatar (its style
does not draw it, or it is drawn too ambiguously to name).
"""

from __future__ import annotations

import hashlib
import json
from fnmatch import fnmatchcase
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

STYLE = "style"  # the first attribute, always defined: the avatar's drawing style (its class)
NOT_DEFINED = -1  # the array value of an attribute an avatar does not show


class AttributeMapError(ValueError):
    """An option value the attribute map does not cover; the message names the style and value."""


def _word(value: Any) -> Any:
    """YAML 1.1 reads an unquoted yes / no as a boolean; the map means the words."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, dict):
        return {_word(k): _word(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_word(v) for v in value]
    return value


@cache
def attribute_map() -> dict[str, Any]:
    """The parsed ``attribute_map.yaml`` (package data)."""
    text = resources.files("maskgit_lib.data").joinpath("attribute_map.yaml").read_text("utf-8")
    return _word(yaml.safe_load(text))


def attribute_names() -> list[str]:
    """Every attribute the prepared arrays record, ``style`` first, in the map's order."""
    return [STYLE, *attribute_map()["attributes"]]


def captioned_attributes() -> list[str]:
    """The attributes captions name and faithfulness scores (those the classifier reads at 32 px)."""
    return list(attribute_map()["captioned"])


def attribute_values(styles: list[str]) -> dict[str, list[str]]:
    """Each attribute's values in index order; ``style``'s are the data set's styles."""
    return {STYLE: list(styles), **{k: list(v) for k, v in attribute_map()["attributes"].items()}}


def map_digest() -> str:
    """A hash of everything in the map that decides the prepared arrays (not ``captioned``)."""
    decisive = {k: v for k, v in attribute_map().items() if k != "captioned"}
    return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()[:10]


def _matches(value: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(value, p) for p in patterns)


def _option_value(options: dict[str, Any], name: str) -> str | None:
    """A resolved option as one string: a colour option is a list of hex values, we read the first."""
    value = options.get(name)
    if isinstance(value, list):
        return value[0].lower() if value else None
    return value


def _apply_rule(style: str, attribute: str, rule: dict[str, Any], options: dict[str, Any]) -> str | None:
    """One attribute's value under one rule of the map, or None where it is not defined."""
    for option, hiding in rule.get("unless", {}).items():
        hidden_by = _option_value(options, option)
        if hidden_by is not None and _matches(hidden_by, hiding):
            return None
    value = _option_value(options, rule["option"])
    if value is None:
        if "absent" in rule:
            return rule["absent"]
        raise AttributeMapError(f"{style}: option {rule['option']!r} is missing and the map gives no 'absent' value for {attribute}")
    if "table" in rule:
        table = attribute_map()["colours"][rule["table"]]
        if value not in table:
            raise AttributeMapError(f"{style}: colour {value} of {rule['option']} is not in the {rule['table']!r} table of attribute_map.yaml")
        return table[value]
    if _matches(value, rule.get("unknown", [])):
        return None
    for word, patterns in rule["values"].items():
        if _matches(value, patterns):
            return word
    raise AttributeMapError(f"{style}: {rule['option']}={value!r} is not mapped for {attribute} in attribute_map.yaml")


def describe_options(style: str, options: dict[str, Any]) -> dict[str, str]:
    """The shared attributes of one avatar from DiceBear's resolved options; only defined ones.

    A style the map has no entry for (any DiceBear style can be rendered) is described by its name alone.
    """
    rules = attribute_map()["styles"].get(style, {})
    described = {STYLE: style}
    for attribute in attribute_map()["attributes"]:
        if attribute in rules:
            value = _apply_rule(style, attribute, rules[attribute], options)
            if value is not None:
                described[attribute] = value
    return described


def avatar_attributes(style: str, seed_string: str) -> dict[str, str]:
    """The shared attributes of the avatar ``(style, seed_string)`` (renders its SVG, not its pixels)."""
    from dicebear import Avatar

    from maskgit_lib.data.avatars import _style

    return describe_options(style, Avatar(_style(style), {"seed": seed_string}).to_json()["options"])


def encode_attributes(described: dict[str, str], values: dict[str, list[str]]) -> np.ndarray:
    """One avatar's attributes as value indices, in ``values``' order, -1 where not defined. (A,) int16."""
    row = np.full(len(values), NOT_DEFINED, dtype=np.int16)
    for column, (name, words) in enumerate(values.items()):
        if name in described:
            row[column] = words.index(described[name])
    return row


def decode_attributes(row: np.ndarray, values: dict[str, list[str]]) -> dict[str, str]:
    """The inverse of ``encode_attributes``: only the defined attributes."""
    return {name: words[int(i)] for (name, words), i in zip(values.items(), row, strict=True) if i != NOT_DEFINED}
