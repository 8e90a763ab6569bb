"""The Kaggle path end to end: the real ``kaggle`` client against a stand-in server on 127.0.0.1.

``maskgit prepare-data --dataset celebrity-faces`` downloads, unzips and prepares the archive; each
failure (a refused token or download, no connection, a download cut off half way) is one line that
says what to do, and leaves no folder that a later run could take for a finished download.
Nothing reaches the internet: any connection or name lookup beyond the loopback fails the test.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import io
import ipaddress
import os
import socket
import sys
import time
from types import SimpleNamespace

import pytest

from maskgit_lib import cli
from maskgit_lib.data import kaggle_source
from maskgit_lib.data.prepared import load_prepared
from tests.kaggle_standin import (
    CELEBRITIES,
    OWNER,
    SLUG,
    STORAGE_PATH,
    TOP_FOLDER,
    KaggleStandIn,
    celebrity_archive,
    celebrity_folder,
    write_kagglehub_standin,
)

TOKEN, USERNAME, KEY = "KGAT_stand-in-token", "learner", "stand-in-legacy-key"
REF = f"{OWNER}/{SLUG}"
PREPARE = ["prepare-data", "--profile", "fast", "--dataset", "celebrity-faces", "--no-progress"]


@pytest.fixture(scope="module")
def archive() -> bytes:
    return celebrity_archive()


@pytest.fixture
def kaggle(tmp_path, monkeypatch, archive):
    """A stand-in Kaggle, a fresh home and data folder, and a client that can reach nothing else."""
    home = tmp_path / "home"
    for var in list(os.environ):
        if var.startswith("KAGGLE_") or var.lower() in ("http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(home / ".kaggle"))
    monkeypatch.setenv("MASKGIT_DATA_DIR", str(tmp_path / "data"))
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    leaks = _guard_sockets(monkeypatch)
    server = KaggleStandIn(archive, TOKEN, USERNAME, KEY).start()
    waits = _point_kaggle_at(server, home, monkeypatch)
    yield SimpleNamespace(server=server, waits=waits, home=home, data=tmp_path / "data")
    server.stop()
    assert not leaks, f"the Kaggle client tried to leave this machine: {leaks}"


def _guard_sockets(monkeypatch) -> list[str]:
    """Refuse (and record) every name lookup and connection beyond the loopback."""
    leaks: list[str] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def loopback(host) -> bool:
        try:
            return host in (None, "localhost") or ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False

    def connect(sock, address):
        if isinstance(address, tuple) and not loopback(address[0]):
            leaks.append(f"connect {address}")
            raise OSError(f"test guard: no connection to {address}")
        return real_connect(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if not loopback(host.decode() if isinstance(host, bytes) else host):
            leaks.append(f"lookup {host}")
            raise socket.gaierror(f"test guard: no lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", lambda sock, address: connect(sock, address) or 0)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return leaks


def _point_kaggle_at(server: KaggleStandIn, home, monkeypatch) -> list[float]:
    """Send the client's production endpoint to the stand-in; record kaggle's retry waits instead of
    sleeping them (about a minute for a download that keeps breaking).

    ``KAGGLE_API_ENVIRONMENT=TEST`` would not do: ``KaggleApi`` always names production (or
    ``LOCALHOST``, port 80) to kagglesdk. ``import kaggle`` authenticates once, here without
    credentials, so it sends nothing; its banner is swallowed.
    """
    from kagglesdk import kaggle_env

    monkeypatch.setitem(kaggle_env._env_to_endpoint, kaggle_env.KaggleEnv.PROD, server.url)
    with contextlib.redirect_stdout(io.StringIO()):
        extended = importlib.import_module("kaggle.api.kaggle_api_extended")  # `kaggle.api` is an object
    monkeypatch.setattr(extended.KaggleApi, "config", str(home / ".kaggle" / "kaggle.json"))  # read at import
    waits: list[float] = []
    monkeypatch.setattr(extended, "time", SimpleNamespace(**{**vars(time), "sleep": waits.append}))
    return waits


def give_token_file(kaggle) -> None:
    (kaggle.home / ".kaggle").mkdir(parents=True, exist_ok=True)
    (kaggle.home / ".kaggle" / "access_token").write_text(TOKEN + "\n")


def give_credentials(kaggle, monkeypatch, how: str) -> None:
    if how == "access_token file":
        give_token_file(kaggle)
    elif how == "KAGGLE_API_TOKEN":
        monkeypatch.setenv("KAGGLE_API_TOKEN", TOKEN)
    else:
        monkeypatch.setenv("KAGGLE_USERNAME", USERNAME)
        monkeypatch.setenv("KAGGLE_KEY", KEY)


def run_prepare(capsys, *extra: str) -> tuple[int, str, str]:
    status = cli.main([*PREPARE, *extra])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def the_error_line(stderr: str) -> str:
    """The CLI's error, which must be the last line and the only one saying ``error:``."""
    lines = stderr.rstrip("\n").split("\n")  # kaggle's progress bars come before it, on \r
    assert sum(line.startswith("error: ") for line in lines) == 1, stderr
    assert lines[-1].startswith("error: "), stderr
    return lines[-1]


