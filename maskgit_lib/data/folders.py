"""Any folder of images → square RGB uint8 arrays: the pipeline behind ``folder`` and the Kaggle sets.

Real folders are messy: stray text files, truncated downloads, grayscale scans, palette GIFs, RGBA
PNGs, CMYK JPEGs. Every readable image becomes RGB (transparency composited onto white, like the
avatars), is centre-cropped to a square and resized with a Lanczos filter. Anything unreadable is
skipped and counted, and the caller gets one warning with the count instead of a crash mid-run.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from maskgit_lib.progress import progress_bar


class SkippedFilesWarning(UserWarning):
    """Some files of an image folder were not readable images and were left out."""


@dataclass
class ImageFolder:
    """The files of a folder and their classes. Labels index ``class_names``."""

    root: Path
    files: list[Path]
    labels: list[int]
    class_names: list[str]


@dataclass
class LoadReport:
    kept: int = 0
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def warn_if_skipped(self) -> None:
        if not self.skipped:
            return
        examples = "; ".join(f"{p.name}: {why}" for p, why in self.skipped[:3])
        warnings.warn(
            f"skipped {len(self.skipped)} of {self.kept + len(self.skipped)} files that are not readable "
            f"images (e.g. {examples})",
            SkippedFilesWarning,
            stacklevel=3,
        )


def find_class_root(root: Path) -> Path:
    """Step down through folders that hold nothing but one sub-folder.

    Kaggle archives wrap their images in such folders (``Celebrity Faces Dataset/<name>/…``,
    ``img_align_celeba/img_align_celeba/…``); after this step both look like a plain folder.
    """
    current = root
    while True:
        entries = [e for e in current.iterdir() if not e.name.startswith(".")]
        dirs = [e for e in entries if e.is_dir()]
        if len(dirs) == 1 and len(entries) == 1:
            current = dirs[0]
        else:
            return current


def scan_folder(root: str | Path) -> ImageFolder:
    """List the files under ``root``. Sub-folders are classes; files directly in ``root`` form one class.

    Every regular file is listed (not only known extensions): whether it is an image is decided by
    opening it, so a JPEG saved as ``.dat`` still counts and a ``.jpg`` that is really HTML is skipped.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist; pass an existing folder with --path")
    base = find_class_root(root)
    class_dirs = sorted(d for d in base.iterdir() if d.is_dir() and not d.name.startswith("."))
    loose = sorted(f for f in base.iterdir() if f.is_file() and not f.name.startswith("."))
    groups: list[tuple[str, list[Path]]] = []
    if loose or not class_dirs:
        groups.append((base.name, loose))
    for d in class_dirs:
        files = sorted(f for f in d.rglob("*") if f.is_file() and not f.name.startswith("."))
        if files:
            groups.append((d.name, files))
    files, labels, class_names = [], [], []
    for label, (name, group) in enumerate(groups):
        class_names.append(name)
        files += group
        labels += [label] * len(group)
    if not files:
        raise FileNotFoundError(f"image folder {root} holds no files; put images in it (optionally in class sub-folders)")
    return ImageFolder(root=base, files=files, labels=labels, class_names=class_names)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode → RGB. Transparent pixels become white; 16-bit and float images are rescaled."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        span = values.max() - values.min()
        values = (values - values.min()) / (span if span > 0 else 1.0) * 255.0
        image = Image.fromarray(values.astype(np.uint8), mode="L")
    if image.mode == "P" or image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "La", "RGBa"):
        image = image.convert("RGBA")
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)
    return image.convert("RGB")


def load_image(path: str | Path, image_size_px: int) -> np.ndarray:
    """Open, convert to RGB, centre-crop to a square, resize. Returns (H, W, 3) uint8.

    Raises ``OSError`` / ``ValueError`` for files that are not (complete) images.
    """
    with Image.open(path) as image:
        image.load()  # decode now: truncated files fail here, not later in a DataLoader
        rgb = to_rgb(image)
    square = ImageOps.fit(rgb, (image_size_px, image_size_px), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    return np.asarray(square, dtype=np.uint8)


def _try_load(args: tuple[str, int]) -> tuple[np.ndarray | None, str]:
    path, size = args
    try:
        return load_image(path, size), ""
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as err:
        first_line = (str(err).splitlines() or [type(err).__name__])[0]
        return None, first_line.replace(f"'{path}'", "").replace(path, "").strip()[:120]


def load_images(
    files: list[Path], image_size_px: int, progress: bool = True, workers: int | None = None
) -> tuple[np.ndarray, np.ndarray, LoadReport]:
    """Load many files. Returns images (N, H, W, 3) uint8, the indices into ``files`` that were kept,
    and a report of what was skipped (the caller decides when to warn)."""
    tasks = [(str(f), image_size_px) for f in files]
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    if workers <= 1 or len(files) < 500:
        results = [_try_load(t) for t in progress_bar(tasks, progress, "loading images")]
    else:
        import multiprocessing

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(
                progress_bar(pool.map(_try_load, tasks, chunksize=64), progress, "loading images", total=len(tasks))
            )
    report = LoadReport()
    images, kept = [], []
    for index, (array, why) in enumerate(results):
        if array is None:
            report.skipped.append((files[index], why))
        else:
            images.append(array)
            kept.append(index)
    report.kept = len(kept)
    if not images:
        raise ValueError(f"none of the {len(files)} files could be read as an image; check the folder")
    return np.stack(images), np.asarray(kept, dtype=np.int64), report
