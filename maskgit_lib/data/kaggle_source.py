"""Downloading the Kaggle data sets (the original project's celebrity faces, and CelebA).

Two ways in. The command line's default, :func:`download`, goes through the ``kaggle`` package and
the learner's token. In a Kaggle notebook there is no token to give, and none is needed:
:func:`kagglehub_download` asks ``kagglehub``, which attaches the data set to the notebook and
returns where Kaggle mounted it (elsewhere it downloads the public data set into its own cache);
``prepare_data`` then reads that folder (``path=``, ``--path DIR``).

The ``kaggle`` package is imported lazily and kept quiet: on import without credentials it prints
a long banner to stdout and ``authenticate()`` raises ``SystemExit``, which would kill a notebook
kernel. Both become one :class:`KaggleError` whose message says what to do.

What ``kaggle`` 2.x (on ``kagglesdk``) does for one download, which the messages are written
against (``tests/kaggle_standin.py`` serves the same exchange):

- a token (``KAGGLE_API_TOKEN`` or ``~/.kaggle/access_token``) is checked with Kaggle on import and
  in ``authenticate()``, so being offline or holding a revoked token already shows there: as a
  ``requests`` error (an ``OSError``), or as the ``SystemExit`` of "no credentials";
- the download request answers 401/403 as ``requests``' ``HTTPError``;
- a dropped connection is retried five times (waits of about 2 to 32 s) and then raised as
  ``ChunkedEncodingError``; the zip is unzipped into the target folder and deleted.
"""

from __future__ import annotations

import contextlib
import io
import os
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
TOKEN_REFUSED_HELP = (
    "Kaggle did not accept your token (expired or revoked?): create a new one at "
    "https://www.kaggle.com/settings/api, save it as ~/.kaggle/access_token (or set KAGGLE_API_TOKEN), then run this again"
)


class KaggleError(RuntimeError):
    """The Kaggle download could not happen; the message is one line saying why and what to do."""


def on_kaggle() -> bool:
    """Whether this runs in a Kaggle notebook: Kaggle's kernels set ``KAGGLE_KERNEL_RUN_TYPE``."""
    return bool(os.environ.get("KAGGLE_KERNEL_RUN_TYPE"))


def kagglehub_download(dataset: str) -> Path:
    """The folder holding a Kaggle data set, through ``kagglehub`` (no token needed in a Kaggle notebook).

    The folder comes from ``kagglehub.dataset_download``, never a hard-coded ``/kaggle/input/...``:
    Kaggle has moved its mount point more than once. ``kagglehub`` is imported here, not at the top,
    so the course runs without it everywhere else.
    """
    if dataset not in KAGGLE_DATASETS:
        raise KaggleError(f"unknown Kaggle data set {dataset!r}; choose from {', '.join(KAGGLE_DATASETS)}")
    ref = KAGGLE_DATASETS[dataset]
    try:
        import kagglehub
    except ImportError:
        raise KaggleError("the 'kagglehub' package is not installed; run: pip install kagglehub") from None
    try:
        folder = Path(kagglehub.dataset_download(ref))
    except Exception as err:  # offline, a data set Kaggle will not attach, an interrupted download...
        text = str(err).splitlines()[0][:160] if str(err) else ""
        raise KaggleError(
            f"kagglehub could not get {ref} ({type(err).__name__}: {text}); check the internet connection "
            f"(on Kaggle: the editor's Settings → Internet) or attach the data set with Add Input, then run this again"
        ) from None
    if not folder.is_dir():
        raise KaggleError(f"kagglehub returned {folder} for {ref}, which is not a folder; run this again")
    return folder