def assert_nothing_kept(kaggle) -> None:
    downloads = kaggle.data / "downloads"
    assert not (downloads / "celebrity-faces").exists()
    assert not (downloads / "celebrity-faces.partial").exists()
    assert not (kaggle.data / "cache").exists() or not any((kaggle.data / "cache").iterdir())


# ---------------------------------------------------------------- success


def test_prepare_data_downloads_unzips_and_prepares_the_celebrity_faces(kaggle, capsys):
    give_token_file(kaggle)
    status, out, err = run_prepare(capsys)
    assert status == 0, err
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("celebrity-faces: 34 train + 17 val images, 32 px, 17 classes -> "), summary
    prepared = load_prepared(summary.split(" -> ")[-1])
    assert prepared.class_names == sorted(CELEBRITIES)  # one class per folder, in scan_folder's order
    assert prepared.train_images.shape == (34, 32, 32, 3) and prepared.val_images.shape == (17, 32, 32, 3)
    assert prepared.class_counts("train") == {name: 2 for name in CELEBRITIES}
    assert prepared.class_counts("val") == {name: 1 for name in CELEBRITIES}
    assert prepared.meta["source"] == {"kaggle": REF}

    downloads = kaggle.data / "downloads"
    assert [p.name for p in downloads.iterdir()] == ["celebrity-faces"]  # renamed from .partial
    assert [p.name for p in (downloads / "celebrity-faces").iterdir()] == [TOP_FOLDER]  # zip deleted
    assert len(list((downloads / "celebrity-faces" / TOP_FOLDER).iterdir())) == 17

    check, ask, fetch = kaggle.server.seen
    assert (check.path, check.body) == ("/v1/security.OAuthService/IntrospectToken", {"token": TOKEN})
    assert (ask.path, ask.body) == ("/v1/datasets.DatasetApiService/DownloadDataset", {"ownerSlug": OWNER, "datasetSlug": SLUG})
    assert ask.headers["Authorization"] == f"Bearer {TOKEN}"
    assert fetch.method == "GET" and fetch.path.startswith(STORAGE_PATH)  # the 302, followed

    status, out, err = run_prepare(capsys, "--force")  # prepares again from the download: no request
    assert status == 0, err
    assert len(kaggle.server.seen) == 3


@pytest.mark.parametrize("how", ["KAGGLE_API_TOKEN", "KAGGLE_USERNAME and KAGGLE_KEY"])
def test_other_credentials_reach_the_download(kaggle, monkeypatch, how):
    give_credentials(kaggle, monkeypatch, how)
    folder = kaggle_source.download("celebrity-faces", kaggle.data / "downloads" / "celebrity-faces")
    assert sorted(p.name for p in (folder / TOP_FOLDER).iterdir()) == sorted(CELEBRITIES)
    ask = next(s for s in kaggle.server.seen if s.path.endswith("/DownloadDataset"))
    basic = base64.b64encode(f"{USERNAME}:{KEY}".encode()).decode()
    assert ask.headers["Authorization"] == (f"Bearer {TOKEN}" if how == "KAGGLE_API_TOKEN" else f"Basic {basic}")


