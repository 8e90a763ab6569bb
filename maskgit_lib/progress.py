"""The one progress-bar helper: every library loop takes ``progress=`` and calls this.

``tqdm.auto`` draws a widget in Jupyter and a text bar in a terminal; ``progress=False`` silences it
(tests, nbval) without relying on environment variables.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress_bar(items: Iterable[T], enabled: bool, desc: str, total: int | None = None) -> Iterable[T]:
    if not enabled:
        return items
    return tqdm(items, desc=desc, total=total, dynamic_ncols=True, leave=False)
