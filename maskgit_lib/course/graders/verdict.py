"""Graders for the course's "write it yourself" cells and exercises.

Every ``check_*`` calls the learner's function and the library's (or, for a few exercises, an
independent reference) on random inputs -- several shapes and seeds, plus the edge cases where
implementations usually break (T = 1, T = N, a single token, dead codes, ties) -- and prints ONE
line:

    ✓ `quantize` matches `maskgit_lib.tokenizer.quantize` (nearest_code + straight-through) on 6 cases ...
    ✗ `quantize`: row 3 took code 5 at distance² 0.82, but code 2 is nearer (0.11) [N=5, K=8, D=2] — hint: ...
    ✎ not yet: `quantize` still raises NotImplementedError: fill in the stub and delete its `raise` line.

The learner's exceptions never escape as a traceback: they become that one line, so a cell that
checks an unfinished stub still completes, and the learner edition runs from top to bottom before
anything is filled in. Each check returns a ``Verdict`` (truthy when it passed) for the tests; in a
notebook the printed line is all that shows.

Checks compare behaviour, not code: any correct implementation passes (a different distance
formula, in-place or not), within tolerances a float32 computation meets; random ones are made
reproducible by handing both sides generators seeded alike, and are otherwise checked by their
distribution with limits of about four standard errors.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch


@dataclass
class Verdict:
    """What a check found: ``passed`` and the one line it printed."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        """The line is printed already; a notebook shows nothing more for the returned value."""


class Mismatch(Exception):
    """A difference the learner can act on: what differs, and a hint."""

    def __init__(self, what: str, hint: str = ""):
        super().__init__(what)
        self.what, self.hint = what, hint


class NotYet(Exception):
    """The learner's function is still a stub."""


def name_of(fn: Any) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def first_line(error: BaseException, limit: int = 160) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def grade(fns: Any, reference: str, body: Callable[[], str]) -> Verdict:
    """Run ``body`` (which raises Mismatch or NotYet) and print the verdict as one line."""
    names = " and ".join(f"`{name_of(f)}`" for f in (fns if isinstance(fns, tuple) else (fns,)))
    try:
        detail = body()
        passed, message = True, f"✓ {names} {reference}" + (f" {detail}" if detail else "")
    except NotYet as error:
        passed, message = False, f"✎ not yet: {error}"
    except Mismatch as error:
        passed, message = False, f"✗ {names}: {error.what}" + (f" — hint: {error.hint}" if error.hint else "")
    except Exception as error:  # a return value of a type the check did not expect
        passed, message = False, f"✗ could not check {names}: {type(error).__name__}: {first_line(error)}"
    message = " ".join(message.split())  # one line, whatever the pieces contained
    print(message)
    return Verdict(passed, message)


def call_learner(fn: Callable, *args: Any, case: str, **kwargs: Any) -> Any:
    """Call the learner's function; turn stubs and exceptions into one-line verdicts."""
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError as error:
        said, name = first_line(error), name_of(fn)
        if said and not said.startswith(name):  # raised by something it calls, e.g. a step still a stub
            raise NotYet(f"`{name}` reached a stub that raises NotImplementedError ({said}).") from None
        if said and not said.startswith(f"{name}: fill in"):  # the stub says what to do
            raise NotYet(f"`{name}` is still a stub: {said.removeprefix(name + ':').strip()}.") from None
        raise NotYet(f"`{name_of(fn)}` still raises NotImplementedError: fill in its stub, then delete the "
                      "`raise NotImplementedError` line.") from None
    except Exception as error:
        if "ellipsis" in str(error):
            raise NotYet(f"`{name_of(fn)}` still contains a `...` placeholder: replace each `...` with code.") from None
        raise Mismatch(f"raised {type(error).__name__}: {first_line(error)} [{case}]",
                       "run it on a small input of this shape and print the shapes line by line") from None
    if result is Ellipsis or (isinstance(result, tuple) and any(r is Ellipsis for r in result)):
        raise NotYet(f"`{name_of(fn)}` still returns `...`: replace each `...` with code.")
    if result is None:
        raise Mismatch(f"returned None [{case}]", "is the `return` line missing?")
    return result


def tensor_of(value: Any, what: str, case: str, shape: tuple | None = None) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise Mismatch(f"{what} is a {type(value).__name__}, not a tensor [{case}]")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise Mismatch(f"{what} has shape {tuple(value.shape)}, expected {tuple(shape)} [{case}]",
                       "check which dimension you reduced over, and that nothing was flattened or kept by mistake")
    return value


def pair_of(value: Any, names: str, case: str) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != len(names.split(", ")):
        raise Mismatch(f"returned {type(value).__name__}; expected a tuple ({names}) [{case}]")
    return tuple(value)


def first_mismatch(mine: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float) -> tuple | None:
    """The index of the first element outside the tolerance (nan anywhere counts), or None."""
    mine, expected = mine.detach().double().cpu(), expected.detach().double().cpu()
    bad = ~torch.isclose(mine, expected, rtol=rtol, atol=atol, equal_nan=False)
    if not bad.any():
        return None
    return tuple(int(i) for i in torch.nonzero(bad)[0])


def at(index: tuple) -> str:
    return "[" + ", ".join(map(str, index)) + "]" if index else ""


def as_float(value: Any) -> float:
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


def num(value: float) -> str:
    return f"{value:.4g}"


def vs(mine: Any, expected: Any) -> str:
    """"X, expected Y", with as many decimals as it takes to tell them apart."""
    a, b = float(mine), float(expected)
    text_a, text_b = f"{a:.4g}", f"{b:.4g}"
    if text_a == text_b and math.isfinite(a) and math.isfinite(b) and a != b:
        decimals = min(max(math.ceil(-math.log10(abs(a - b))) + 1, 0), 15)
        text_a, text_b = f"{a:.{decimals}f}", f"{b:.{decimals}f}"
    return f"{text_a}, expected {text_b}"


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def show_source(obj: Any) -> None:
    """Show the library's version of what the learner has just written: where it lives, and its code."""
    obj = inspect.unwrap(obj)  # a decorated function (@torch.no_grad()): its own file, not the decorator's
    lines, start = inspect.getsourcelines(obj)
    package = Path(__file__).resolve().parents[2]  # maskgit_lib/
    where = Path(inspect.getsourcefile(obj)).resolve().relative_to(package.parent).as_posix()
    header = f"{where}, line {start}:"
    source = "".join(lines)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(f"`{header}`\n```python\n{source}```"))
            return
    except ImportError:
        pass
    print(header)
    print(source)


def tiny_model(seed: int = 0, n_tokens: int = 16, codebook_size: int = 32, n_classes: int = 4):
    from maskgit_lib.generator.transformer import MaskGITTransformer

    torch.manual_seed(seed)
    return MaskGITTransformer(codebook_size, n_classes, n_tokens, width=32, depth=2, heads=4, dropout=0.0).eval()

