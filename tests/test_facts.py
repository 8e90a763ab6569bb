"""Quoted numbers follow their sources (maskgit_lib/course/facts.py, tools/render_facts.py)."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from maskgit_lib.course.facts import FactError, duration, fact, render

from .conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
import render_facts  # noqa: E402


@pytest.fixture
def copy(tmp_path):
    """A temporary copy of the sources the tests change."""
    for name in ("results/run_times.json", "results/eval/transformer-cpu.json", "maskgit_lib/configs/cpu.yaml",
                 "results/text/held-out-over-training-cpu.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def test_every_quoted_fact_in_the_repository_is_up_to_date():
    stale = render_facts.stale(REPO, write=False)
    assert stale == [], f"out of date: {[str(p.relative_to(REPO)) for p in stale]}; run `make facts`, then `make learner`"


def test_the_text_follows_a_changed_run_time(copy):
    text = "Header.\n\n**Run time:** <!-- fact: run-time 05 -->old words<!-- /fact -->\n\n| 05 | <!-- fact: run-time-short 05 -->?<!-- /fact --> |"
    times = json.loads((copy / "results/run_times.json").read_text())
    times["notebooks"]["05"]["reference-cpu"] = 95
    (copy / "results/run_times.json").write_text(json.dumps(times))
    out = render(text, copy)
    assert "**Run time:** <!-- fact: run-time 05 -->1 min 35 s on the reference 2-core x86_64 CPU" in out and "| 05 | <!-- fact: run-time-short 05 -->1 min 35 s<!-- /fact --> |" in out
    assert out.startswith("Header.") and "old words" not in out
    times["notebooks"]["05"]["reference-cpu"] = None
    (copy / "results/run_times.json").write_text(json.dumps(times))
    assert "not measured on" in render(text, copy)

def test_a_training_time_from_a_slow_day_carries_its_scaled_estimate(copy):
    text = "<!-- fact: run-time 08 -->?<!-- /fact -->"
    times = json.loads((copy / "results/run_times.json").read_text())
    times["train"]["08"]["reference-cpu"] = 4620
    times["train"]["08"]["pace"] = {"seconds_at_04_pace": 2250}
    (copy / "results/run_times.json").write_text(json.dumps(times))
    assert "`TRAIN = True` adds 1 h 17 min (a slow day; about 37 min at 04" in render(text, copy)
    del times["train"]["08"]["pace"]
    (copy / "results/run_times.json").write_text(json.dumps(times))
    assert "`TRAIN = True` adds 1 h 17 min;" in render(text, copy)



def test_the_text_follows_a_changed_result_and_config(copy):
    result = json.loads((copy / "results/eval/transformer-cpu.json").read_text())
    result["fid"] = 12.3456
    (copy / "results/eval/transformer-cpu.json").write_text(json.dumps(result))
    text = "FID <!-- fact: results/eval/transformer-cpu.json#fid .2f -->29.41<!-- /fact --> at 12 steps"
    assert render(text, copy) == "FID <!-- fact: results/eval/transformer-cpu.json#fid .2f -->12.35<!-- /fact --> at 12 steps"
    yaml_text = (copy / "maskgit_lib/configs/cpu.yaml").read_text()
    steps = fact("maskgit_lib/configs/cpu.yaml#train_transformer.max_steps", copy)
    (copy / "maskgit_lib/configs/cpu.yaml").write_text(yaml_text.replace(f"max_steps: {steps}", "max_steps: 12345", 1))
    assert fact("maskgit_lib/configs/cpu.yaml#train_transformer.max_steps ,", copy) == "12,345"


def test_a_notebook_renders_through_the_tool(copy):
    notebook = {"cells": [{"cell_type": "markdown", "id": "0", "metadata": {},
                           "source": ["# 05\n", "<!-- fact: run-time-short 05 -->?<!-- /fact -->"]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (copy / "notebooks").mkdir()
    path = copy / "notebooks" / "05_x.ipynb"
    path.write_text(json.dumps(notebook))
    assert render_facts.stale(copy, write=True) == [path]
    expected = f"<!-- fact: run-time-short 05 -->{fact('run-time-short 05', copy)}<!-- /fact -->"
    assert "".join(json.loads(path.read_text())["cells"][0]["source"]) == "# 05\n" + expected
    assert render_facts.stale(copy, write=False) == []


@pytest.mark.parametrize("spec, words", [
    ("results/eval/nothing.json#fid", "does not exist"),
    ("results/eval/transformer-cpu.json#fidd", "no 'fidd'"),
    ("run-time 42", "not in results/run_times.json"),
    ("speed 05", "unknown fact"),
])
def test_a_bad_spec_says_what_is_wrong_in_one_line(copy, spec, words):
    with pytest.raises(FactError, match=words) as error:
        fact(spec, copy)
    assert "\n" not in str(error.value)


def test_durations_read_like_a_person_writes_them():
    assert [duration(s) for s in (7, 60, 95, 232, 1186, 2160, 5400)] == \
        ["7 s", "1 min", "1 min 35 s", "3 min 52 s", "19 min 46 s", "36 min", "1 h 30 min"]


def test_the_course_total_names_the_notebooks_not_measured(copy):
    times = json.loads((copy / "results" / "run_times.json").read_text())
    for entry in times["notebooks"].values():
        entry["reference-cpu"] = 60
    first = next(iter(times["notebooks"]))
    (copy / "results" / "run_times.json").write_text(json.dumps(times))
    n = len(times["notebooks"])
    assert fact("run-time-total", copy) == duration(60 * n)
    times["notebooks"][first]["reference-cpu"] = None
    (copy / "results" / "run_times.json").write_text(json.dumps(times))
    assert fact("run-time-total", copy) == f"{duration(60 * (n - 1))} (notebook {first} not measured)"


def test_ratio_and_percent_of_compare_two_quoted_numbers(copy):
    result = json.loads((copy / "results/eval/transformer-cpu.json").read_text())
    result["fid"], result["fid_floor"] = 30.0, 12.0
    (copy / "results/eval/transformer-cpu.json").write_text(json.dumps(result))
    pair = "results/eval/transformer-cpu.json#fid_floor results/eval/transformer-cpu.json#fid"
    assert fact(f"percent-of {pair}", copy) == "40 %"
    assert fact("ratio " + " ".join(reversed(pair.split())), copy) == "2.5×"


def test_count_quotes_how_many_rows_a_results_file_holds(copy):
    path = copy / "results/text/held-out-over-training-cpu.json"
    trail = json.loads(path.read_text())
    assert fact("results/text/held-out-over-training-cpu.json#rows count", copy) == str(len(trail["rows"]))
    trail["rows"] = trail["rows"][:2]
    path.write_text(json.dumps(trail))
    assert fact("results/text/held-out-over-training-cpu.json#rows count", copy) == "2"


def test_params_counts_a_text_model_too():
    from maskgit_lib.text.conditioned import load_text_transformer

    model, _, _ = load_text_transformer(REPO / "results/checkpoints/transformer-text-cpu.ckpt")
    assert fact("params transformer-text-cpu") == f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M"