def _authenticated_api():
    """Import ``kaggle`` and authenticate, swallowing its banner and its ``SystemExit``.

    Errors of ``requests`` pass through for :func:`_explain`: the token check can fail for want of
    a connection, or with an HTTP status, like the download itself.
    """
    quiet = io.StringIO()
    try:
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            from kaggle.api.kaggle_api_extended import KaggleApi

            api = KaggleApi()
            api.authenticate()
    except ImportError:
        raise KaggleError("the 'kaggle' package is not installed; run: pip install kaggle") from None
    except SystemExit:  # no credentials, or a token Kaggle called inactive and nothing else to try
        raise KaggleError(TOKEN_REFUSED_HELP if _token_given() else CREDENTIALS_HELP) from None
    except (OSError, ValueError) as err:
        if _from_requests(err):
            raise
        raise KaggleError(CREDENTIALS_HELP) from None
    return api


def _token_given() -> bool:
    """Whether ``kaggle`` found a token to check (the lookup is kagglesdk's own)."""
    try:
        from kagglesdk.kaggle_env import get_access_token_from_env
    except ImportError:
        return False
    return get_access_token_from_env()[0] is not None


def download(dataset: str, dest: Path, progress: bool = True) -> Path:
    """Download and unzip a Kaggle data set into ``dest`` once; later calls reuse it.

    ``progress=False`` (``--no-progress``) also silences kaggle's own download bar.

    Unzips into a temporary folder and renames it when complete, so an interrupted download never
    looks finished; the next call deletes what it left and downloads afresh.
    """
    if dataset not in KAGGLE_DATASETS:
        raise KaggleError(f"unknown Kaggle data set {dataset!r}; choose from {', '.join(KAGGLE_DATASETS)}")
    if dest.is_dir():
        return dest
    ref = KAGGLE_DATASETS[dataset]
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        api = _authenticated_api()
        partial.mkdir(parents=True)
        api.dataset_download_files(ref, path=str(partial), unzip=True, quiet=not progress)
    except Exception as err:  # requests' ConnectionError, HTTP errors, a cut-off stream, bad zip files...
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(err, KaggleError):
            raise
        raise KaggleError(_explain(ref, err)) from None
    partial.rename(dest)
    return dest


def _from_requests(err: BaseException) -> bool:
    """An error of ``requests`` or ``urllib3``, kaggle's HTTP stack (checked by module name, so
    this module imports neither)."""
    return type(err).__module__.split(".")[0] in ("requests", "urllib3")


def _was_cut_off(err: BaseException) -> bool:
    """The archive's stream ended early: urllib3 2 raises, urllib3 1 leaves kaggle's size check."""
    broken = type(err).__name__ in ("ChunkedEncodingError", "ProtocolError", "IncompleteRead")
    return broken or "does not match expected size" in str(err)


def _explain(ref: str, err: Exception) -> str:
    """One line for a failed token check or download, judged by status code and type, never by
    digits in the text (a cut-off stream's 'IncompleteRead(4013 bytes read)' is no HTTP 401)."""
    status = getattr(getattr(err, "response", None), "status_code", None)
    if status == 401:
        return (
            f"Kaggle did not accept your credentials for {ref} (HTTP 401): check your token, or create a new one at "
            f"https://www.kaggle.com/settings/api and save it as ~/.kaggle/access_token, then run this again"
        )
    if status == 403:
        return (
            f"Kaggle refused the download of {ref} (HTTP 403): open https://www.kaggle.com/datasets/{ref}, accept "
            f"the data set's rules if it shows any, check that your token is current, then run this again"
        )
    if _was_cut_off(err):
        return (
            f"the download of {ref} was cut off before the end (the connection dropped, also on kaggle's retries); "
            f"nothing was kept: run this again to download it afresh"
        )
    unreachable = _from_requests(err) and ("Connection" in type(err).__name__ or "Timeout" in type(err).__name__)
    if unreachable or isinstance(err, (ConnectionError, TimeoutError)):
        return (
            f"could not reach Kaggle to download {ref} (offline?): connect to the internet, or download the "
            f"archive by hand, unzip it and use --dataset folder --path DIR"
        )
    text = str(err).splitlines()[0][:160] if str(err) else ""
    return f"downloading {ref} from Kaggle failed ({type(err).__name__}: {text}); run this again"