def test_a_download_cut_once_is_resumed_by_kaggle(kaggle, monkeypatch):
    give_credentials(kaggle, monkeypatch, "KAGGLE_API_TOKEN")
    kaggle.server.mode = "cut-once"
    folder = kaggle_source.download("celebrity-faces", kaggle.data / "downloads" / "celebrity-faces")
    assert len(list((folder / TOP_FOLDER).iterdir())) == 17
    assert len(kaggle.waits) == 1 and len(kaggle.server.paths("GET")) == 2  # one wait, one retry


# ---------------------------------------------------------------- failures, one line each


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("token-inactive", [kaggle_source.TOKEN_REFUSED_HELP]),
        ("token-401", ["HTTP 401", "check your token", "https://www.kaggle.com/settings/api"]),
        ("download-401", ["HTTP 401", "check your token", "https://www.kaggle.com/settings/api"]),
        ("download-403", ["HTTP 403", "accept the data set's rules", f"https://www.kaggle.com/datasets/{REF}"]),
    ],
)
def test_a_refusal_is_one_line_saying_what_to_do(kaggle, capsys, mode, expected):
    give_token_file(kaggle)
    kaggle.server.mode = mode
    status, out, err = run_prepare(capsys)
    assert status == 2
    assert err.count("\n") == 1, err  # nothing but the one line: no banner, no traceback
    line = the_error_line(err)
    assert all(part in line for part in expected), line
    assert "run this again" in line
    assert_nothing_kept(kaggle)


@pytest.mark.parametrize("how", ["access_token file", "KAGGLE_USERNAME and KAGGLE_KEY"])
def test_no_connection_says_offline(kaggle, capsys, monkeypatch, how):
    """A token is checked before the download, a legacy key is not: both fail as 'offline?'."""
    give_credentials(kaggle, monkeypatch, how)
    kaggle.server.stop()  # nothing listens on its port now: connection refused
    status, out, err = run_prepare(capsys)
    assert status == 2
    line = the_error_line(err)
    assert err.count("\n") == 1, err
    assert line.startswith(f"error: could not reach Kaggle to download {REF} (offline?)")
    assert "--dataset folder --path DIR" in line
    assert_nothing_kept(kaggle)


def test_a_download_cut_off_half_way_is_never_taken_for_finished(kaggle, capsys):
    give_token_file(kaggle)
    kaggle.server.mode = "cut"
    status, out, err = run_prepare(capsys)
    assert status == 2
    line = the_error_line(err)
    assert line.startswith(f"error: the download of {REF} was cut off before the end")
    assert "run this again to download it afresh" in line
    assert len(kaggle.waits) == 5 and len(kaggle.server.paths("GET")) == 6  # kaggle retried 5 times
    assert_nothing_kept(kaggle)

    kaggle.server.mode = "normal"
    requests_before = len(kaggle.server.seen)
    status, out, err = run_prepare(capsys)
    assert status == 0, err
    assert "17 classes" in out.strip().splitlines()[-1]
    fresh = [s for s in kaggle.server.seen[requests_before:] if s.method == "GET"]
    assert len(fresh) == 1 and "Range" not in fresh[0].headers  # the whole archive again, from byte 0
    assert not (kaggle.data / "downloads" / "celebrity-faces.partial").exists()


@pytest.mark.parametrize(
    "error",
    [
        ValueError("Downloaded file size (4013) does not match expected size (8026)"),  # urllib3 1.x
        type("ChunkedEncodingError", (OSError,), {"__module__": "requests.exceptions"})(
            "('Connection broken: IncompleteRead(4013 bytes read, 401 more expected)')"
        ),
    ],
)
def test_a_cut_off_stream_is_not_read_as_an_http_status(error):
    message = kaggle_source._explain(REF, error)
    assert message.startswith(f"the download of {REF} was cut off") and "HTTP" not in message


