"""A small CNN that reads an avatar's attributes: the judge of a text-conditioned model's faithfulness.

Why a separate classifier: "does the image show what the caption asked for" needs a reader that is
not the generator. It is trained on real rendered avatars only and never used as a training signal
(a generator trained against its judge learns to fool it). Its accuracy on real validation images is
the ceiling a generated image can reach; an attribute it cannot read at 32 px (balanced accuracy
under ``READABLE_BALANCED_ACCURACY``) is not captioned at all (``captioned`` in attribute_map.yaml).

One shared trunk, one linear head per attribute; an avatar whose attribute is not defined (-1) adds
no loss for that head and is never scored.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from maskgit_lib.checkpoint import load_checkpoint, save_checkpoint
from maskgit_lib.data.attributes import NOT_DEFINED
from maskgit_lib.data.batches import uint8_to_tensor
from maskgit_lib.data.prepared import PreparedData

PHASE = "attribute-classifier"
READABLE_BALANCED_ACCURACY = 0.85  # below this on real val images, an attribute is not captioned


class AttributeClassifier(nn.Module):
    """Images (B, 3, H, W) in [-1, 1] → logits per attribute, ``{name: (B, n_values)}``."""

    def __init__(self, attribute_values: dict[str, list[str]], channels: int = 32, image_size_px: int = 32):
        super().__init__()
        self.attribute_values = {name: list(v) for name, v in attribute_values.items()}
        self.channels, self.image_size_px = channels, image_size_px
        c = channels
        self.trunk = nn.Sequential(  # 32 → 16 → 8 → 4 px
            nn.Conv2d(3, c, 3, padding=1), nn.GELU(),
            nn.Conv2d(c, c, 3, stride=2, padding=1), nn.BatchNorm2d(c), nn.GELU(),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.GELU(),
            nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1), nn.BatchNorm2d(2 * c), nn.GELU(),
            nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1), nn.BatchNorm2d(4 * c), nn.GELU(),
            nn.Flatten(),  # where a feature is matters (glasses on the eyes, a hat on top): no pooling
            nn.Linear(4 * c * (image_size_px // 8) ** 2, 128), nn.GELU(),
        )
        self.heads = nn.ModuleDict({name: nn.Linear(128, len(v)) for name, v in self.attribute_values.items()})

    @property
    def names(self) -> list[str]:
        return list(self.attribute_values)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.trunk(images)  # (B, 128)
        return {name: head(features) for name, head in self.heads.items()}  # {name: (B, V)}

    def loss(self, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean over heads of the cross-entropy; targets (B, A) in ``names`` order, -1 ignored."""
        logits = self(images)
        losses = []
        for column, name in enumerate(self.names):
            target = targets[:, column].long()  # (B,)
            if (target != NOT_DEFINED).any():
                losses.append(F.cross_entropy(logits[name], target, ignore_index=NOT_DEFINED))
        return torch.stack(losses).mean()

    @torch.no_grad()
    def predict(self, images: torch.Tensor | np.ndarray, batch_size: int = 512) -> np.ndarray:
        """(N, A) int64 predicted value indices; ``images`` uint8 (N, H, W, 3) or float (N, 3, H, W) in [-1, 1]."""
        was_training = self.training
        self.eval()
        rows = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            pixels = uint8_to_tensor(chunk) if _is_uint8_hwc(chunk) else torch.as_tensor(chunk).float()
            logits = self(pixels)
            rows.append(torch.stack([logits[n].argmax(-1) for n in self.names], dim=1))  # (b, A)
        self.train(was_training)
        return torch.cat(rows).numpy()


def _is_uint8_hwc(images: Any) -> bool:
    return images.dtype in (np.uint8, torch.uint8) and images.shape[-1] == 3


def accuracy_table(predicted: np.ndarray, targets: np.ndarray, names: list[str], values: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    """Per attribute: accuracy, balanced accuracy (mean recall over the values present) and n scored.

    Balanced accuracy is the readability test: with 90 % of avatars wearing no glasses, a classifier
    that never sees glasses scores 90 % plain accuracy but 50 % balanced.
    """
    table = {}
    for column, name in enumerate(names):
        scored = targets[:, column] != NOT_DEFINED
        truth, guess = targets[scored, column], predicted[scored, column]
        if not scored.any():
            continue
        recalls = [float((guess[truth == v] == v).mean()) for v in np.unique(truth)]
        table[name] = {
            "accuracy": round(float((guess == truth).mean()), 4),
            "balanced_accuracy": round(float(np.mean(recalls)), 4),
            "n": int(scored.sum()),
            "values_seen": [values[name][int(v)] for v in np.unique(truth)],
        }
    return table


def train_attribute_classifier(
    data: PreparedData,
    names: list[str] | None = None,
    steps: int = 3000,
    batch_size: int = 128,
    lr: float = 2e-3,
    channels: int = 32,
    seed: int = 0,
    time_limit_s: float | None = None,
    log_every: int = 250,
) -> tuple[AttributeClassifier, list[dict[str, float]]]:
    """Train on ``data``'s real training avatars; returns the model and its loss log.

    ``names``: the attributes to read (default: every recorded one, so the measurement can decide
    which are captioned). Batches are a pure function of ``seed`` and the step.
    """
    names = names if names is not None else list(data.meta["attributes"]["names"])
    values = {n: data.meta["attributes"]["values"][n] for n in names}
    targets = torch.from_numpy(data.attribute_table("train", names).astype(np.int64))  # (N, A)
    torch.manual_seed(seed)
    model = AttributeClassifier(values, channels=channels, image_size_px=data.image_size_px)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    generator = torch.Generator().manual_seed(seed)
    log, started = [], time.perf_counter()
    for step in range(steps):
        index = torch.randint(len(targets), (batch_size,), generator=generator)  # (B,)
        loss = model.loss(uint8_to_tensor(data.train_images[index.numpy()]), targets[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % log_every == 0 or step == steps - 1:
            log.append({"step": step, "loss": round(loss.item(), 4), "seconds": round(time.perf_counter() - started, 1)})
        if time_limit_s is not None and time.perf_counter() - started > time_limit_s:
            log.append({"step": step, "loss": round(loss.item(), 4), "stopped": "time limit"})
            break
    return model.eval(), log


def validation_accuracy(model: AttributeClassifier, data: PreparedData) -> dict[str, dict[str, float]]:
    """The ceiling: per-attribute accuracy on real validation avatars."""
    targets = data.attribute_table("val", model.names)
    return accuracy_table(model.predict(data.val_images), targets, model.names, model.attribute_values)


def readable_attributes(table: dict[str, dict[str, float]], threshold: float = READABLE_BALANCED_ACCURACY) -> list[str]:
    """The attributes read well enough at this size to be captioned and scored."""
    return [name for name, row in table.items() if row["balanced_accuracy"] >= threshold]


def save_attribute_classifier(model: AttributeClassifier, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    payload = {
        "phase": PHASE,
        "config": {"attribute_values": model.attribute_values, "channels": model.channels, "image_size_px": model.image_size_px},
        "model": {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()},  # fp16, as shipped
        **(extra or {}),
    }
    return save_checkpoint(path, payload, compress=True)


def load_attribute_classifier(path: str | Path) -> AttributeClassifier:
    payload = load_checkpoint(path, phase=PHASE)
    model = AttributeClassifier(**payload["config"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in payload["model"].items()})
    return model.eval()
