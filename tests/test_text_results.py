"""tools/text_results.py assembles its JSON from the library's measurements: one row per guidance
scale, checkpoints ordered by their step, and the command that reproduces the file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from maskgit_lib.checkpoint import save_checkpoint

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

import text_results  # noqa: E402


def _report(cfg_scale=0.0, **_):
    faith = {"per_attribute": {"style": {"accuracy": 0.5 + cfg_scale / 20, "n": 4}}, "all_right": 0.25 + cfg_scale / 40}
    return {"fid": 30.0 + cfg_scale, "kid": 0.01, "fid_floor": 10.0, "kid_floor": 0.001, "seconds": 1.0, "conditioning": "prefix",
            "faithfulness": {**faith, "ceiling": {"per_attribute": {"style": {"accuracy": 1.0}}, "all_right": 0.9}}}


def test_sweep_writes_one_row_per_scale_with_the_ceiling_and_its_command(tmp_path, monkeypatch):
    monkeypatch.setattr(text_results, "evaluate_text_transformer", lambda path, **kw: _report(**kw))
    out = tmp_path / "sweep.json"
    assert text_results.main(["sweep", "--checkpoint", "m.ckpt", "--scales", "0,2,8", "--n", "4", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [r["cfg_scale"] for r in report["rows"]] == [0, 2, 8] and [r["fid"] for r in report["rows"]] == [30, 32, 38]
    assert report["ceiling"] == {"all_right": 0.9, "per_attribute": {"style": 1.0}} and report["fid_floor"] == 10.0
    assert report["command"] == f"python tools/text_results.py sweep --checkpoint m.ckpt --scales 0,2,8 --n 4 --out {out}"


def test_over_training_orders_checkpoints_by_their_step(tmp_path, monkeypatch):
    paths = []
    for step in (750, 250, 500):
        save_checkpoint(tmp_path / f"c{step}.ckpt", {"step": step})
        paths.append(str(tmp_path / f"c{step}.ckpt"))
    asked = []
    def held(path, cfg_scale=0.0, **kw):
        asked.append(Path(path).name)
        acc = {"attribute_accuracy": 0.5}
        return {"pairs": [{"pair": "style=micah & hat=yes", "held_out": acc, "seen": acc, "ceiling": acc}]}
    monkeypatch.setattr(text_results, "held_out_faithfulness", held)
    report = text_results.over_training(paths, n=4)
    assert [r["step"] for r in report["rows"]] == [250, 500, 750] and asked == ["c250.ckpt", "c500.ckpt", "c750.ckpt"]
    scales = text_results.over_training(paths[:1], n=4, scales=(0.0, 2.0))["rows"]
    assert [(r["step"], r["cfg_scale"]) for r in scales] == [(750, 0.0), (750, 2.0)]


def test_compare_says_which_weights_each_checkpoint_holds(tmp_path, monkeypatch):
    monkeypatch.setattr(text_results, "evaluate_text_transformer", lambda path, **kw: _report(**kw))
    summary = {"val_loss": 3.2, "val_loss_ema": 3.1}  # the run's, kept by maskgit export --summary
    save_checkpoint(tmp_path / "trained.ckpt", {"step": 3800, "summary": summary})
    save_checkpoint(tmp_path / "ema.ckpt", {"step": 3800, "weights": "EMA, decay 0.998, over 1800 steps", "summary": summary})
    out = tmp_path / "compare.json"
    paths = [str(tmp_path / "trained.ckpt"), str(tmp_path / "ema.ckpt")]
    assert text_results.main(["compare", *paths, "--n", "4", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["step"], r["weights"], r["val_loss"]) for r in rows] == [
        (3800, "trained", 3.2), (3800, "EMA, decay 0.998, over 1800 steps", 3.1)]