@pytest.mark.parametrize("progress", [True, False])
def test_no_progress_also_silences_kaggles_own_bar(kaggle, monkeypatch, capsys, progress):
    give_credentials(kaggle, monkeypatch, "KAGGLE_API_TOKEN")
    kaggle_source.download("celebrity-faces", kaggle.data / "downloads" / "celebrity-faces", progress=progress)
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert ("Downloading" in printed) == progress, printed


# ---------------------------------------------------------------- kagglehub (a Kaggle notebook) and --path


@pytest.fixture
def kagglehub(tmp_path, monkeypatch):
    """The ``kagglehub`` stand-in on the import path, serving the data set from a local folder."""
    mounted = celebrity_folder(tmp_path / "mounted")
    asked = tmp_path / "asked.txt"
    write_kagglehub_standin(tmp_path / "site", {REF: mounted}, asked)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "kagglehub", raising=False)
    monkeypatch.setenv("MASKGIT_DATA_DIR", str(tmp_path / "data"))
    _guard_sockets(monkeypatch)  # a folder already there needs no network
    return SimpleNamespace(mounted=mounted, asked=asked, data=tmp_path / "data")


def test_kagglehub_gives_the_folder_and_prepare_data_reads_it_without_downloading(kagglehub, capsys):
    folder = kaggle_source.kagglehub_download("celebrity-faces")
    assert folder == kagglehub.mounted and kagglehub.asked.read_text().split() == [REF]
    status, out, err = run_prepare(capsys, "--path", str(folder))
    assert status == 0, err
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("celebrity-faces: 34 train + 17 val images, 32 px, 17 classes -> "), summary
    prepared = load_prepared(summary.split(" -> ")[-1])
    assert prepared.class_names == sorted(CELEBRITIES)
    assert prepared.meta["source"] == {"kaggle": REF, "path": str(folder)}
    assert not (kagglehub.data / "downloads").exists(), "downloaded although the folder was given"
    # the same data set wherever it lies: the token path (no --path) finds this cache, downloads nothing
    status, again, _ = run_prepare(capsys)
    assert status == 0 and again.strip().splitlines()[-1] == summary
    assert not (kagglehub.data / "downloads").exists()


def test_kagglehub_errors_are_one_line(kagglehub, monkeypatch):
    with pytest.raises(kaggle_source.KaggleError, match="unknown Kaggle data set 'faces'"):
        kaggle_source.kagglehub_download("faces")
    import kagglehub as standin

    monkeypatch.setitem(kaggle_source.KAGGLE_DATASETS, "celebrity-faces", "someone/else")  # the stand-in refuses it
    with pytest.raises(kaggle_source.KaggleError) as error:
        kaggle_source.kagglehub_download("celebrity-faces")
    message = str(error.value)
    assert "\n" not in message and "ValueError" in message and "Settings → Internet" in message, message
    monkeypatch.setattr(standin, "dataset_download", lambda handle: str(kagglehub.mounted / "missing"))
    monkeypatch.setitem(kaggle_source.KAGGLE_DATASETS, "celebrity-faces", REF)
    with pytest.raises(kaggle_source.KaggleError, match="which is not a folder"):
        kaggle_source.kagglehub_download("celebrity-faces")
    monkeypatch.setitem(sys.modules, "kagglehub", None)  # not installed
    with pytest.raises(kaggle_source.KaggleError, match=r"not installed; run: pip install kagglehub$"):
        kaggle_source.kagglehub_download("celebrity-faces")


def test_on_kaggle_reads_the_kernel_variable(monkeypatch):
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    assert not kaggle_source.on_kaggle()
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    assert kaggle_source.on_kaggle()


def test_a_path_that_is_no_folder_or_a_path_for_avatars_is_refused(kagglehub, capsys):
    status, _, err = run_prepare(capsys, "--path", str(kagglehub.mounted / "nothing-here"))
    assert status != 0 and "is not a folder" in the_error_line(err)
    status = cli.main(["prepare-data", "--profile", "fast", "--dataset", "avatars", "--path", str(kagglehub.mounted)])
    assert status != 0 and "avatars are rendered" in the_error_line(capsys.readouterr().err)
    assert not (kagglehub.data / "downloads").exists() and not (kagglehub.data / "cache").exists()
