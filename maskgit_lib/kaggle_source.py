"""Downloading the Kaggle data sets (the original project's celebrity faces, and CelebA).

The ``kaggle`` package is imported lazily and kept quiet: on import without credentials it prints
a long banner to stdout and ``authenticate()`` raises ``SystemExit``, which would kill a notebook
kernel. Both become one :class:`KaggleError` whose message says what to do.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

KAGGLE_DATASETS = {
    "celebrity-faces": "vishesh1412/celebrity-face-image-dataset",
    "celeba": "jessicali9530/celeba-dataset",
}

CREDENTIALS_HELP = (
    "Kaggle credentials not found: create a token at https://www.kaggle.com/settings/api and save it "
    "as ~/.kaggle/access_token (or set KAGGLE_API_TOKEN, or KAGGLE_USERNAME and KAGGLE_KEY), then run this again"
)


class KaggleError(RuntimeError):
    """The Kaggle download could not happen; the message is one line saying why and what to do."""


def _authenticated_api():
    """Import ``kaggle`` and authenticate, swallowing its banner and its ``SystemExit``."""
    quiet = io.StringIO()
    try:
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            from kaggle.api.kaggle_api_extended import KaggleApi

            api = KaggleApi()
            api.authenticate()
    except ImportError:
        raise KaggleError("the 'kaggle' package is not installed; run: pip install kaggle") from None
    except (SystemExit, OSError, ValueError):
        raise KaggleError(CREDENTIALS_HELP) from None
    return api


def download(dataset: str, dest: Path) -> Path:
    """Download and unzip a Kaggle data set into ``dest`` once; later calls reuse it.

    Unzips into a temporary folder and renames it when complete, so an interrupted download never
    looks finished.
    """
    if dataset not in KAGGLE_DATASETS:
        raise KaggleError(f"unknown Kaggle data set {dataset!r}; choose from {', '.join(KAGGLE_DATASETS)}")
    if dest.is_dir():
        return dest
    ref = KAGGLE_DATASETS[dataset]
    api = _authenticated_api()
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        api.dataset_download_files(ref, path=str(partial), unzip=True, quiet=False)
    except Exception as err:  # requests' ConnectionError, HTTP errors, bad zip files...
        shutil.rmtree(partial, ignore_errors=True)
        raise KaggleError(_explain(ref, err)) from None
    partial.rename(dest)
    return dest


def _explain(ref: str, err: Exception) -> str:
    text = str(err)
    status = getattr(getattr(err, "response", None), "status_code", None)
    if status in (401, 403) or "401" in text or "403" in text:
        return (
            f"Kaggle refused the download of {ref} (HTTP {status or '401/403'}): check your token, and accept "
            f"the data set's terms on its Kaggle page"
        )
    if "resolve" in text.lower() or "connection" in type(err).__name__.lower() or "Max retries" in text:
        return (
            f"could not reach Kaggle to download {ref} (offline?): connect to the internet, or download the "
            f"archive by hand, unzip it and use --dataset folder --path DIR"
        )
    return f"downloading {ref} from Kaggle failed ({type(err).__name__}: {text.splitlines()[0][:160] if text else ''})"
