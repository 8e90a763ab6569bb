"""`maskgit evaluate` and `maskgit bench` on fast-profile models: what they report, caching, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from maskgit_lib.cli import main
from maskgit_lib.evaluation import evaluate as evaluate_module
from maskgit_lib.evaluation.bench import run_bench, summary_lines
from maskgit_lib.evaluation.evaluate import evaluate_checkpoint
from maskgit_lib.generator.train import TransformerTrainer

from .conftest import fast_tokenizer

N = 6  # Inception features cost ~0.3 s per image on a 2-core CPU


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Fast-profile data, a tokenizer and a Transformer trained for a few steps."""
    root = tmp_path_factory.mktemp("evaluate")
    mp = pytest.MonkeyPatch()
    config, data = fast_tokenizer(root, mp)
    config.train_transformer.batch_size = 8
    TransformerTrainer(config, data=data, run_dir=root / "transformer", progress=False, log=lambda m: None).fit(3)
    yield config, data, root
    mp.undo()


def test_tokenizer_report(trained):
    _, _, root = trained
    report = evaluate_checkpoint(root / "vqgan" / "checkpoints" / "last.ckpt", n=N, device="cpu", progress=False)
    assert report["phase"] == "vqgan" and report["n"] == N
    assert 0 < report["usage"] <= 1 and np.isfinite(report["psnr"])
    assert report["rfid"] > 0 and report["fid_floor"] > 0


def test_generation_report_per_class_with_floors_and_cached_real_features(trained, monkeypatch):
    _, data, root = trained
    path = root / "transformer" / "checkpoints" / "last.ckpt"
    report = evaluate_checkpoint(path, n=N + 2, steps=4, device="cpu", progress=False, memorisation_train=N)
    assert report["phase"] == "transformer" and report["decoding"]["steps"] == 4
    memo = report["memorisation"]
    assert memo["n_generated"] == N + 2 and memo["n_train"] == len(data.train_images) and memo["inception"]["n_train"] == N
    for space in ("inception", "pixels"):
        assert 0 <= memo[space]["near_copy_share"] <= 1 and memo[space]["threshold"] >= 0
        assert len(memo[space]["nearest_train_index"]) == N + 2
        assert all(0 <= i < len(data.train_images) for i in memo[space]["nearest_train_index"])
    assert report["fid"] > 0 and report["fid_floor"] > 0
    labels = np.asarray(data.val_labels[: N + 2])
    expected = {data.class_names[c] for c in range(len(data.class_names)) if (labels == c).sum() >= 2}
    assert set(report["per_class"]) == expected
    assert all(row["floor"] > 0 and row["fid"] > 0 for row in report["per_class"].values())
    assert sorted(p.name.split("-")[1] for p in data.folder.glob("fid-*.npy")).count("val") >= 1
    # a second evaluation computes features for the generated images only
    calls = []
    real = evaluate_module.inception_features
    monkeypatch.setattr(evaluate_module, "inception_features", lambda images, **k: calls.append(len(images)) or real(images, **k))
    again = evaluate_checkpoint(path, n=N + 2, steps=4, device="cpu", progress=False, memorisation_train=N)
    assert calls == [N + 2] and again["fid"] == pytest.approx(report["fid"])


def test_cli_evaluate_writes_json_and_refuses_a_bad_n(trained, tmp_path, capsys):
    _, _, root = trained
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--checkpoint", str(root / "vqgan" / "checkpoints" / "last.ckpt"), "--n", str(N),
                 "--out", str(out), "--device", "cpu", "--no-progress"]) == 0
    assert json.loads(out.read_text())["phase"] == "vqgan" and "rFID" in capsys.readouterr().out
    assert main(["evaluate", "--checkpoint", str(root / "vqgan" / "checkpoints" / "last.ckpt"), "--n", "5000",
                 "--device", "cpu", "--no-progress"]) == 2
    assert "--n must be between 2 and the 16 validation images" in capsys.readouterr().err


def test_cli_ablation_table(trained, tmp_path, capsys):
    _, _, root = trained
    out = tmp_path / "ablation.json"
    assert main(["evaluate", "--checkpoint", str(root / "transformer" / "checkpoints" / "last.ckpt"), "--n", "4",
                 "--steps", "2,4", "--schedule", "cosine,linear", "--order", "confidence,halton", "--out", str(out),
                 "--device", "cpu", "--no-progress"]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["order"], r["schedule"], r["steps"]) for r in rows] == [
        (order, schedule, steps) for order in ("confidence", "halton") for schedule in ("cosine", "linear") for steps in (2, 4)
    ]
    assert all(r["fid"] > 0 and r["images_per_s"] > 0 for r in rows)
    assert "halton     linear     4 steps" in capsys.readouterr().out
    assert main(["evaluate", "--checkpoint", str(out), "--steps", "a,b"]) == 2
    assert main(["evaluate", "--checkpoint", str(out), "--order", "confidence,raster"]) == 2
    assert "--order takes confidence and/or halton" in capsys.readouterr().err


def test_bench_reports_ratios_and_mfu(trained, tmp_path):
    config, _, _ = trained
    out = tmp_path / "benchmarks.json"
    report = run_bench(config, out=out, steps=1, batch_sizes=(2,), device="cpu", progress=False)
    for phase in ("vqgan", "transformer"):
        row = report["training"][phase]
        assert row["bf16_speedup"] == pytest.approx(row["bf16"]["images_per_s"] / row["fp32"]["images_per_s"])
        assert row["fp32"]["step_flops"] > 0 and 0 < row["fp32"]["mfu"] < 2
    sampling = report["sampling"]["batch_2"]
    assert sampling["ratio_maskgit_12_vs_ar"] == pytest.approx(sampling["maskgit_12"] / sampling["autoregressive"])
    saved = json.loads(out.read_text())
    assert set(saved) == {"fast profile on cpu"} and saved["fast profile on cpu"]["sampling"]["tokens"] == 64
    assert len(summary_lines(report)) == 4
