"""Graders for notebook 00 (setup and data): each ``check_*`` prints one line, ✓ / ✗ / ✎."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from maskgit_lib.course.graders.verdict import Mismatch, Verdict, as_float, call_learner, grade, vs


def check_white_share(white_share_per_style: Callable) -> Verdict:
    """``white_share_per_style(images (N, H, W, 3) uint8, labels (N,), class_names) -> {style: share}``."""

    def reference(images: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict[str, float]:
        white = (images == 255).all(axis=-1)  # (N, H, W)
        return {name: float(white[labels == k].mean()) for k, name in enumerate(class_names)}

    def body() -> str:
        rng = np.random.default_rng(0)
        cases = []
        for n, size, names in ((40, 8, ["a", "b", "c", "d"]), (5, 4, ["only"]), (12, 6, ["lorelei", "micah", "pixel-art"])):
            images = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
            background = rng.random((n, size, size)) < rng.random((n, 1, 1))  # a different share per image
            images[background] = 255
            images[rng.random((n, size, size)) < 0.1] = (255, 255, 254)  # almost white is not white
            labels = np.arange(n) % len(names)
            cases.append((f"{n} images of {size}×{size} px, {len(names)} style(s)", images, labels, names))
        for case, images, labels, names in cases:
            expected = reference(images, labels, names)
            mine = call_learner(white_share_per_style, images.copy(), labels.copy(), list(names), case=case)
            if not isinstance(mine, dict) or set(mine) != set(names):
                raise Mismatch(f"returned {type(mine).__name__} with keys {sorted(mine) if isinstance(mine, dict) else '-'}, "
                               f"expected a dict with one entry per style {sorted(names)} [{case}]",
                               "{name: share for k, name in enumerate(class_names)}, the images of style k being images[labels == k]")
            for name in names:
                value = as_float(mine[name])
                if not math.isclose(value, expected[name], abs_tol=1e-9):
                    style = images[labels == names.index(name)]
                    any_channel = float((style == 255).any(axis=-1).mean())
                    per_value = float((style == 255).mean())
                    hint = ("a pixel is white only if all three channels are 255: (255, 255, 254) is not; .all(axis=-1)"
                            if math.isclose(value, any_channel, abs_tol=1e-9) else
                            "that is the share of channel values equal to 255; count pixels whose three channels all are"
                            if math.isclose(value, per_value, abs_tol=1e-9) else
                            "white = (images == 255).all(axis=-1), shape (N, H, W); the share is its mean over the images of that style")
                    raise Mismatch(f"the share of {name!r} is {vs(value, expected[name])} [{case}]", hint)
        return "on 3 cases (almost-white pixels, one style, real style names)."

    return grade(white_share_per_style, "is right", body)
