"""A stand-in for Kaggle's API, serving one data set the way Kaggle does, for the download tests;
and a stand-in for ``kagglehub`` (:func:`write_kagglehub_standin`), as a Kaggle notebook has it.

What the ``kaggle`` package (2.x, on ``kagglesdk``) sends for ``dataset_download_files``, and so
what this server answers (paths as on ``https://api.kaggle.com``):

1. ``POST /v1/security.OAuthService/IntrospectToken``, JSON ``{"token": ...}``, header
   ``Authorization: Bearer <token>``: the check of a token from ``KAGGLE_API_TOKEN`` or
   ``~/.kaggle/access_token`` (on ``import kaggle`` and again in ``authenticate()``). The answer
   ``{"active": true, "username": ...}`` accepts it; ``{"active": false}`` does not.
   ``KAGGLE_USERNAME`` / ``KAGGLE_KEY`` are not checked; they travel as HTTP basic auth.
2. ``POST /v1/datasets.DatasetApiService/DownloadDataset``, JSON ``{"ownerSlug": ...,
   "datasetSlug": ...}``: refused as ``{"code": 401|403, "message": ...}``, or a 302 to a signed
   storage URL, which ``requests`` follows with a GET.
3. ``GET`` of the archive: ``Content-Length``, ``Last-Modified``, ``ETag``, ``Accept-Ranges: bytes``;
   the client checks the length, retries a dropped connection with ``Range: bytes=N-``, writes
   ``<slug>.zip``, unzips it and deletes it.

:attr:`KaggleStandIn.mode` picks the answer: ``normal``; ``token-inactive`` and ``token-401`` (the
token check says no); ``download-401`` and ``download-403`` (the download request is refused);
``cut`` (every archive response promises the whole length, sends half and closes the connection)
and ``cut-once`` (only the first). For "connection refused", :meth:`KaggleStandIn.stop` it.

Bound to 127.0.0.1 on a free port. Not 7777 with ``KAGGLE_API_ENVIRONMENT=TEST``: ``KaggleApi``
always hands ``kagglesdk`` an explicit environment (production, or ``http://localhost`` on port 80
for ``LOCALHOST``), so ``TEST`` is never read; the tests point the production entry of kagglesdk's
endpoint table at :attr:`KaggleStandIn.url` instead.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import zipfile
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

OWNER, SLUG = "vishesh1412", "celebrity-face-image-dataset"
TOP_FOLDER = "Celebrity Faces Dataset"  # the real archive's one top folder
CELEBRITIES = (
    "Angelina Jolie", "Brad Pitt", "Denzel Washington", "Hugh Jackman", "Jennifer Lawrence",
    "Johnny Depp", "Kate Winslet", "Leonardo DiCaprio", "Megan Fox", "Natalie Portman",
    "Nicole Kidman", "Robert Downey Jr", "Sandra Bullock", "Scarlett Johansson", "Tom Cruise",
    "Tom Hanks", "Will Smith",
)  # fmt: skip
PHOTO_SIZES_PX = ((48, 64), (72, 40), (40, 56))  # (width, height): non-square, like the real photos
STORAGE_PATH = "/kaggle-data-sets/3001/4001/bundle/archive.zip"


def celebrity_archive(photos_per_class: int = len(PHOTO_SIZES_PX)) -> bytes:
    """The data set's zip: ``Celebrity Faces Dataset/<name>/<nnn>.jpg``, small random JPEGs."""
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in CELEBRITIES:
            for index in range(photos_per_class):
                width, height = PHOTO_SIZES_PX[index % len(PHOTO_SIZES_PX)]
                pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)  # (H, W, 3)
                jpeg = io.BytesIO()
                Image.fromarray(pixels).save(jpeg, format="JPEG", quality=80)
                archive.writestr(f"{TOP_FOLDER}/{name}/{index + 1:03d}.jpg", jpeg.getvalue())
    return buffer.getvalue()


def celebrity_folder(dest: Path, photos_per_class: int = len(PHOTO_SIZES_PX)) -> Path:
    """The data set unzipped into ``dest``, as Kaggle mounts it in a notebook (and ``kaggle`` unzips it)."""
    with zipfile.ZipFile(io.BytesIO(celebrity_archive(photos_per_class))) as archive:
        archive.extractall(dest)
    return dest


