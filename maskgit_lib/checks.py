"""Graders for the course's "write it yourself" cells and exercises.

Every ``check_*`` calls the learner's function and the library's (or, for a few exercises, an
independent reference) on random inputs -- several shapes and seeds, plus the edge cases where
implementations usually break (T = 1, T = N, a single token, dead codes, ties) -- and prints ONE
line:

    ✓ `quantize` matches `maskgit_lib.quantize` (nearest_code + straight-through) on 6 cases ...
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
import torch.nn.functional as F


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


class _NotYet(Exception):
    """The learner's function is still a stub."""


def _name(fn: Any) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def _first_line(error: BaseException, limit: int = 160) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _grade(fns: Any, reference: str, body: Callable[[], str]) -> Verdict:
    """Run ``body`` (which raises Mismatch or _NotYet) and print the verdict as one line."""
    names = " and ".join(f"`{_name(f)}`" for f in (fns if isinstance(fns, tuple) else (fns,)))
    try:
        detail = body()
        passed, message = True, f"✓ {names} {reference}" + (f" {detail}" if detail else "")
    except _NotYet as error:
        passed, message = False, f"✎ not yet: {error}"
    except Mismatch as error:
        passed, message = False, f"✗ {names}: {error.what}" + (f" — hint: {error.hint}" if error.hint else "")
    except Exception as error:  # a return value of a type the check did not expect
        passed, message = False, f"✗ could not check {names}: {type(error).__name__}: {_first_line(error)}"
    message = " ".join(message.split())  # one line, whatever the pieces contained
    print(message)
    return Verdict(passed, message)


def _call(fn: Callable, *args: Any, case: str, **kwargs: Any) -> Any:
    """Call the learner's function; turn stubs and exceptions into one-line verdicts."""
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError as error:
        said, name = _first_line(error), _name(fn)
        if said and not said.startswith(name):  # raised by something it calls, e.g. a step still a stub
            raise _NotYet(f"`{name}` reached a stub that raises NotImplementedError ({said}).") from None
        if said and not said.startswith(f"{name}: fill in"):  # the stub says what to do
            raise _NotYet(f"`{name}` is still a stub: {said.removeprefix(name + ':').strip()}.") from None
        raise _NotYet(f"`{_name(fn)}` still raises NotImplementedError: fill in its stub, then delete the "
                      "`raise NotImplementedError` line.") from None
    except Exception as error:
        if "ellipsis" in str(error):
            raise _NotYet(f"`{_name(fn)}` still contains a `...` placeholder: replace each `...` with code.") from None
        raise Mismatch(f"raised {type(error).__name__}: {_first_line(error)} [{case}]",
                       "run it on a small input of this shape and print the shapes line by line") from None
    if result is Ellipsis or (isinstance(result, tuple) and any(r is Ellipsis for r in result)):
        raise _NotYet(f"`{_name(fn)}` still returns `...`: replace each `...` with code.")
    if result is None:
        raise Mismatch(f"returned None [{case}]", "is the `return` line missing?")
    return result


def _tensor(value: Any, what: str, case: str, shape: tuple | None = None) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise Mismatch(f"{what} is a {type(value).__name__}, not a tensor [{case}]")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise Mismatch(f"{what} has shape {tuple(value.shape)}, expected {tuple(shape)} [{case}]",
                       "check which dimension you reduced over, and that nothing was flattened or kept by mistake")
    return value


def _pair(value: Any, names: str, case: str) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != len(names.split(", ")):
        raise Mismatch(f"returned {type(value).__name__}; expected a tuple ({names}) [{case}]")
    return tuple(value)


def _first_bad(mine: torch.Tensor, expected: torch.Tensor, rtol: float, atol: float) -> tuple | None:
    """The index of the first element outside the tolerance (nan anywhere counts), or None."""
    mine, expected = mine.detach().double().cpu(), expected.detach().double().cpu()
    bad = ~torch.isclose(mine, expected, rtol=rtol, atol=atol, equal_nan=False)
    if not bad.any():
        return None
    return tuple(int(i) for i in torch.nonzero(bad)[0])


def _at(index: tuple) -> str:
    return "[" + ", ".join(map(str, index)) + "]" if index else ""


def _float(value: Any) -> float:
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


def _num(value: float) -> str:
    return f"{value:.4g}"


def _vs(mine: Any, expected: Any) -> str:
    """"X, expected Y", with as many decimals as it takes to tell them apart."""
    a, b = float(mine), float(expected)
    text_a, text_b = f"{a:.4g}", f"{b:.4g}"
    if text_a == text_b and math.isfinite(a) and math.isfinite(b) and a != b:
        decimals = min(max(math.ceil(-math.log10(abs(a - b))) + 1, 0), 15)
        text_a, text_b = f"{a:.{decimals}f}", f"{b:.{decimals}f}"
    return f"{text_a}, expected {text_b}"


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def show_source(obj: Any) -> None:
    """Show the library's version of what the learner has just written: where it lives, and its code."""
    lines, start = inspect.getsourcelines(obj)
    where = Path(inspect.getsourcefile(obj)).name
    header = f"maskgit_lib/{where}, line {start}:"
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


# ---------------------------------------------------------------------------------------------
# 00 · setup and data


