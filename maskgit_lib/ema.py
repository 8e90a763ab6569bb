"""An exponential moving average (EMA) of a model's weights, kept beside the trained ones.

Why: with a learning rate still well above zero, the weights after any one step carry that step's
noise; their running average ``ema ← d·ema + (1−d)·weights`` sits nearer the middle of the valley the
optimiser is bouncing around in. The official MaskGIT config samples from such an average (decay
0.9999 over a million steps) and so does valeoai's v2. Training is untouched: the average is a shadow
copy that no gradient reaches, so a run with it follows exactly the run without it.

The decay warms up, ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so the first steps'
random weights do not linger in the average for thousands of steps (a decay of 0.999 remembers about
1,000 steps; a run of a few thousand steps cannot afford 0.9999).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


def ema_decay_at(updates: int, decay: float) -> float:
    """The decay used for the ``updates``-th update (1, 2, …): warmed up, capped at ``decay``."""
    return min(decay, (1 + updates) / (10 + updates))


class WeightAverage:
    """A frozen copy of ``model`` whose parameters follow the trained ones as a moving average.

    Buffers (not trained, e.g. a codebook's usage counts) are copied as they are.
    """

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"an EMA decay must be between 0 and 1 (e.g. 0.999), not {decay}")
        self.decay, self.updates = decay, 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One step of the average towards ``model``'s current weights."""
        self.updates += 1
        weight = 1.0 - ema_decay_at(self.updates, self.decay)
        for average, current in zip(self.model.parameters(), model.parameters(), strict=True):
            average.lerp_(current.detach().to(average.dtype), weight)
        for average, current in zip(self.model.buffers(), model.buffers(), strict=True):
            average.copy_(current)

    def restart_from(self, model: nn.Module) -> None:
        """Start the average afresh from ``model``'s weights (a run that turns the EMA on midway)."""
        self.model.load_state_dict(model.state_dict())
        self.updates = 0

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "updates": self.updates, "model": self.model.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])
