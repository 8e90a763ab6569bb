"""The attribute classifier learns, and faithfulness counts right answers (and wrong ones)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maskgit_lib.evaluation.attribute_classifier import (
    AttributeClassifier,
    accuracy_table,
    load_attribute_classifier,
    readable_attributes,
    save_attribute_classifier,
)
from maskgit_lib.evaluation.faithfulness import FaithfulnessError, faithfulness

VALUES = {"style": ["micah", "lorelei"], "glasses": ["none", "light", "dark"], "hat": ["no", "yes"]}


def test_loss_goes_down_on_a_fixed_batch_and_undefined_targets_add_nothing():
    torch.manual_seed(0)
    model = AttributeClassifier(VALUES, channels=8)
    images = torch.rand(16, 3, 32, 32) * 2 - 1  # (B, 3, H, W)
    targets = torch.stack([torch.randint(0, 2, (16,)), torch.randint(0, 3, (16,)), torch.full((16,), -1)], 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = model.loss(images, targets).item()
    for _ in range(60):
        loss = model.loss(images, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.3 * first
    assert model.heads["hat"].weight.grad is None  # every hat target was -1: no loss, no gradient


class Oracle(AttributeClassifier):
    """A classifier whose answers are set by hand: logits from a fixed table of value indices."""

    def __init__(self, answers: np.ndarray):
        super().__init__(VALUES, channels=4)
        self.answers = torch.as_tensor(answers)  # (N, A)

    def forward(self, images):
        rows = self.answers[images[:, 0, 0, 0].round().long()]  # image i carries its index in pixel (0, 0, 0)
        return {n: torch.nn.functional.one_hot(rows[:, k], len(v)).float() for k, (n, v) in enumerate(VALUES.items())}


def indexed_images(n: int) -> torch.Tensor:
    images = torch.zeros(n, 3, 32, 32)
    images[:, 0, 0, 0] = torch.arange(n).float()
    return images


def test_faithfulness_counts_right_on_a_hand_made_case():
    answers = np.array([[0, 2, 1], [1, 0, 0], [0, 1, 0], [1, 2, 1]])  # what the classifier reads
    requested = [
        {"style": "micah", "glasses": "dark"},  # both right
        {"style": "lorelei", "glasses": "light"},  # glasses wrong
        {"style": "micah", "hat": "no"},  # both right
        {"style": "micah", "glasses": "dark", "hat": "yes"},  # style wrong
    ]
    score = faithfulness(Oracle(answers), indexed_images(4), requested)
    assert score["per_attribute"]["style"] == {"accuracy": 0.75, "n": 4}
    assert score["per_attribute"]["glasses"] == {"accuracy": round(2 / 3, 4), "n": 3}
    assert score["per_attribute"]["hat"] == {"accuracy": 1.0, "n": 2}
    assert score["all_right"] == 0.5 and score["n_images"] == 4


def test_faithfulness_fails_wrong_answers_and_refuses_bad_requests():
    wrong = np.array([[1, 0, 1]])  # reads lorelei, no glasses, a hat
    score = faithfulness(Oracle(wrong), indexed_images(1), [{"style": "micah", "glasses": "dark", "hat": "no"}])
    assert score["all_right"] == 0.0 and all(v["accuracy"] == 0.0 for v in score["per_attribute"].values())
    with pytest.raises(FaithfulnessError, match="does not read 'beard'"):
        faithfulness(Oracle(wrong), indexed_images(1), [{"beard": "yes"}])
    with pytest.raises(FaithfulnessError, match="glasses='pink'"):
        faithfulness(Oracle(wrong), indexed_images(1), [{"glasses": "pink"}])
    with pytest.raises(FaithfulnessError, match="one request per image"):
        faithfulness(Oracle(wrong), indexed_images(1), [])


def test_balanced_accuracy_sees_through_a_classifier_that_always_says_none():
    truth = np.array([[0]] * 9 + [[2]])  # 9 without glasses, 1 with sunglasses
    always_none = np.zeros_like(truth)
    table = accuracy_table(always_none, truth, ["glasses"], {"glasses": VALUES["glasses"]})
    assert table["glasses"]["accuracy"] == 0.9 and table["glasses"]["balanced_accuracy"] == 0.5
    assert readable_attributes(table) == []
    undefined = accuracy_table(always_none, np.full_like(truth, -1), ["glasses"], {"glasses": VALUES["glasses"]})
    assert undefined == {}  # never scored where not defined


def test_a_saved_classifier_predicts_the_same(tmp_path):
    torch.manual_seed(0)
    model = AttributeClassifier(VALUES, channels=8).eval()
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    path = save_attribute_classifier(model, tmp_path / "attributes.ckpt")
    again = load_attribute_classifier(path)
    assert again.attribute_values == VALUES
    np.testing.assert_array_equal(again.predict(images), model.predict(images))  # uint8 (N, H, W, 3) accepted


def test_the_captioned_attributes_are_the_ones_the_shipped_classifier_reads():
    """attribute_map.yaml's `captioned` list follows the measurement, and the classifier can score them."""
    import json

    from maskgit_lib.data.attributes import captioned_attributes

    from .conftest import REPO

    report = json.loads((REPO / "results" / "text" / "attribute-classifier-cpu.json").read_text())
    assert captioned_attributes() == report["readable"]
    assert all(report["val"][n]["balanced_accuracy"] >= report["threshold_balanced_accuracy"] for n in report["readable"])
    model = load_attribute_classifier(REPO / "results" / "checkpoints" / "attributes-cpu.ckpt")
    assert set(captioned_attributes()) <= set(model.names)
