"""Does a generated image show what its prompt asked for? Scored by the attribute classifier.

Why per attribute and "all right": a model can get the style right every time and ignore the rest;
the per-attribute accuracies show which words it follows, and the share of images with every
requested attribute right (GenEval's per-prompt success) shows whether it follows them together.
Read both beside the classifier's own accuracy on real validation images, the ceiling.
"""

from __future__ import annotations

import numpy as np
import torch

from maskgit_lib.evaluation.attribute_classifier import AttributeClassifier


class FaithfulnessError(ValueError):
    """Requests the classifier cannot score; the message names them."""


def faithfulness(classifier: AttributeClassifier, images: torch.Tensor | np.ndarray, requested: list[dict[str, str]]) -> dict:
    """Score ``images`` against what each was asked to show.

    images: uint8 (N, H, W, 3) or float (N, 3, H, W) in [-1, 1]; requested: N dicts of words, e.g.
    ``{"style": "micah", "glasses": "dark"}`` (the attributes its caption named).
    Returns {"per_attribute": {name: {"accuracy", "n"}}, "all_right": share, "n_images": N}.
    """
    if len(images) != len(requested):
        raise FaithfulnessError(f"{len(images)} images but {len(requested)} requests: give one request per image")
    _check_requests(classifier, requested)
    predicted = classifier.predict(images)  # (N, A) value indices
    readings = [{name: classifier.attribute_values[name][int(row[classifier.names.index(name)])] for name in request}
                for row, request in zip(predicted, requested, strict=True)]
    return score_readings(readings, requested)


def score_readings(readings: list[dict[str, str]], requested: list[dict[str, str]]) -> dict:
    """The score itself, from what the classifier read on each image and what its prompt asked for:
    per attribute, the share of the images that asked for it and show it; and the share of images
    with every requested attribute right. An attribute no prompt asked for is not scored."""
    hits: dict[str, list[bool]] = {}
    every_one_right = []
    for reading, request in zip(readings, requested, strict=True):
        right = [reading.get(name) == word for name, word in request.items()]
        for (name, _), ok in zip(request.items(), right, strict=True):
            hits.setdefault(name, []).append(ok)
        every_one_right.append(all(right))
    return {
        "per_attribute": {name: {"accuracy": round(float(np.mean(v)), 4), "n": len(v)} for name, v in hits.items()},
        "all_right": round(float(np.mean(every_one_right)), 4) if every_one_right else float("nan"),
        "n_images": len(requested),
    }


def _check_requests(classifier: AttributeClassifier, requested: list[dict[str, str]]) -> None:
    for request in requested:
        for name, word in request.items():
            if name not in classifier.attribute_values:
                raise FaithfulnessError(f"the classifier does not read {name!r}; it reads {', '.join(classifier.names)}")
            if word not in classifier.attribute_values[name]:
                raise FaithfulnessError(f"{name}={word!r} is not a value the classifier knows: {', '.join(classifier.attribute_values[name])}")
