"""Numbers the course quotes, read from the files that hold them, so prose cannot go stale.

Why: a notebook or page that types "FID 29.41" or "36 minutes" by hand is right until the model, the
profile or the machine changes, and then it is quietly wrong. Here every quoted number names its
source, and one command rewrites the text from it:

    <!-- fact: results/eval/transformer-cpu.json#fid .2f -->29.41<!-- /fact -->
    <!-- fact: maskgit_lib/configs/cpu.yaml#train_transformer.max_steps , -->3,800<!-- /fact -->
    <!-- fact: run-time 05 -->…<!-- /fact -->

The comment is invisible in Jupyter, on GitHub and in the web edition; the text between the two
comments is what a reader sees. ``tools/render_facts.py`` (``make facts``) rewrites every such span in
the notebooks, README and docs, and a test fails when one is out of date. In a code cell, the same
specs print directly: ``print(fact("results/eval/transformer-cpu.json#fid .2f"))``.

A spec is either ``PATH#KEY.KEY.0.KEY FORMAT`` (a JSON or YAML file under the repository; the optional
FORMAT is a Python format spec such as ``.2f`` or ``,``, or ``duration``, ``millions``, ``count`` (a list's
length); a space, not a ``|``, separates it, so a spec can sit in a markdown table) or a named fact
computed from files (``run-time NN``, ``run-time-short NN``, ``run-time-total``, ``train-time NN …``,
``params NAME``, ``ratio SPEC SPEC``, ``percent-of SPEC SPEC``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from maskgit_lib.paths import repo_root

MARK = re.compile(r"<!-- fact: (?P<spec>[^>]+?) -->(?P<value>.*?)<!-- /fact -->", re.S)
RUN_TIMES = "results/run_times.json"


class FactError(ValueError):
    """A fact that cannot be read; the message names the spec and what to fix."""


def _root(root: Path | None) -> Path:
    found = root or repo_root()
    if found is None:
        raise FactError("facts are read from a checkout of the repository; none was found")
    return Path(found)


def _load(path: Path) -> Any:
    if not path.is_file():
        raise FactError(f"fact source {path} does not exist")
    text = path.read_text()
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def _dig(data: Any, keys: str, spec: str) -> Any:
    for key in keys.split("."):
        try:
            data = data[int(key)] if isinstance(data, list) else data[key]
        except (KeyError, IndexError, ValueError, TypeError):
            raise FactError(f"fact {spec!r}: no {key!r} in its source") from None
    return data


def duration(seconds: float) -> str:
    """``41`` → ``41 s``; ``232`` → ``3 min 52 s``; ``2160`` → ``36 min``; ``5400`` → ``1 h 30 min``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes >= 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes} min" if minutes >= 20 or rest == 0 else f"{minutes} min {rest} s"


def format_value(value: Any, how: str, spec: str) -> str:
    if how == "duration":
        return duration(value)
    if how == "millions":
        return f"{value / 1e6:.2f}M"
    if how == "count":  # how many entries a list holds (rows of a results file)
        return f"{len(value):,}"
    try:
        return format(value, how)
    except (ValueError, TypeError):
        raise FactError(f"fact {spec!r}: cannot format {value!r} with {how!r}") from None


# ---- named facts -------------------------------------------------------------------------------

NAMED: dict[str, Callable[..., str]] = {}


def named(name: str) -> Callable[[Callable[..., str]], Callable[..., str]]:
    def register(fn: Callable[..., str]) -> Callable[..., str]:
        NAMED[name] = fn
        return fn

    return register


def _times(root: Path) -> dict[str, Any]:
    return _load(root / RUN_TIMES)


def _measured(entry: dict[str, Any] | None, machine: str) -> float | None:
    return None if entry is None else entry.get(machine)