KAGGLEHUB_STANDIN = '''"""Stand-in for kagglehub (tests/kaggle_standin.py): a Kaggle notebook's data set, already attached."""
from pathlib import Path

FOLDERS = {folders!r}  # handle -> where the data set lies
ASKED = Path({asked!r})  # one handle per line, in the order asked


def dataset_download(handle, path=None, force_download=False):
    with ASKED.open("a") as asked:
        asked.write(handle + "\\n")
    if handle not in FOLDERS:
        raise ValueError(f"kagglehub stand-in: no data set {{handle}}")
    return FOLDERS[handle]
'''


def write_kagglehub_standin(site: Path, folders: dict[str, Path], asked: Path) -> Path:
    """A ``kagglehub`` package in ``site`` (put it on ``PYTHONPATH``) whose ``dataset_download(handle)``
    returns ``folders[handle]`` and appends the handle to ``asked``; an unknown handle raises."""
    package = site / "kagglehub"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        KAGGLEHUB_STANDIN.format(folders={h: str(f) for h, f in folders.items()}, asked=str(asked)))
    return package


@dataclass
class Seen:
    """One request the stand-in answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict


class KaggleStandIn:
    """The server; set :attr:`mode` (see the module docstring) before the client calls it."""

    def __init__(self, archive: bytes, token: str, username: str, key: str):
        self.archive, self.token, self.username, self.key = archive, token, username, key
        self.mode = "normal"
        self.seen: list[Seen] = []
        self.cuts = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads, self._server.block_on_close = True, False
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> KaggleStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering: the port is closed afterwards, so a client gets 'connection refused'."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def paths(self, method: str | None = None) -> list[str]:
        return [s.path for s in self.seen if method in (None, s.method)]

    def signed_in(self, authorization: str) -> bool:
        basic = base64.b64encode(f"{self.username}:{self.key}".encode()).decode()
        return authorization in (f"Bearer {self.token}", f"Basic {basic}")


def _handler_for(standin: KaggleStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep the test output clean
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            standin.seen.append(Seen("POST", self.path, dict(self.headers), body))
            if self.path == "/v1/security.OAuthService/IntrospectToken" and standin.mode == "token-401":
                self._json(401, {"code": 401, "message": "Unauthenticated"})
            elif self.path == "/v1/security.OAuthService/IntrospectToken":
                active = body.get("token") == standin.token and standin.mode != "token-inactive"
                self._json(200, {"active": True, "username": standin.username} if active else {"active": False})
            elif self.path == "/v1/datasets.DatasetApiService/DownloadDataset":
                self._download_dataset(body)
            else:
                self._json(404, {"code": 404, "message": f"no such endpoint {self.path}"})

        def _download_dataset(self, body: dict):
            if standin.mode == "download-401" or not standin.signed_in(self.headers.get("Authorization", "")):
                return self._json(401, {"code": 401, "message": "Unauthenticated"})
            if standin.mode == "download-403":
                return self._json(403, {"code": 403, "message": "Permission 'datasets.get' was denied"})
            if (body.get("ownerSlug"), body.get("datasetSlug")) != (OWNER, SLUG):
                return self._json(404, {"code": 404, "message": "Not found"})
            self.send_response(302)
            self.send_header("Location", f"{standin.url}{STORAGE_PATH}?X-Goog-Signature=stand-in")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            standin.seen.append(Seen("GET", self.path, dict(self.headers), {}))
            if self.path.split("?")[0] != STORAGE_PATH:
                return self._json(404, {"code": 404, "message": "Not found"})
            start = self._range_start()
            data = standin.archive[start:]
            self.send_response(206 if start else 200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Last-Modified", formatdate(1_700_000_000, usegmt=True))
            self.send_header("ETag", '"stand-in-1"')
            self.send_header("Accept-Ranges", "bytes")
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(standin.archive) - 1}/{len(standin.archive)}")
            self.end_headers()
            if standin.mode == "cut" or (standin.mode == "cut-once" and standin.cuts == 0):
                standin.cuts += 1
                self.wfile.write(data[: len(data) // 2])  # the promised length, half of it sent
                self.close_connection = True
                return
            self.wfile.write(data)

        def _range_start(self) -> int:
            wanted = self.headers.get("Range", "")
            if not wanted.startswith("bytes=") or self.headers.get("If-Range", '"stand-in-1"') != '"stand-in-1"':
                return 0
            return int(wanted.removeprefix("bytes=").split("-")[0])

        def _json(self, status: int, payload: dict):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