def check_white_share(white_share_per_style: Callable) -> Verdict:
    """``white_share_per_style(images (N, H, W, 3) uint8, labels (N,), class_names) -> {style: share}``."""

    def reference(images: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict[str, float]:
        white = (images == 255).all(axis=-1)  # (N, H, W)
        return {name: float(white[labels == k].mean()) for k, name in enumerate(class_names)}

    def body() -> str:
        rng = np.random.default_rng(0)
        cases = []
        for n, size, names in ((40, 8, ["a", "b", "c", "d"]), (5, 4, ["only"]), (12, 6, ["lorelei", "micah", "pixel-art"])):
            images = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
            background = rng.random((n, size, size)) < rng.random((n, 1, 1))  # a different share per image
            images[background] = 255
            images[rng.random((n, size, size)) < 0.1] = (255, 255, 254)  # almost white is not white
            labels = np.arange(n) % len(names)
            cases.append((f"{n} images of {size}×{size} px, {len(names)} style(s)", images, labels, names))
        for case, images, labels, names in cases:
            expected = reference(images, labels, names)
            mine = _call(white_share_per_style, images.copy(), labels.copy(), list(names), case=case)
            if not isinstance(mine, dict) or set(mine) != set(names):
                raise Mismatch(f"returned {type(mine).__name__} with keys {sorted(mine) if isinstance(mine, dict) else '-'}, "
                               f"expected a dict with one entry per style {sorted(names)} [{case}]",
                               "{name: share for k, name in enumerate(class_names)}, the images of style k being images[labels == k]")
            for name in names:
                value = _float(mine[name])
                if not math.isclose(value, expected[name], abs_tol=1e-9):
                    style = images[labels == names.index(name)]
                    any_channel = float((style == 255).any(axis=-1).mean())
                    per_value = float((style == 255).mean())
                    hint = ("a pixel is white only if all three channels are 255: (255, 255, 254) is not; .all(axis=-1)"
                            if math.isclose(value, any_channel, abs_tol=1e-9) else
                            "that is the share of channel values equal to 255; count pixels whose three channels all are"
                            if math.isclose(value, per_value, abs_tol=1e-9) else
                            "white = (images == 255).all(axis=-1), shape (N, H, W); the share is its mean over the images of that style")
                    raise Mismatch(f"the share of {name!r} is {_vs(value, expected[name])} [{case}]", hint)
        return "on 3 cases (almost-white pixels, one style, real style names)."

    return _grade(white_share_per_style, "is right", body)


# ---------------------------------------------------------------------------------------------
# 01 · vector quantization


def check_quantize(quantize: Callable) -> Verdict:
    """``quantize(z (N, D), codebook (K, D)) -> (z_q (N, D), indices (N,))``: nearest code + straight-through."""
    from maskgit_lib.quantize import nearest_code

    cases = [(1, 1, 2, 0), (5, 8, 2, 1), (64, 16, 3, 2), (300, 512, 8, 3), (9, 4, 2, 4), (16, 16, 4, 5)]

    def body() -> str:
        for n, k, d, seed in cases:
            g = _gen(seed)
            codebook = torch.randn(k, d, generator=g)  # (K, D)
            if seed == 4:
                codebook[1] = codebook[0]  # a tie: either code is a right answer
            z_value = codebook[torch.randperm(k, generator=g)] if seed == 5 else torch.randn(n, d, generator=g) * 2  # (N, D)
            z = z_value.clone().requires_grad_(True)
            case = f"N={n}, K={k}, D={d}" + (", two equal codes" if seed == 4 else ", z exactly on the codes" if seed == 5 else "")
            z_q, indices = _pair(_call(quantize, z, codebook.clone(), case=case), "z_q, indices", case)
            indices = _tensor(indices, "indices", case, (n,))
            if indices.dtype.is_floating_point or indices.dtype == torch.bool:
                raise Mismatch(f"indices have dtype {indices.dtype}, expected integers [{case}]", "argmin returns int64 ids")
            if (indices < 0).any() or (indices >= k).any():
                raise Mismatch(f"an index is outside 0…{k - 1} [{case}]", "argmin over the codebook axis (dim=1) of an (N, K) distance matrix")
            distances = (z_value.double()[:, None] - codebook.double()[None]).pow(2).sum(-1)  # (N, K)
            chosen = distances.gather(1, indices.long()[:, None])[:, 0]  # (N,)
            best = distances.min(1).values
            worse = chosen > best + 1e-6 * (1 + best)
            if worse.any():
                i = int(torch.nonzero(worse)[0])
                nearer = int(nearest_code(z_value[i : i + 1], codebook)[0])
                raise Mismatch(
                    f"row {i} took code {int(indices[i])} at distance² {_num(chosen[i])}, but code {nearer} is nearer "
                    f"({_num(best[i])}) [{case}]",
                    "the token is argmin_k ‖z − e_k‖²: distances of shape (N, K), then argmin over dim=1 (the codes)")
            z_q = _tensor(z_q, "z_q", case, (n, d))
            codes = codebook[indices.long()]
            if (bad := _first_bad(z_q, codes, 1e-5, 1e-6)) is not None:
                like_z = torch.allclose(z_q.detach(), z_value, atol=1e-6)
                raise Mismatch(
                    f"z_q{_at(bad)} is {_num(z_q[bad])}, the chosen code has {_num(codes[bad])} [{case}]",
                    "z_q equals z: the decoder must receive the code, not the encoder output" if like_z else
                    "the forward value of z_q is the chosen code e_k itself; the straight-through trick changes only the gradient")
            if not z_q.requires_grad:
                raise Mismatch(f"z_q carries no gradient (requires_grad is False) [{case}]",
                               "codebook[indices] alone does not depend on z, so nothing reaches the encoder: add the "
                               "straight-through term, z_q = codebook[indices] + (z − z.detach())")
            upstream = torch.randn(n, d, generator=g)  # the decoder's gradient at z_q
            z_q.backward(upstream)
            if z.grad is None:
                raise Mismatch(f"no gradient reaches z [{case}]",
                               "straight-through: z_q = e_k + (z − z.detach()), whose value is e_k and whose gradient is the identity")
            if (bad := _first_bad(z.grad, upstream, 1e-5, 1e-6)) is not None:
                raise Mismatch(
                    f"the gradient at z{_at(bad)} is {_num(z.grad[bad])}, the decoder sent {_num(upstream[bad])} [{case}]",
                    "the straight-through estimator copies the gradient from z_q to z unchanged: z_q = e_k + (z − z.detach())")
        return f"on {len(cases)} cases (N from 1 to 300, K from 1 to 512, ties, z on the codes): same tokens, z_q = the codes, gradient passed to z unchanged."

    return _grade(quantize, "matches `maskgit_lib.quantize.nearest_code` + the straight-through of `VectorQuantizer.forward`", body)


def check_ema_update(ema_update: Callable) -> Verdict:
    """``ema_update(ema_count (K,), ema_sum (K, D), z (N, D), indices (N,), decay) -> (ema_count, ema_sum, codebook)``."""
    from maskgit_lib.quantize import ema_codebook_update

    cases = [(4, 2, 10, 0.99, 0), (16, 3, 40, 0.9, 1), (8, 2, 1, 0.5, 2), (5, 2, 20, 0.0, 3), (512, 8, 256, 0.99, 4)]

    def body() -> str:
        for k, d, n, decay, seed in cases:
            g = _gen(seed)
            ema_count = torch.rand(k, generator=g) * 5  # (K,)
            ema_count[-1] = 1e-8  # a code that has (almost) never been chosen
            ema_sum = torch.randn(k, d, generator=g)  # (K, D)
            z = torch.randn(n, d, generator=g)  # (N, D)
            indices = torch.randint(0, max(k // 2, 1), (n,), generator=g)  # (N,) the upper half of the codes gets nothing
            case = f"K={k}, D={d}, N={n}, decay={decay}"
            expected = ema_codebook_update(ema_count.clone(), ema_sum.clone(), z.clone(), indices.clone(), decay)
            mine = _pair(_call(ema_update, ema_count.clone(), ema_sum.clone(), z.clone(), indices.clone(), decay, case=case),
                         "ema_count, ema_sum, codebook", case)
            hints = [
                "N_k ← d·N_k + (1 − d)·n_k (d: the decay), where n_k counts the vectors that chose code k in this batch: torch.bincount(indices, minlength=K)",
                "S_k ← d·S_k + (1 − d)·s_k, where s_k sums the vectors that chose code k: torch.zeros(K, D).index_add_(0, indices, z)",
            ]
            for what, value, reference, hint, shape in zip(("ema_count", "ema_sum", "codebook"), mine, expected,
                                                           [*hints, ""], [(k,), (k, d), (k, d)], strict=True):
                value = _tensor(value, what, case, shape)
                if (bad := _first_bad(value, reference, 1e-4, 1e-6)) is not None:
                    if what == "codebook":
                        code = bad[0]
                        hint = ("this code received (almost) nothing: divide S_k by the Laplace-smoothed count "
                                "Ñ_k = (N_k + ε) / (Σ_j N_j + K·ε) · Σ_j N_j with ε = 1e-5, never by N_k itself"
                                if expected[0][code] < 1e-3 else
                                "e_k = S_k / Ñ_k, the smoothed mean of what code k received, with Ñ_k = (N_k + ε) / (Σ_j N_j + K·ε) · Σ_j N_j, ε = 1e-5")
                    raise Mismatch(f"{what}{_at(bad)} is {_vs(value[bad], reference[bad])} [{case}]", hint)
        return f"on {len(cases)} cases (decay 0 to 0.99, a single vector, codes that receive nothing, K = 512)."

    return _grade(ema_update, "matches `maskgit_lib.quantize.ema_codebook_update`", body)


def check_perplexity(perplexity: Callable) -> Verdict:
    """``perplexity(counts (K,)) -> float``: exp of the entropy of the code frequencies."""
    from maskgit_lib.quantize import CodebookUsage

    g = _gen(0)
    sparse = torch.randint(0, 50, (512,), generator=g) * (torch.rand(512, generator=g) < 0.3)
    cases = [("64 codes used equally", torch.ones(64, dtype=torch.long)), ("one code used", torch.tensor([10, 0, 0, 0])),
             ("counts [2, 1, 3, 0]", torch.tensor([2, 1, 3, 0])), ("512 codes, 70% unused", sparse),
             ("large counts", torch.tensor([10**9, 3 * 10**9, 1]))]

    def body() -> str:
        for case, counts in cases:
            usage = CodebookUsage(len(counts))
            usage.counts = counts.clone()
            expected = usage.perplexity()
            value = _call(perplexity, counts.clone(), case=case)
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise Mismatch(f"returned {type(value).__name__}, expected one number [{case}]", "reduce to a scalar: .sum() over the codes") from None
            if not math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-6):
                probs = counts.double() / counts.sum()
                entropy = float(-(probs[probs > 0] * probs[probs > 0].log()).sum())
                hint = ("0·log 0 gives nan in floating point: leave out the codes with count 0, they add nothing to the entropy"
                        if math.isnan(value) else
                        "that is the entropy H; the perplexity is exp(H)" if math.isclose(value, entropy, rel_tol=1e-3) else
                        "p = counts / counts.sum(), H = −Σ p_k ln p_k, perplexity = exp(H): K when all codes are used equally, 1 when one is")
                raise Mismatch(f"{_num(value)} for {case}, expected {_num(expected)}", hint)
        return "on 5 cases (uniform, one code, unused codes, large counts)."

    return _grade(perplexity, "matches `maskgit_lib.quantize.CodebookUsage.perplexity`", body)


def check_rounding_example(rounding_example: Callable) -> Verdict:
    """``rounding_example() -> (z, q)``: tensors where ``z + (q − z)`` is not exactly ``q``."""

    def body() -> str:
        case = "your z and q"
        z, q = _pair(_call(rounding_example, case=case), "z, q", case)
        z, q = _tensor(z, "z", case), _tensor(q, "q", case, tuple(torch.as_tensor(z).shape))
        if not (torch.isfinite(z).all() and torch.isfinite(q).all()):
            raise Mismatch("z or q contains inf or nan", "use ordinary finite numbers: rounding alone makes the difference")
        theirs = z + (q - z).detach()
        ours = q + (z - z.detach())
        differ = int((theirs != q).sum())
        if differ == 0:
            raise Mismatch(f"z + (q − z) equals q at all {q.numel()} positions of your example",
                           "try many values of different sizes, e.g. z = 3·torch.randn(10_000), q = torch.randn(10_000): "
                           "z + (q − z) rounds twice")
        assert torch.equal(ours, q)
        return f"differs from q at {differ:,} of {q.numel():,} positions, while q + (z − z.detach()) equals q everywhere."

    return _grade(rounding_example, "found it: z + (q − z).detach()", body)


# ---------------------------------------------------------------------------------------------
# 02 · VQGAN


def _adaptive_case(seed: int, gan_scale: float) -> tuple[torch.Tensor, torch.Tensor, torch.nn.Parameter, torch.Tensor]:
    """A tiny decoder: features → last layer → image; an L1 reconstruction loss and a generator loss."""
    g = _gen(seed)
    encoder = torch.randn(6, 4, generator=g).requires_grad_(True)  # stands for every layer before the last one
    last_layer = torch.nn.Parameter(torch.randn(3, 6, generator=g))  # (C_out, C_in): the decoder's last layer
    x, target = torch.randn(8, 4, generator=g), torch.randn(8, 3, generator=g)
    recon = (x @ encoder.T).tanh() @ last_layer.T  # (8, 3)
    rec_loss = (recon - target).abs().mean()
    gan_loss = -(recon @ torch.randn(3, generator=g)).mean() * gan_scale  # a linear "discriminator"
    return rec_loss, gan_loss, last_layer, encoder


def check_adaptive_weight(adaptive_weight: Callable) -> Verdict:
    """``adaptive_weight(rec_loss, gan_loss, last_layer, max_weight) -> λ``, a detached scalar."""
    from maskgit_lib.losses import adaptive_weight as library

    cases = [(0, 1.0, 1e4), (1, 0.3, 1e4), (2, 5.0, 1e4), (3, 1e-6, 100.0), (4, 0.0, 1e4)]

    def body() -> str:
        for seed, gan_scale, max_weight in cases:
            case = f"GAN loss ×{gan_scale:g}, max_weight {max_weight:g}"
            rec_loss, gan_loss, last_layer, encoder = _adaptive_case(seed, gan_scale)
            expected = float(library(rec_loss, gan_loss, last_layer, max_weight))
            value = _call(adaptive_weight, rec_loss, gan_loss, last_layer, max_weight, case=case)
            if isinstance(value, torch.Tensor):
                if value.numel() != 1:
                    raise Mismatch(f"λ has shape {tuple(value.shape)}, expected one number [{case}]",
                                   "the norm of the whole gradient tensor: .norm() with no dim")
                if value.requires_grad:
                    raise Mismatch(f"λ carries a gradient (requires_grad=True) [{case}]",
                                   "detach it: λ is a fixed number in the backward pass, not something to optimise")
            value = _float(value)
            if last_layer.grad is not None or encoder.grad is not None:
                raise Mismatch(f"your function left gradients in .grad [{case}]",
                               "use torch.autograd.grad(loss, last_layer, retain_graph=True)[0], which returns the gradient "
                               "without accumulating it (.backward() would add it to the weights' .grad)")
            try:
                (rec_loss + value * gan_loss).backward()
            except RuntimeError:
                raise Mismatch(f"the graph was freed: the training step can no longer back-propagate [{case}]",
                               "pass retain_graph=True to torch.autograd.grad: the same graph is used again after λ") from None
            if not math.isclose(value, expected, rel_tol=2e-3, abs_tol=1e-9):
                ratio = rec_loss.item() / gan_loss.item() if gan_loss.item() else math.inf
                hint = ("when the GAN gradient vanishes, λ = ‖∇_L L_rec‖ / δ: δ = 1e-4 in the denominator keeps it finite"
                        if not math.isfinite(value) or gan_scale == 0 else
                        "that is the ratio of the losses; λ is the ratio of the norms of their gradients at the last layer"
                        if math.isclose(abs(value), abs(ratio), rel_tol=1e-3) else
                        f"clamp λ to [0, max_weight] = [0, {max_weight:g}]" if value > max_weight else
                        "λ = ‖∇_L L_rec‖ / (‖∇_L L_GAN‖ + δ), δ = 1e-4: both gradients with respect to the last layer's weight "
                        "(torch.autograd.grad), their norms, then clamp to [0, max_weight]")
                raise Mismatch(f"λ is {_vs(value, expected)} [{case}]", hint)
        return f"on {len(cases)} cases (GAN loss ×1e-6 to ×5, a vanishing GAN gradient, the clamp): same λ, detached, graph kept."

    return _grade(adaptive_weight, "matches `maskgit_lib.losses.adaptive_weight`", body)


def check_hinge_losses(d_loss: Callable, g_loss: Callable) -> Verdict:
    """``d_loss(real_logits, fake_logits)`` and ``g_loss(fake_logits)``: the hinge GAN losses, scalars."""
    from maskgit_lib.losses import generator_adv_loss, hinge_d_loss

    def logits_cases() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
        g = _gen(0)
        far = torch.rand(8, 1, 3, 3, generator=g) + 1.5
        return [("PatchGAN logits (4, 1, 6, 6)", 2 * torch.randn(4, 1, 6, 6, generator=g), 2 * torch.randn(4, 1, 6, 6, generator=g)),
                ("one logit each", torch.tensor([[[[0.3]]]]), torch.tensor([[[[-0.2]]]])),
                ("real ≥ 1 and fake ≤ −1 everywhere", far, -far),
                ("logits exactly ±1 and 0", torch.tensor([1.0, -1.0, 0.0]), torch.tensor([-1.0, 1.0, 0.0])),
                ("the discriminator fooled", -far, far)]

    def compare(fn: Callable, reference: Callable, inputs: tuple, case: str, hint: str, what: str) -> None:
        mine_in = [x.clone().requires_grad_(True) for x in inputs]
        ref_in = [x.clone().requires_grad_(True) for x in inputs]
        value = _tensor(_call(fn, *mine_in, case=case), f"the {what} loss", case)
        expected = reference(*ref_in)
        if value.numel() != 1:
            raise Mismatch(f"the {what} loss has shape {tuple(value.shape)}, expected one number [{case}]", "average with .mean()")
        if not value.requires_grad:
            raise Mismatch(f"the {what} loss carries no gradient [{case}]", "keep it a tensor: no .item(), no float()")
        if not math.isclose(_float(value), _float(expected), rel_tol=1e-5, abs_tol=1e-6):
            if _float(expected) and math.isclose(_float(value), 2 * _float(expected), rel_tol=1e-5):
                hint = "twice the expected value: the ½ averages the real and the fake terms"
            raise Mismatch(f"the {what} loss is {_vs(_float(value), _float(expected))} [{case}]", hint)
        value.backward()
        expected.backward()
        for x_mine, x_ref, name in zip(mine_in, ref_in, ("real", "fake") if len(inputs) == 2 else ("fake",), strict=True):
            grad = x_mine.grad if x_mine.grad is not None else torch.zeros_like(x_ref)
            if (bad := _first_bad(grad, x_ref.grad, 1e-5, 1e-7)) is not None:
                raise Mismatch(f"the {what} loss's gradient at the {name} logits{_at(bad)} is {_num(grad[bad])}, "
                               f"expected {_num(x_ref.grad[bad])} [{case}]", hint)

    def body() -> str:
        d_hint = ("L_D = ½·(mean(relu(1 − D(x))) + mean(relu(1 + D(x̂)))): real logits are pushed above +1, fake ones below −1, "
                  "and logits already past the margin cost nothing")
        g_hint = "L_G = −mean(D(x̂)): the generator raises the discriminator's logits on its fakes, with no hinge on this side"
        for case, real, fake in logits_cases():
            compare(d_loss, hinge_d_loss, (real, fake), case, d_hint, "discriminator")
            compare(g_loss, generator_adv_loss, (fake,), case, g_hint, "generator")
        return "on 5 cases (PatchGAN maps, single logits, past the margin, exactly ±1): same values and gradients."

    return _grade((d_loss, g_loss), "match `maskgit_lib.losses.hinge_d_loss` and `generator_adv_loss`", body)


def _compression_ratio(image_size_px: int, tokens_per_side: int, codebook_size: int) -> float:
    return image_size_px**2 * 3 * 8 / (tokens_per_side**2 * math.log2(codebook_size))


def check_compression_ratio(compression_ratio: Callable) -> Verdict:
    """``compression_ratio(image_size_px, tokens_per_side, codebook_size) -> float``: image bits / token bits."""
    cases = [(32, 8, 512), (64, 16, 1024), (256, 16, 1024), (32, 8, 1000), (16, 16, 2)]

    def body() -> str:
        for size, side, codes in cases:
            case = f"{size} px RGB, {side}×{side} tokens, {codes} codes"
            expected = _compression_ratio(size, side, codes)
            value = float(_call(compression_ratio, size, side, codes, case=case))
            if not math.isclose(value, expected, rel_tol=1e-6):
                hint = ("the image has 3 channels (RGB) of 8 bits each" if math.isclose(value * 3, expected, rel_tol=1e-6) else
                        "a token from K codes carries log₂K bits (9 for 512 codes), not K"
                        if math.isclose(value * codes / math.log2(codes), expected, rel_tol=1e-6) else
                        "upside down: image bits / token bits" if math.isclose(value, 1 / expected, rel_tol=1e-6) else
                        "image bits = size² · 3 · 8; token bits = side² · log₂(codebook_size)")
                raise Mismatch(f"{_num(value)} for {case}, expected {_num(expected)}", hint)
        return f"on {len(cases)} cases: 32 px, 8×8 tokens, 512 codes → {_compression_ratio(32, 8, 512):.1f}× fewer bits."

    return _grade(compression_ratio, "is right", body)


def check_psnr(psnr: Callable) -> Verdict:
    """``psnr(recon (B, 3, H, W), target (B, 3, H, W)) -> (B,)`` in dB, images in [−1, 1]."""
    from maskgit_lib.metrics import psnr as library

    def body() -> str:
        g = _gen(0)
        target = torch.rand(6, 3, 8, 8, generator=g) * 2 - 1
        noisy = target + torch.linspace(0.01, 0.5, 6)[:, None, None, None] * torch.randn(6, 3, 8, 8, generator=g)
        cases = [("6 images, noise 0.01 to 0.5 (some pixels outside [−1, 1])", noisy, target),
                 ("one 32 px image", target[:1].repeat(1, 1, 4, 4) * 0.9, target[:1].repeat(1, 1, 4, 4)),
                 ("a perfect reconstruction beside others", torch.cat([target[:1], noisy[1:3]]), target[:3])]
        for case, recon, reference in cases:
            expected = library(recon, reference)
            value = _tensor(_call(psnr, recon.clone(), reference.clone(), case=case), "the PSNR", case, tuple(expected.shape))
            if (bad := _first_bad(value, expected, 1e-4, 1e-3)) is not None:
                diff = _float(value[bad] - expected[bad])
                hint = ("off by 6.02 dB = 10·log10(4): images in [−1, 1] have a peak-to-peak range of 2, so the peak² is 4"
                        if abs(abs(diff) - 10 * math.log10(4)) < 0.01 else
                        "clamp the reconstruction to [−1, 1] first (a displayed image cannot leave it), and keep the MSE "
                        "above 1e-10 so a perfect reconstruction stays finite"
                        if "perfect" in case or "outside" in case else
                        "PSNR = 10·log10(peak² / MSE) per image: the MSE over channels and pixels of each image, peak² = 4")
                raise Mismatch(f"image {bad[0]}: {_num(_float(value[bad]))} dB, expected {_num(float(expected[bad]))} dB [{case}]", hint)
        return "on 3 cases (noise levels, pixels outside [−1, 1], a perfect reconstruction)."

    return _grade(psnr, "matches `maskgit_lib.metrics.psnr`", body)


# ---------------------------------------------------------------------------------------------
# 03 · masking schedule


def check_tokens_masked(tokens_masked_after_step: Callable) -> Verdict:
    """``tokens_masked_after_step(schedule, steps, n_tokens) -> list[int]``: still masked after each step."""
    from maskgit_lib.masking import tokens_masked_after_step as library

    cases = [("cosine", 8, 64), ("cosine", 12, 256), ("linear", 64, 64), ("cosine", 1, 64), ("sqrt", 5, 16),
             ("square", 16, 16), ("log", 10, 64), ("exp", 3, 4), ("cubic", 7, 7), ("cosine", 2, 1024)]

    def body() -> str:
        for schedule, steps, n in cases:
            edge = " (T = 1)" if steps == 1 else " (T = N)" if steps == n else ""
            case = f"{schedule}, T={steps}, N={n}{edge}"
            expected = library(schedule, steps, n)
            mine = _call(tokens_masked_after_step, schedule, steps, n, case=case)
            try:
                mine = [float(m) for m in mine]
            except (TypeError, ValueError):
                raise Mismatch(f"returned {type(mine).__name__}, expected a list of {steps} numbers [{case}]") from None
            if len(mine) != steps:
                raise Mismatch(f"{len(mine)} counts for {steps} steps [{case}]", "one count per step: after step 1, after step 2, …")
            for t, (m, e) in enumerate(zip(mine, expected, strict=True)):
                if m != e:
                    previous = n if t == 0 else expected[t - 1]
                    hint = ("nothing may stay masked after the last step" if t == steps - 1 else
                            "every step must fix at least one more token: masked ≤ (masked before) − 1" if m >= previous else
                            "leave room for one token per remaining step: masked ≥ T − 1 − t" if m < steps - 1 - t else
                            "fixed = ⌊N·(1 − γ((t+1)/T))⌋ rounds down (so masked rounds up); masked = N − fixed; "
                            "γ comes from maskgit_lib.masking.gamma(schedule, r)")
                    raise Mismatch(f"after step {t + 1} of {steps}: {m:g} masked, expected {e} [{case}]", hint)
        return f"on {len(cases)} cases (7 schedules, T = 1, T = N, N from 1 to 1024 tokens)."

    return _grade(tokens_masked_after_step, "matches `maskgit_lib.masking.tokens_masked_after_step`", body)


def check_reference_log(reference_log: Callable) -> Verdict:
    """``reference_log(r (M,), n_tokens) -> (M,)``: google-research/maskgit's ``log`` schedule."""
    from maskgit_lib.masking import reference_gamma

    def body() -> str:
        r = torch.linspace(0, 1, 101, dtype=torch.float64)
        for n in (16, 64, 256, 1024):
            case = f"N={n}, r from 0 to 1"
            expected = reference_gamma("log", r, n)
            value = _tensor(_call(reference_log, r.clone(), n, case=case), "γ", case, tuple(r.shape))
            if (bad := _first_bad(value, expected, 1e-5, 1e-5)) is not None:
                v = _float(value[bad])
                hint = ("−log₂(0) = +∞: clip to [1e-6, 1] as the reference does" if not math.isfinite(v) else
                        "clip to [1e-6, 1]" if v > 1 or v < 0 else
                        "γ(r) = −log₂(r) / log₂(N), then clipped to [1e-6, 1]")
                raise Mismatch(f"γ({float(r[bad]):.2f}) is {_vs(v, float(expected[bad]))} [{case}]", hint)
        return "on 4 grid sizes, r from 0 to 1 (the clip at both ends included)."

    return _grade(reference_log, "matches `maskgit_lib.masking.reference_gamma('log', r, N)`", body)


def check_quartic_schedule(schedules: dict) -> Verdict:
    """``SCHEDULES['quartic']``: γ(r) = 1 − r⁴, registered so ``gamma`` and the decoding budget can use it."""
    from maskgit_lib.masking import SCHEDULES, gamma, tokens_revealed_per_step

    registered = schedules.get("quartic", Ellipsis)

    def fn(r: torch.Tensor) -> Any:
        return registered(r)

    fn.__name__ = "SCHEDULES['quartic']"

    def body() -> str:
        if registered is Ellipsis:
            raise _NotYet("SCHEDULES has no 'quartic' schedule yet: register it, SCHEDULES['quartic'] = a function of r.")
        r = torch.linspace(0, 1, 101, dtype=torch.float64)
        value = _tensor(_call(fn, r.clone(), case="r from 0 to 1"), "γ", "a tensor of 101 ratios", tuple(r.shape))
        expected = 1 - r**4
        if (bad := _first_bad(value, expected, 1e-6, 1e-7)) is not None:
            raise Mismatch(f"γ({float(r[bad]):.2f}) is {_vs(value[bad], expected[bad])}",
                           "γ(r) = 1 − r⁴, written with tensor operations so it works on a whole tensor of ratios")
        if schedules is not SCHEDULES:
            raise Mismatch("this is not the library's registry", "register it in maskgit_lib.masking.SCHEDULES, the one gamma() reads")
        revealed = tokens_revealed_per_step("quartic", 8, 64)
        assert abs(float(gamma("quartic", 0.5)) - 0.9375) < 1e-9 and sum(revealed) == 64
        return f"γ(r) = 1 − r⁴, usable by gamma() and the decoding budget (8 steps, 64 tokens: {revealed})."

    return _grade(fn, "is registered:", body)


# ---------------------------------------------------------------------------------------------
# 04 · the Transformer's training


def _count_distribution(schedule: str, n_tokens: int, grid: int = 200_000) -> torch.Tensor:
    """P(⌈γ(r)·N⌉ clamped to [1, N] = c) for c = 0…N, r ~ U(0, 1), by the midpoint rule."""
    from maskgit_lib.masking import gamma

    r = (torch.arange(grid, dtype=torch.float64) + 0.5) / grid
    counts = torch.ceil(gamma(schedule, r) * n_tokens).clamp(1, n_tokens).long()
    return torch.bincount(counts, minlength=n_tokens + 1).double() / grid


def check_random_mask(random_mask: Callable) -> Verdict:
    """``random_mask(batch_size, n_tokens, schedule, generator) -> (B, N) bool``, True = masked."""

    def body() -> str:
        for n, schedule in ((16, "cosine"), (64, "linear"), (1, "cosine")):
            case = f"B=20000, N={n}, {schedule}"
            mask = _tensor(_call(random_mask, 20_000, n, schedule, _gen(n), case=case), "the mask", case, (20_000, n))
            if mask.dtype != torch.bool:
                raise Mismatch(f"the mask has dtype {mask.dtype}, expected torch.bool [{case}]", "compare to get booleans, e.g. ranks < n_masked")
            counts = mask.sum(1)  # (B,)
            if counts.min() < 1:
                raise Mismatch(f"an example has no masked token [{case}]", "mask ⌈γ(r)·N⌉ tokens and at least 1: .clamp(1, N)")
            again = _call(random_mask, 20_000, n, schedule, _gen(n), case=case)
            if not torch.equal(torch.as_tensor(again), mask):
                raise Mismatch(f"two calls with generators seeded alike gave different masks [{case}]",
                               "draw every random number with generator=generator (torch.rand(..., generator=generator))")
            if n == 1:
                continue
            first = counts[:512]
            if first.unique().numel() < 8:
                raise Mismatch(f"the first 512 examples have only {first.unique().numel()} different count(s) of masked tokens [{case}]",
                               "draw one ratio per example, r = torch.rand(batch_size, generator=generator), not one per batch")
            expected = _count_distribution(schedule, n)  # (N+1,)
            observed = torch.bincount(counts, minlength=n + 1).double() / len(counts)
            distance = float((observed.cumsum(0) - expected.cumsum(0)).abs().max())  # Kolmogorov–Smirnov
            if distance > 0.025:  # ~3.5 standard errors at B = 20,000
                mean, target = float(counts.double().mean() / n), float((expected * torch.arange(n + 1)).sum() / n)
                raise Mismatch(f"the numbers of masked tokens do not follow ⌈γ(r)·N⌉: on average {mean:.3f} of the tokens, "
                               f"expected {target:.3f} (KS distance {distance:.3f}) [{case}]",
                               "n_masked = ⌈γ(r)·N⌉ (round up: torch.ceil), at least 1, with γ = maskgit_lib.masking.gamma(schedule, r)")
            frequency = mask.double().mean(0)  # (N,) how often each position is masked
            worst = int((frequency - frequency.mean()).abs().argmax())
            if abs(float(frequency[worst] - frequency.mean())) > 0.03:
                raise Mismatch(f"position {worst} is masked in {float(frequency[worst]):.0%} of the examples, the average "
                               f"position in {float(frequency.mean()):.0%} [{case}]",
                               "put the masked tokens at random places: e.g. the n_masked smallest of N random scores per example "
                               "(torch.rand(B, N).argsort(1).argsort(1) < n_masked[:, None])")
        return "in distribution on 3 cases: ⌈γ(r)·N⌉ masked per example (KS distance < 0.025), one ratio per example, positions uniform, reproducible."

    return _grade(random_mask, "matches `maskgit_lib.masking.training_mask`", body)


def check_masked_cross_entropy(masked_cross_entropy: Callable) -> Verdict:
    """``masked_cross_entropy(logits (B, N, K), targets (B, N), mask (B, N)) -> scalar``."""
    from maskgit_lib.transformer import masked_token_loss

    def body() -> str:
        g = _gen(0)
        cases = []
        for b, n, k in ((4, 16, 32), (2, 64, 512), (1, 1, 8)):
            mask = torch.rand(b, n, generator=g) < 0.5
            mask[:, 0] = True  # at least one masked token per example
            cases.append((f"B={b}, N={n}, K={k}", torch.randn(b, n, k, generator=g) * 2, torch.randint(0, k, (b, n), generator=g), mask))
        uneven = torch.zeros(2, 16, dtype=torch.bool)
        uneven[0, :15], uneven[1, 0] = True, True  # 15 masked in one example, 1 in the other
        cases.append(("15 masked in one example, 1 in the other", torch.randn(2, 16, 32, generator=g), torch.randint(0, 32, (2, 16), generator=g), uneven))
        cases.append(("everything masked", torch.randn(3, 8, 16, generator=g), torch.randint(0, 16, (3, 8), generator=g), torch.ones(3, 8, dtype=torch.bool)))
        for case, logits, targets, mask in cases:
            mine_logits, ref_logits = logits.clone().requires_grad_(True), logits.clone().requires_grad_(True)
            value = _tensor(_call(masked_cross_entropy, mine_logits, targets.clone(), mask.clone(), case=case), "the loss", case)
            expected = masked_token_loss(ref_logits, targets, mask, label_smoothing=0.0)
            if value.numel() != 1:
                raise Mismatch(f"the loss has shape {tuple(value.shape)}, expected one number [{case}]", "reduce to a scalar")
            if not math.isclose(_float(value), _float(expected), rel_tol=1e-5, abs_tol=1e-6):
                every = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # (B, N)
                per_example = ((every * mask).sum(1) / mask.sum(1)).mean()
                hint = ("that is the mean over all positions: the loss covers only the masked ones (the visible ones are given)"
                        if math.isclose(_float(value), float(every.mean()), rel_tol=1e-5) else
                        "you averaged per example first: divide the sum over all masked tokens by their total number, so every masked token weighs the same"
                        if math.isclose(_float(value), float(per_example), rel_tol=1e-5) else
                        "cross-entropy per position (F.cross_entropy(logits.transpose(1, 2), targets, reduction='none'), shape (B, N)), "
                        "then sum where masked / number masked")
                raise Mismatch(f"the loss is {_vs(_float(value), _float(expected))} [{case}]", hint)
            if not value.requires_grad:
                raise Mismatch(f"the loss carries no gradient [{case}]", "keep it a tensor: no .item(), no float()")
            value.backward()
            expected.backward()
            grad = mine_logits.grad if mine_logits.grad is not None else torch.zeros_like(logits)
            if (bad := _first_bad(grad, ref_logits.grad, 1e-4, 1e-7)) is not None:
                raise Mismatch(f"the gradient at logits{_at(bad)} differs [{case}]", "nothing may flow to visible positions")
        return f"on {len(cases)} cases (one token, uneven masks, everything masked): same value and gradient (label_smoothing=0)."

    return _grade(masked_cross_entropy, "matches `maskgit_lib.transformer.masked_token_loss`", body)


def check_label_dropout(drop_labels: Callable) -> Verdict:
    """``drop_labels(labels (B,), mask (B, N), p, generator) -> labels`` with −1 ("no class") where dropped."""
    from maskgit_lib.masking import training_mask

    def body() -> str:
        n = 16
        for p in (0.1, 0.3, 0.0, 1.0):
            case = f"B=20000, p={p}"
            labels = torch.randint(0, 8, (20_000,), generator=_gen(1))
            mask = training_mask(20_000, n, "cosine", generator=_gen(2))  # (B, N)
            out = _tensor(_call(drop_labels, labels.clone(), mask.clone(), p, _gen(3), case=case), "the labels", case, (20_000,))
            dropped = out != labels
            if (out[dropped] != -1).any():
                raise Mismatch(f"a dropped label became {int(out[dropped][out[dropped] != -1][0])}, expected −1 [{case}]",
                               "−1 is the course's 'no class' label: torch.where(drop, -1, labels)")
            again = _call(drop_labels, labels.clone(), mask.clone(), p, _gen(3), case=case)
            if not torch.equal(torch.as_tensor(again), out):
                raise Mismatch(f"two calls with generators seeded alike dropped different labels [{case}]",
                               "draw the random numbers with generator=generator")
            rate = float(dropped.double().mean())
            if abs(rate - p) > 0.015:
                raise Mismatch(f"{rate:.1%} of the labels dropped, expected {p:.0%} [{case}]",
                               "drop each label with probability p: torch.rand(B, generator=generator) < p")
            share = mask.double().mean(1)  # (B,) masked share of each example
            heavy, light = share > 0.9, share < 0.3
            if 0 < p < 1:
                rate_heavy, rate_light = float(dropped[heavy].double().mean()), float(dropped[light].double().mean())
                if abs(rate_heavy - p) > 0.04 or abs(rate_light - p) > 0.04:
                    raise Mismatch(f"labels of heavily masked examples are dropped {rate_heavy:.0%} of the time, of lightly "
                                   f"masked ones {rate_light:.0%} [{case}]",
                                   "drop independently of the mask: the original project tied the two, so the model rarely "
                                   "saw a label with an all-masked grid, the first step of guided decoding")
        return "on 4 rates (0, 0.1, 0.3, 1): −1 where dropped, the right rate, independent of the mask, reproducible."

    return _grade(drop_labels, "matches `maskgit_lib.masking.label_dropout`", body)


def check_split_accuracy(visible_and_masked_accuracy: Callable) -> Verdict:
    """``visible_and_masked_accuracy(logits (B, N, K), targets (B, N), mask (B, N)) -> (visible, masked)``."""

    def reference(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> tuple[float, float]:
        right = logits.argmax(-1) == targets  # (B, N)
        return float((right & ~mask).sum() / (~mask).sum()), float((right & mask).sum() / mask.sum())

    def body() -> str:
        g = _gen(0)
        cases = []
        for b, n, k, share in ((4, 16, 8, 0.5), (2, 64, 32, 0.9), (8, 4, 4, 0.25)):
            mask = torch.rand(b, n, generator=g) < share
            mask[0, 0], mask[0, 1] = True, False  # both kinds present
            targets = torch.randint(0, k, (b, n), generator=g)
            logits = torch.randn(b, n, k, generator=g)
            logits[..., 0] += 2 * mask  # masked positions lean towards code 0: the two accuracies differ
            cases.append((f"B={b}, N={n}, K={k}, {share:.0%} masked", logits, targets, mask))
        for case, logits, targets, mask in cases:
            expected = reference(logits, targets, mask)
            mine = _pair(_call(visible_and_masked_accuracy, logits.clone(), targets.clone(), mask.clone(), case=case),
                         "visible, masked", case)
            try:
                mine = tuple(_float(m) for m in mine)
            except (TypeError, ValueError):
                raise Mismatch(f"expected two numbers [{case}]") from None
            for what, value, target in zip(("visible", "masked"), mine, expected, strict=True):
                if not math.isclose(value, target, rel_tol=1e-6, abs_tol=1e-9):
                    hint = ("swapped: visible positions are where mask is False" if math.isclose(value, expected[what == "visible"], rel_tol=1e-6) else
                            "divide by the number of positions of that kind, not by all B·N"
                            if math.isclose(value * mask.numel(), target * (int((~mask).sum()) if what == "visible" else int(mask.sum())), rel_tol=1e-6) else
                            "prediction = logits.argmax(-1); accuracy = share of exact predictions among the positions of that kind")
                    raise Mismatch(f"the {what} accuracy is {_vs(value, target)} [{case}]", hint)
        return "on 3 cases (25 to 90% masked): both accuracies."

    return _grade(visible_and_masked_accuracy, "is right", body)


# ---------------------------------------------------------------------------------------------
# 05 · iterative decoding


def _tiny_model(seed: int = 0, n_tokens: int = 16, codebook_size: int = 32, n_classes: int = 4):
    from maskgit_lib.transformer import MaskGITTransformer

    torch.manual_seed(seed)
    return MaskGITTransformer(codebook_size, n_classes, n_tokens, width=32, depth=2, heads=4, dropout=0.0).eval()


def check_decode_step(decode_step: Callable) -> Verdict:
    """``decode_step(logits, tokens, mask_id, n_keep, t, steps, temperature, randomness, generator) -> (tokens, confidence)``."""
    from maskgit_lib.sampling import decode_step as library

    k, n, mask_id = 8, 16, 8
    cases = [  # (what, known tokens, n_keep, t, steps, temperature, randomness)
        ("all masked, no noise", 0, 1, 0, 8, 1.0, 0.0),
        ("3 known tokens, temperature 0.5, no noise", 3, 7, 2, 8, 0.5, 0.0),
        ("all masked, Gumbel noise 4.5", 0, 2, 0, 8, 1.0, 4.5),
        ("temperature 0.01 (confidence ties if tempered)", 0, 4, 1, 8, 0.01, 0.0),
        ("T = 1: everything fixed at once", 0, n, 0, 1, 1.0, 4.5),
        ("T = N: one more token per step", 5, 6, 5, n, 1.0, 4.5),
        ("late step: little noise left", 0, 8, 6, 8, 1.0, 4.5),
        ("last step of 8", 12, n, 7, 8, 0.7, 4.5),
    ]

    def body() -> str:
        for seed, (what, n_known, n_keep, t, steps, temperature, randomness) in enumerate(cases):
            g = _gen(seed)
            logits = torch.randn(4, n, k, generator=g) * 2  # (B, N, K)
            tokens = torch.full((4, n), mask_id)
            tokens[:, :n_known] = torch.randint(0, k, (4, n_known), generator=g)
            case = f"{what}; n_keep={n_keep}, t={t}, steps={steps}"
            expected, expected_conf = library(logits, tokens, mask_id, n_keep, t, steps, temperature, randomness, _gen(100 + seed))
            mine = _pair(_call(decode_step, logits.clone(), tokens.clone(), mask_id, n_keep, t, steps, temperature, randomness,
                               _gen(100 + seed), case=case), "tokens, confidence", case)
            new = _tensor(mine[0], "the new tokens", case, (4, n))
            confidence = _tensor(mine[1], "the confidence", case, (4, n))
            known = tokens != mask_id
            if not torch.equal(new[known], tokens[known]):
                i = tuple(int(x) for x in torch.nonzero(known & (new != tokens))[0])
                raise Mismatch(f"known token {_at(i)} changed from {int(tokens[i])} to {int(new[i])} [{case}]",
                               "known tokens stay: torch.where(unknown, sampled, tokens), and their score is +∞ so they are always kept")
            kept = (new != mask_id).sum(1)
            if (kept != n_keep).any():
                b = int(torch.nonzero(kept != n_keep)[0])
                raise Mismatch(f"row {b} keeps {int(kept[b])} tokens, expected n_keep = {n_keep} (known ones included) [{case}]",
                               "rank all positions by score and keep the n_keep best; re-mask the rest with mask_id")
            unknown = ~known
            sampled = _sampled(logits, temperature, seed)  # (B, N) what both drew first
            tempered = torch.log_softmax(logits / temperature, -1).gather(-1, sampled[..., None])[..., 0]  # (B, N)
            if (bad := _first_bad(confidence[unknown], expected_conf[unknown], 1e-4, 1e-5)) is not None:
                was_tempered = temperature != 1 and torch.allclose(confidence[unknown].float(), tempered[unknown], atol=1e-5)
                mine_kept = unknown & (new != mask_id)  # where the learner's own sample is visible
                own = torch.log_softmax(logits, -1).gather(-1, new.clamp(max=k - 1)[..., None])[..., 0]  # (B, N)
                if not was_tempered and mine_kept.any() and torch.allclose(confidence[mine_kept].float(), own[mine_kept], atol=1e-5):
                    raise Mismatch(f"your samples differ from the library's with the same generator [{case}]",
                                   "draw in this order, both with generator=generator: first the sample, torch.multinomial("
                                   "probs.view(-1, K), 1, generator=generator), then the noise, gumbel_noise(shape, generator)")
                raise Mismatch(
                    f"the confidence of a masked position is {_num(float(confidence[unknown][bad]))}, expected "
                    f"{_num(float(expected_conf[unknown][bad]))} [{case}]",
                    "you scored with the tempered log-probabilities; at low temperature they are all ≈ 0 and tie: score with "
                    "the untempered ones, log_softmax(logits), like the reference" if was_tempered else
                    "confidence = log_softmax(logits) (untempered) at the sampled token: .gather(-1, sampled[..., None])")
            if not torch.equal(new, expected):
                i = tuple(int(x) for x in torch.nonzero(new != expected)[0])
                both = new[i] != mask_id and expected[i] != mask_id
                raise Mismatch(
                    f"position {_at(i)} is {_token(new[i], mask_id)}, expected {_token(expected[i], mask_id)} [{case}]",
                    "the sample differs: sample from softmax(logits / temperature) with torch.multinomial(probs.view(-1, K), 1, "
                    "generator=generator), before drawing the noise" if both else
                    "a different position was kept: keep the n_keep highest scores, score = confidence (+∞ if known)"
                    if randomness == 0 or t == steps - 1 else
                    "a different position was kept: score = confidence + randomness · (1 − (t+1)/T) · gumbel_noise(shape, "
                    "generator), the noise drawn after the sample")
        return f"on {len(cases)} cases (known tokens, temperature 0.01 to 1, annealed Gumbel noise, T = 1, T = N, the last step): identical tokens and confidences."

    return _grade(decode_step, "matches `maskgit_lib.sampling.decode_step`", body)


def _sampled(logits: torch.Tensor, temperature: float, seed: int) -> torch.Tensor:
    """The samples ``decode_step`` draws first with the generator of case ``seed`` (for diagnosing confidences)."""
    probs = torch.softmax(logits.float() / max(temperature, 1e-6), dim=-1)
    b, n, k = logits.shape
    return torch.multinomial(probs.view(-1, k), 1, generator=_gen(100 + seed)).view(b, n)


def _token(value: torch.Tensor, mask_id: int) -> str:
    return "[MASK]" if int(value) == mask_id else f"token {int(value)}"


class _ClassSensitiveModel(torch.nn.Module):
    """A stand-in for the Transformer whose logits depend strongly on the class, so that guidance shows.

    forward(tokens (B, N), labels (B,) or None) -> (B, N, K): a logit table per token id, plus one
    per class (``labels`` None or −1: the "no class" row).
    """

    def __init__(self, codebook_size: int = 32, n_classes: int = 4, seed: int = 7):
        super().__init__()
        g = _gen(seed)
        self.token_logits = torch.nn.Parameter(torch.randn(codebook_size + 1, codebook_size, generator=g))  # (K+1, K): codes + [MASK]
        self.class_logits = torch.nn.Parameter(3 * torch.randn(n_classes + 1, codebook_size, generator=g))  # (C+1, K): last = no class

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        rows = torch.full((len(tokens),), len(self.class_logits) - 1) if labels is None else labels.clone()
        rows[rows < 0] = len(self.class_logits) - 1
        return self.token_logits[tokens] + self.class_logits[rows][:, None, :]  # (B, N, K)


def check_guided_logits(guided_logits: Callable) -> Verdict:
    """``guided_logits(model, tokens (B, N), labels (B,) | None, scale) -> (B, N, K)``: classifier-free guidance."""
    from maskgit_lib.sampling import guided_logits as library

    def body() -> str:
        model = _ClassSensitiveModel()
        mask_id = 32
        g = _gen(0)
        tokens = torch.randint(0, 32, (3, 16), generator=g)  # (B, N)
        tokens[:, ::2] = mask_id
        cases = [("scale 3", torch.tensor([0, 1, 3]), 3.0), ("scale 0: no guidance", torch.tensor([0, 1, 3]), 0.0),
                 ("scale 0.5, one example", torch.tensor([2]), 0.5), ("no labels: nothing to guide towards", None, 2.0)]
        for case, labels, scale in cases:
            batch = tokens[: len(labels) if labels is not None else 3]
            with torch.no_grad():
                expected = library(model, batch, labels, scale)
                value = _tensor(_call(guided_logits, model, batch.clone(), labels, scale, case=case), "the logits", case, tuple(expected.shape))
            if (bad := _first_bad(value, expected, 1e-4, 1e-4)) is not None:
                hint = ("without labels there is no condition: return the unconditional logits, whatever the scale"
                        if labels is None else
                        "ℓ = ℓ_c + s·(ℓ_c − ℓ_u): the conditional logits pushed away from the unconditional ones, which come from "
                        "the same model with labels=None (the 'no class' token); s = 0 is no guidance")
                raise Mismatch(f"logits{_at(bad)} is {_vs(_float(value[bad]), _float(expected[bad]))} [{case}]", hint)
        return "on 4 cases (scale 0 to 3, one example, no labels)."

    return _grade(guided_logits, "matches `maskgit_lib.sampling.guided_logits`", body)


# ---------------------------------------------------------------------------------------------
# 06 · editing and evaluation


def check_inpaint(inpaint: Callable, step_fn: Callable | None = None) -> Verdict:
    """``inpaint(model, tokens (B, N), edit_mask (N,), labels (B,), steps, seed, step_fn) -> (B, N)``.

    Compared with ``maskgit_decode(..., init_tokens=tokens, edit_mask=edit_mask)`` at its defaults
    (cosine, temperature 1, randomness 4.5, no guidance). ``step_fn`` is the decoding step the
    inpainting loop is given: the library's by default, so this check grades the loop alone.
    """
    from maskgit_lib.sampling import decode_step, maskgit_decode

    step_fn = step_fn or decode_step

    def body() -> str:
        model = _tiny_model(1)
        mask_id, n = model.layout.mask_id, model.n_tokens
        g = _gen(0)
        image_tokens = torch.randint(0, 32, (3, n), generator=g)
        box = torch.zeros(n, dtype=torch.bool)
        box[5:11] = True
        one = torch.zeros(n, dtype=torch.bool)
        one[7] = True
        cases = [("6 of 16 tokens, 4 steps", box, 4, 3), ("6 of 16 tokens, 8 steps (more steps than tokens)", box, 8, 3),
                 ("a single token", one, 4, 1), ("every token: plain generation", torch.ones(n, dtype=torch.bool), 6, 2)]
        for seed, (case, region, steps, batch) in enumerate(cases):
            tokens, labels = image_tokens[:batch], torch.arange(batch) % 4
            expected, _ = maskgit_decode(model, batch, labels, steps=steps, seed=seed, init_tokens=tokens, edit_mask=region)
            with torch.no_grad():
                value = _call(inpaint, model, tokens.clone(), region.clone(), labels.clone(), steps, seed, step_fn, case=case)
            value = _tensor(value, "the result", case, (batch, n))
            outside = ~region.expand(batch, n)
            if not torch.equal(value[outside], tokens[outside]):
                i = tuple(int(x) for x in torch.nonzero(outside & (value != tokens))[0])
                raise Mismatch(f"token {_at(i)} outside the edit region changed [{case}]",
                               "start from the image's tokens with only the region set to mask_id; known tokens are never resampled")
            if (value == mask_id).any():
                raise Mismatch(f"[MASK] tokens are left after the last step [{case}]",
                               "the budget of the last step must be N: kept + all of the region")
            if not torch.equal(value, expected):
                i = tuple(int(x) for x in torch.nonzero(value != expected)[0])
                raise Mismatch(f"token {_at(i)} is {int(value[i])}, maskgit_decode gives {int(expected[i])} [{case}]",
                               "spread only the M masked tokens over the steps: steps = min(steps, M), n_keep at step t = "
                               "(N − M) + tokens_fixed_after_step('cosine', steps, M)[t]; one generator seeded with seed; "
                               "step_fn(model(tokens, labels), tokens, mask_id, n_keep, t, steps, 1.0, 4.5, generator)")
        return f"on {len(cases)} cases (a box, more steps than tokens, one token, the whole grid): identical tokens."

    return _grade(inpaint, "matches `maskgit_lib.sampling.maskgit_decode(init_tokens=…, edit_mask=…)`", body)


def check_frechet_distance(frechet_distance: Callable) -> Verdict:
    """``frechet_distance(feats_a (n_a, d), feats_b (n_b, d)) -> float``: FID between two feature sets."""
    from maskgit_lib.metrics import frechet_distance as library

    def body() -> str:
        rng = np.random.default_rng(0)
        mixing = rng.normal(size=(16, 16))
        a16 = rng.normal(size=(500, 16)) @ mixing
        cases = [("500 vs 400 features, d = 16, different covariances", a16, rng.normal(size=(400, 16)) * 2 + 0.5),
                 ("the same set twice", a16, a16.copy()),
                 ("shifted means only, d = 3", rng.normal(size=(300, 3)), rng.normal(size=(300, 3)) + np.array([1.0, -2.0, 0.5])),
                 ("200 vs 250, d = 4", rng.normal(size=(200, 4)), rng.normal(size=(250, 4)) @ rng.normal(size=(4, 4)))]
        for case, a, b in cases:
            expected = library(a, b)
            value = _call(frechet_distance, a.copy(), b.copy(), case=case)
            try:
                value = float(np.real(value))
            except (TypeError, ValueError):
                raise Mismatch(f"returned {type(value).__name__}, expected one number [{case}]") from None
            scale = float(np.trace(np.cov(a, rowvar=False)) + np.trace(np.cov(b, rowvar=False)))
            if not math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-6 * scale):
                biased = (((a.mean(0) - b.mean(0)) ** 2).sum() + _trace_terms(a, b, ddof=0))
                hint = ("covariances divide by n − 1 (np.cov(x, rowvar=False)), not n" if math.isclose(value, biased, rel_tol=1e-4) else
                        "FID = ‖μa − μb‖² + tr Σa + tr Σb − 2·tr (Σa Σb)^½; tr (Σa Σb)^½ is the sum of the square roots of the "
                        "eigenvalues of Σa Σb (np.linalg.eigvals, real part, clipped at 0), or the trace of scipy.linalg.sqrtm")
                raise Mismatch(f"{_vs(value, expected)} [{case}]", hint)
        return "on 4 cases (different covariances, identical sets, shifted means, unequal sizes)."

    return _grade(frechet_distance, "matches `maskgit_lib.metrics.frechet_distance`", body)


def _trace_terms(a: np.ndarray, b: np.ndarray, ddof: int) -> float:
    sa, sb = np.cov(a, rowvar=False, ddof=ddof), np.cov(b, rowvar=False, ddof=ddof)
    root = np.sqrt(np.clip(np.linalg.eigvals(sa @ sb).real, 0, None)).sum()
    return float(np.trace(sa) + np.trace(sb) - 2 * root)