@named("run-time")
def run_time(root: Path, notebook: str) -> str:
    """The one run-time line of a notebook's header, after its bold label: a line that opens with an
    HTML comment is an HTML block in Markdown, and its own Markdown would show raw."""
    times = _times(root)
    if notebook not in times["notebooks"]:
        raise FactError(f"fact 'run-time {notebook}': notebook {notebook} is not in {RUN_TIMES}; time it with tools/run_notebooks.py --record-times")
    cpu = _measured(times["notebooks"][notebook], "reference-cpu")
    parts = [f"{duration(cpu) if cpu is not None else 'not measured'} on {times['machines']['reference-cpu']}"
             " (`cpu` profile, shipped checkpoints, data cached)"]
    once = times.get("once", {}).get(notebook)
    if once:
        first = _measured(once, "reference-cpu")
        parts.append(f"the first run adds {once['what']} ({duration(first) if first is not None else 'not measured'})")
    train = times.get("train", {}).get(notebook)
    if train:
        seconds = _measured(train, "reference-cpu")
        words = f"`TRAIN = True` adds {duration(seconds) if seconds is not None else 'a time not measured'}"
        scaled = train.get("pace", {}).get("seconds_at_04_pace")  # timed on a slow day: say what it is on 04's
        if seconds is not None and scaled is not None:
            words += f" (a slow day; about {duration(scaled)} at 04's pace)"
        parts.append(words)
    gpu = [f"{train['what'].split(': ')[-1]} trains in {duration(train['h200'])}"] if train and train.get("h200") else []
    parts.append(f"on {times['machines']['h200']}: " + (", ".join(gpu) + ", the rest not measured" if gpu else "not measured"))
    return "; ".join(parts) + "."


@named("run-time-short")
def run_time_short(root: Path, notebook: str) -> str:
    """A notebook's run time alone, for a table: ``41 s``."""
    seconds = _measured(_times(root)["notebooks"].get(notebook), "reference-cpu")
    return duration(seconds) if seconds is not None else "not measured"


@named("train-time")
def train_time(root: Path, *notebooks: str) -> str:
    """The reference CPU's training time of the named notebooks' phases together: ``56 min``."""
    train = _times(root)["train"]
    seconds = [_measured(train.get(n), "reference-cpu") for n in notebooks]
    if any(s is None for s in seconds):
        return "not measured"
    return duration(sum(seconds))


@named("run-time-total")
def run_time_total(root: Path) -> str:
    """The whole course on the reference CPU: the measured notebooks summed, naming those not measured."""
    times = {nb: _measured(entry, "reference-cpu") for nb, entry in _times(root)["notebooks"].items()}
    measured = [s for s in times.values() if s is not None]
    missing = [nb for nb, s in times.items() if s is None]
    if not measured:
        return "not measured"
    total = duration(sum(measured))
    return total if not missing else f"{total} (notebook{'s' if len(missing) > 1 else ''} {', '.join(missing)} not measured)"


@named("ratio")
def ratio(root: Path, numerator: str, denominator: str) -> str:
    """How many times one number is another, both given as ``PATH#KEY`` specs: ``2.7×``."""
    top, bottom = (float(fact(spec, root)) for spec in (numerator, denominator))
    return f"{top / bottom:.1f}×"


@named("percent-of")
def percent_of(root: Path, numerator: str, denominator: str) -> str:
    """One number as a share of another, both ``PATH#KEY`` specs: ``87 %`` (a score against its ceiling)."""
    top, bottom = (float(fact(spec, root)) for spec in (numerator, denominator))
    return f"{top / bottom:.0%}".replace("%", " %")


@named("params")
def params(root: Path, name: str) -> str:
    """Trainable parameters of a shipped checkpoint (``transformer-cpu``, ``vqgan-cpu``,
    ``transformer-text-cpu``): ``5.02M``."""
    from maskgit_lib.generator.transformer import load_transformer
    from maskgit_lib.text.conditioned import load_text_transformer
    from maskgit_lib.tokenizer.vqgan import load_vqgan

    path = root / "results" / "checkpoints" / f"{name}.ckpt"
    load = load_vqgan if name.startswith("vqgan") else load_text_transformer if "-text" in name else load_transformer
    model = load(path)[0]
    return f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M"


# ---- reading and rendering ---------------------------------------------------------------------


def fact(spec: str, root: Path | None = None) -> str:
    """The current text of one fact (see the module docstring for specs)."""
    root = _root(root)
    name, *args = spec.split()
    if name not in NAMED and "#" in name:
        path, _, keys = name.partition("#")
        return format_value(_dig(_load(root / path), keys, spec), " ".join(args), spec)
    if name not in NAMED:
        raise FactError(f"unknown fact {spec!r}: use PATH#KEY FORMAT or one of {', '.join(sorted(NAMED))}")
    return NAMED[name](root, *args)


def render(text: str, root: Path | None = None) -> str:
    """``text`` with every ``<!-- fact: SPEC -->…<!-- /fact -->`` span refilled from its source."""
    root = _root(root)
    return MARK.sub(lambda m: f"<!-- fact: {m['spec']} -->{fact(m['spec'], root)}<!-- /fact -->", text)
