"""The embedded default data set: cartoon faces rendered offline from DiceBear style definitions.

Why avatars: they need no account, no download and no GPU, yet they are real, varied images with
a natural class label (the drawing style), so a small MaskGIT can learn them on a laptop CPU and
class-conditional sampling has something visible to show.

Each image is a pure function of (style, seed string, size): DiceBear builds an SVG from the seed
with its own portable PRNG, and resvg rasterises it. We render at twice the target size and
downsample with a Lanczos filter, which keeps thin lines legible at 32 px.
"""

from __future__ import annotations

import io
import json
import os
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from importlib import metadata, resources
from typing import Any

import numpy as np
from PIL import Image

from maskgit_lib.data import attributes
from maskgit_lib.progress import progress_bar

SUPERSAMPLE = 2  # render at 2x the target size, then downsample
_CHUNK = 250  # images per worker task
_MIN_IMAGES_FOR_WORKERS = 1_000  # below this, a process pool costs more than it saves


class UnknownStyleError(ValueError):
    pass


def available_styles() -> list[str]:
    """Every style definition shipped by the ``dicebear-styles`` package."""
    folder = resources.files("dicebear_styles")
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


@cache
def _style_definition(name: str) -> dict[str, Any]:
    path = resources.files("dicebear_styles").joinpath(f"{name}.json")
    if not path.is_file():
        raise UnknownStyleError(
            f"unknown avatar style {name!r}; choose from: {', '.join(available_styles())}"
        )
    return json.loads(path.read_text("utf-8"))


@cache
def _style(name: str):  # -> dicebear.Style
    from dicebear import Style

    return Style(_style_definition(name))


def style_licence(name: str) -> dict[str, str]:
    """Licence name, URL and attribution text of a style, from its own definition file."""
    meta = _style_definition(name).get("meta", {})
    licence = meta.get("license", {})
    return {
        "style": name,
        "licence": licence.get("name", "unknown"),
        "url": licence.get("url", ""),
        "attribution": licence.get("text", ""),
    }


def avatar_seed(seed: int, split: str, index: int | str) -> str:
    """The DiceBear seed string of one image: unique per (seed, split, index)."""
    return f"maskgit-course:{seed}:{split}:{index}"


def render_avatar(style: str, seed_string: str, image_size_px: int) -> np.ndarray:
    """Render one avatar on a white background. Returns (H, W, 3) uint8."""
    from dicebear import Avatar

    return _rasterise(Avatar(_style(style), {"seed": seed_string}).to_string(), image_size_px)


def render_described_avatar(style: str, seed_string: str, image_size_px: int) -> tuple[np.ndarray, dict[str, str]]:
    """Render one avatar and describe it from the same resolved options (one DiceBear pass).

    Returns the (H, W, 3) uint8 image and its shared attributes (``attributes.describe_options``).
    """
    from dicebear import Avatar

    resolved = Avatar(_style(style), {"seed": seed_string}).to_json()  # {"svg", "options"}
    return _rasterise(resolved["svg"], image_size_px), attributes.describe_options(style, resolved["options"])


def _rasterise(svg: str, image_size_px: int) -> np.ndarray:
    import resvg_py

    big = image_size_px * SUPERSAMPLE
    png = resvg_py.svg_to_bytes(svg_string=svg, width=big, height=big, background="white")
    image = Image.open(io.BytesIO(bytes(png))).convert("RGB")
    image = image.resize((image_size_px, image_size_px), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def _render_chunk(args: tuple[list[str], int, str, int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    styles, seed, split, start, stop, image_size_px = args
    labels = np.arange(start, stop) % len(styles)  # (n,) balanced classes, interleaved
    values = attributes.attribute_values(styles)
    images, rows = [], []
    for index, label in zip(range(start, stop), labels, strict=True):
        image, described = render_described_avatar(styles[label], avatar_seed(seed, split, index), image_size_px)
        images.append(image)
        rows.append(attributes.encode_attributes(described, values))
    return np.stack(images), labels.astype(np.int64), np.stack(rows)  # (n, H, W, 3), (n,), (n, A) int16


def render_split(
    styles: list[str],
    n_images: int,
    image_size_px: int,
    seed: int,
    split: str,
    progress: bool = True,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render ``n_images`` avatars, classes in turn. Returns images (N, H, W, 3) uint8, labels (N,)
    and attributes (N, A) int16: value indices of ``attributes.attribute_values(styles)``, -1 where
    an avatar does not show the attribute.

    The result depends only on the arguments, never on ``workers``: every image has its own seed.
    """
    for name in styles:
        _style_definition(name)  # fail early, with the list of valid names
    tasks = [
        (list(styles), seed, split, start, min(start + _CHUNK, n_images), image_size_px)
        for start in range(0, n_images, _CHUNK)
    ]
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    desc = f"rendering {split} avatars"
    if workers <= 1 or n_images < _MIN_IMAGES_FOR_WORKERS:
        chunks = [_render_chunk(t) for t in progress_bar(tasks, progress, desc)]
    else:
        import multiprocessing

        # spawn, not fork: the parent (a notebook kernel) may already run torch's threads.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            chunks = list(progress_bar(pool.map(_render_chunk, tasks), progress, desc, total=len(tasks)))
    if not chunks:
        raise ValueError("n_images must be at least 1")
    return tuple(np.concatenate([c[k] for c in chunks]) for k in range(3))


def renderer_versions() -> dict[str, str]:
    """Versions that determine the pixels; recorded in the data card and the cache metadata."""
    return {name: metadata.version(name) for name in ("dicebear-core", "dicebear-styles", "resvg-py")}
