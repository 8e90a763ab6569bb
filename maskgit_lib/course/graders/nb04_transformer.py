"""Graders for notebook 04 (the Transformer's training): each ``check_*`` prints one line, ✓ / ✗ / ✎."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from maskgit_lib.course.graders.verdict import (
    Mismatch,
    Verdict,
    as_float,
    at,
    call_learner,
    first_mismatch,
    grade,
    num,
    pair_of,
    seeded,
    tensor_of,
    vs,
)


def _count_distribution(schedule: str, n_tokens: int, grid: int = 200_000) -> torch.Tensor:
    """P(⌈γ(r)·N⌉ clamped to [1, N] = c) for c = 0…N, r ~ U(0, 1), by the midpoint rule."""
    from maskgit_lib.generator.masking import gamma

    r = (torch.arange(grid, dtype=torch.float64) + 0.5) / grid
    counts = torch.ceil(gamma(schedule, r) * n_tokens).clamp(1, n_tokens).long()
    return torch.bincount(counts, minlength=n_tokens + 1).double() / grid


def check_random_mask(random_mask: Callable) -> Verdict:
    """``random_mask(batch_size, n_tokens, schedule, generator) -> (B, N) bool``, True = masked."""

    def body() -> str:
        for n, schedule in ((16, "cosine"), (64, "linear"), (1, "cosine")):
            case = f"B=20000, N={n}, {schedule}"
            mask = tensor_of(call_learner(random_mask, 20_000, n, schedule, seeded(n), case=case), "the mask", case, (20_000, n))
            if mask.dtype != torch.bool:
                raise Mismatch(f"the mask has dtype {mask.dtype}, expected torch.bool [{case}]", "compare to get booleans, e.g. ranks < n_masked")
            counts = mask.sum(1)  # (B,)
            if counts.min() < 1:
                raise Mismatch(f"an example has no masked token [{case}]", "mask ⌈γ(r)·N⌉ tokens and at least 1: .clamp(1, N)")
            again = call_learner(random_mask, 20_000, n, schedule, seeded(n), case=case)
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
                               "n_masked = ⌈γ(r)·N⌉ (round up: torch.ceil), at least 1, with γ = maskgit_lib.generator.masking.gamma(schedule, r)")
            frequency = mask.double().mean(0)  # (N,) how often each position is masked
            worst = int((frequency - frequency.mean()).abs().argmax())
            if abs(float(frequency[worst] - frequency.mean())) > 0.03:
                raise Mismatch(f"position {worst} is masked in {float(frequency[worst]):.0%} of the examples, the average "
                               f"position in {float(frequency.mean()):.0%} [{case}]",
                               "put the masked tokens at random places: e.g. the n_masked smallest of N random scores per example "
                               "(torch.rand(B, N).argsort(1).argsort(1) < n_masked[:, None])")
        return "in distribution on 3 cases: ⌈γ(r)·N⌉ masked per example (KS distance < 0.025), one ratio per example, positions uniform, reproducible."

    return grade(random_mask, "matches `maskgit_lib.generator.masking.training_mask`", body)


def check_masked_cross_entropy(masked_cross_entropy: Callable) -> Verdict:
    """``masked_cross_entropy(logits (B, N, K), targets (B, N), mask (B, N)) -> scalar``."""
    from maskgit_lib.generator.transformer import masked_token_loss

    def body() -> str:
        g = seeded(0)
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
            value = tensor_of(call_learner(masked_cross_entropy, mine_logits, targets.clone(), mask.clone(), case=case), "the loss", case)
            expected = masked_token_loss(ref_logits, targets, mask, label_smoothing=0.0)
            if value.numel() != 1:
                raise Mismatch(f"the loss has shape {tuple(value.shape)}, expected one number [{case}]", "reduce to a scalar")
            if not math.isclose(as_float(value), as_float(expected), rel_tol=1e-5, abs_tol=1e-6):
                every = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # (B, N)
                per_example = ((every * mask).sum(1) / mask.sum(1)).mean()
                hint = ("that is the mean over all positions: the loss covers only the masked ones (the visible ones are given)"
                        if math.isclose(as_float(value), float(every.mean()), rel_tol=1e-5) else
                        "you averaged per example first: divide the sum over all masked tokens by their total number, so every masked token weighs the same"
                        if math.isclose(as_float(value), float(per_example), rel_tol=1e-5) else
                        "cross-entropy per position (F.cross_entropy(logits.transpose(1, 2), targets, reduction='none'), shape (B, N)), "
                        "then sum where masked / number masked")
                raise Mismatch(f"the loss is {vs(as_float(value), as_float(expected))} [{case}]", hint)
            if not value.requires_grad:
                raise Mismatch(f"the loss carries no gradient [{case}]", "keep it a tensor: no .item(), no float()")
            value.backward()
            expected.backward()
            grad = mine_logits.grad if mine_logits.grad is not None else torch.zeros_like(logits)
            if (bad := first_mismatch(grad, ref_logits.grad, 1e-4, 1e-7)) is not None:
                raise Mismatch(f"the gradient at logits{at(bad)} differs [{case}]", "nothing may flow to visible positions")
        return f"on {len(cases)} cases (one token, uneven masks, everything masked): same value and gradient (label_smoothing=0)."

    return grade(masked_cross_entropy, "matches `maskgit_lib.generator.transformer.masked_token_loss`", body)


def check_label_dropout(drop_labels: Callable) -> Verdict:
    """``drop_labels(labels (B,), mask (B, N), p, generator) -> labels`` with −1 ("no class") where dropped."""
    from maskgit_lib.generator.masking import training_mask

    def body() -> str:
        n = 16
        for p in (0.1, 0.3, 0.0, 1.0):
            case = f"B=20000, p={p}"
            labels = torch.randint(0, 8, (20_000,), generator=seeded(1))
            mask = training_mask(20_000, n, "cosine", generator=seeded(2))  # (B, N)
            out = tensor_of(call_learner(drop_labels, labels.clone(), mask.clone(), p, seeded(3), case=case), "the labels", case, (20_000,))
            dropped = out != labels
            if (out[dropped] != -1).any():
                raise Mismatch(f"a dropped label became {int(out[dropped][out[dropped] != -1][0])}, expected −1 [{case}]",
                               "−1 is the course's 'no class' label: torch.where(drop, -1, labels)")
            again = call_learner(drop_labels, labels.clone(), mask.clone(), p, seeded(3), case=case)
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

    return grade(drop_labels, "matches `maskgit_lib.generator.masking.label_dropout`", body)


def check_split_accuracy(visible_and_masked_accuracy: Callable) -> Verdict:
    """``visible_and_masked_accuracy(logits (B, N, K), targets (B, N), mask (B, N)) -> (visible, masked)``."""

    def reference(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> tuple[float, float]:
        right = logits.argmax(-1) == targets  # (B, N)
        return float((right & ~mask).sum() / (~mask).sum()), float((right & mask).sum() / mask.sum())

    def body() -> str:
        g = seeded(0)
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
            mine = pair_of(call_learner(visible_and_masked_accuracy, logits.clone(), targets.clone(), mask.clone(), case=case),
                         "visible, masked", case)
            try:
                mine = tuple(as_float(m) for m in mine)
            except (TypeError, ValueError):
                raise Mismatch(f"expected two numbers [{case}]") from None
            for what, value, target in zip(("visible", "masked"), mine, expected, strict=True):
                if not math.isclose(value, target, rel_tol=1e-6, abs_tol=1e-9):
                    hint = ("swapped: visible positions are where mask is False" if math.isclose(value, expected[what == "visible"], rel_tol=1e-6) else
                            "divide by the number of positions of that kind, not by all B·N"
                            if math.isclose(value * mask.numel(), target * (int((~mask).sum()) if what == "visible" else int(mask.sum())), rel_tol=1e-6) else
                            "prediction = logits.argmax(-1); accuracy = share of exact predictions among the positions of that kind")
                    raise Mismatch(f"the {what} accuracy is {vs(value, target)} [{case}]", hint)
        return "on 3 cases (25 to 90% masked): both accuracies."

    return grade(visible_and_masked_accuracy, "is right", body)


def _library_step(model, optimizer, tokens, labels, generator, schedule: str, class_dropout: float, label_smoothing: float):
    """The step of ``TransformerTrainer.train_step`` (and its ``_loss``) on one process, built from the same
    library functions in the same order, so that one generator draws the same labels and masks.

    Returns (loss, labels given to the model, mask, logits before the step).
    """
    from maskgit_lib.generator.masking import label_dropout, training_mask
    from maskgit_lib.generator.transformer import masked_token_loss

    drop = label_dropout(len(labels), class_dropout, generator)  # (B,) drawn first, independent of the mask
    labels = torch.where(drop, -1, labels)  # (B,)
    mask = training_mask(len(tokens), tokens.shape[1], schedule, generator=generator)  # (B, N)
    logits = model(torch.where(mask, model.layout.mask_id, tokens), labels)  # (B, N, K)
    loss = masked_token_loss(logits, tokens, mask, label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), labels, mask, logits.detach()


class _Recorder:
    """Remembers what the learner's step handed to the model (a forward pre-hook)."""

    def __init__(self, model: torch.nn.Module):
        self.calls: list[tuple[torch.Tensor, torch.Tensor | None]] = []
        self.handle = model.register_forward_pre_hook(self, with_kwargs=True)

    def __call__(self, module, args, kwargs):
        tokens = args[0] if args else kwargs.get("tokens")
        labels = args[1] if len(args) > 1 else kwargs.get("labels")
        self.calls.append((tokens.detach().clone(), None if labels is None else labels.detach().clone()))


def _same_parameters(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.allclose(p, q, rtol=1e-4, atol=1e-6) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def check_training_step(training_step: Callable) -> Verdict:
    """``training_step(model, optimizer, tokens (B, N), labels (B,), generator, schedule, class_dropout,
    label_smoothing) -> loss``: one step of masked-token training.

    Checked by behaviour against the library's step with generators seeded alike: the same labels
    dropped and the same positions replaced by [MASK], the same loss (masked tokens only), the same
    update of the parameters over two steps (so a missing ``zero_grad`` shows), and on a fixed batch
    of a tiny model the loss falls over 20 steps.
    """
    from maskgit_lib.course.graders.verdict import tiny_model
    from maskgit_lib.generator.masking import label_dropout
    from maskgit_lib.generator.transformer import masked_token_loss

    b, n, k, c, schedule, p, smoothing = 16, 16, 32, 4, "cosine", 0.25, 0.1
    g = seeded(0)
    tokens, labels = torch.randint(0, k, (b, n), generator=g), torch.randint(0, c, (b,), generator=g)
    seed = next(s for s in range(100) if label_dropout(b, p, seeded(s)).any())  # a batch in which a label is dropped
    case = f"B={b}, N={n}, K={k}, schedule={schedule}, class_dropout={p}, label_smoothing={smoothing}"

    def step(model, optimizer, generator) -> float:
        value = call_learner(training_step, model, optimizer, tokens.clone(), labels.clone(), generator,
                             schedule, p, smoothing, case=case)
        try:
            return as_float(value)
        except (TypeError, ValueError):
            raise Mismatch(f"returned {type(value).__name__}, expected the loss, one number [{case}]",
                           "return the loss (loss.detach() or loss.item())") from None

    def body() -> str:
        mine_model, ref_model = tiny_model(1, n, k, c), tiny_model(1, n, k, c)
        mine_opt, ref_opt = torch.optim.SGD(mine_model.parameters(), lr=0.1), torch.optim.SGD(ref_model.parameters(), lr=0.1)
        recorder = _Recorder(mine_model)
        try:
            loss = step(mine_model, mine_opt, seeded(seed))
        finally:
            recorder.handle.remove()
        ref_loss, ref_labels, ref_mask, ref_logits = _library_step(ref_model, ref_opt, tokens, labels, seeded(seed), schedule, p, smoothing)
        if not recorder.calls:
            raise Mismatch(f"the model was never called [{case}]", "logits = model(inputs, labels)")
        inputs, given = recorder.calls[0]
        mask_id = mine_model.layout.mask_id
        masked = inputs == mask_id  # (B, N)
        if not masked.any():
            raise Mismatch(f"no position of the model's input is [MASK] (id {mask_id}) [{case}]",
                           "the model must not see what it predicts: inputs = torch.where(mask, model.layout.mask_id, tokens)")
        if not torch.equal(inputs[~masked], tokens[~masked]):
            raise Mismatch(f"visible positions of the model's input differ from the tokens [{case}]",
                           "replace only the masked positions: torch.where(mask, model.layout.mask_id, tokens)")
        order = "draw from generator in the trainer's order: label_dropout(B, class_dropout, generator) first, then training_mask(B, N, schedule, generator=generator)"
        if given is None or not (given < 0).any():
            raise Mismatch(f"no label was dropped, where the library drops {int((ref_labels < 0).sum())} of {b} [{case}]",
                           "labels = torch.where(label_dropout(B, class_dropout, generator), -1, labels): −1 is \"no class\"")
        if not torch.equal(masked, ref_mask) or not torch.equal(given, ref_labels):
            which = "masked positions" if not torch.equal(masked, ref_mask) else "dropped labels"
            raise Mismatch(f"with the same generator, your {which} differ from the library's [{case}]", order)
        if not math.isclose(loss, float(ref_loss), rel_tol=1e-4, abs_tol=1e-6):
            everywhere = float(masked_token_loss(ref_logits, tokens, ref_mask, smoothing, all_tokens=True))
            unsmoothed = float(masked_token_loss(ref_logits, tokens, ref_mask, 0.0))
            hint = ("that is the loss over all positions: count only the masked ones, masked_token_loss(logits, tokens, mask, label_smoothing)"
                    if math.isclose(loss, everywhere, rel_tol=1e-4) else
                    "that is the loss without label smoothing: pass label_smoothing to masked_token_loss"
                    if math.isclose(loss, unsmoothed, rel_tol=1e-4) else
                    "the loss compares the logits with the true tokens (not the inputs) at the masked positions: "
                    "masked_token_loss(logits, tokens, mask, label_smoothing)")
            raise Mismatch(f"the loss is {vs(loss, ref_loss)} [{case}]", hint)
        if _same_parameters(mine_model, tiny_model(1, n, k, c)):
            raise Mismatch(f"the parameters did not change [{case}]", "loss.backward(), then optimizer.step()")
        if not _same_parameters(mine_model, ref_model):
            raise Mismatch(f"after one step the parameters differ from the library's step [{case}]",
                           "one optimizer.zero_grad(), one loss.backward() and one optimizer.step() per call")
        step(mine_model, mine_opt, seeded(seed + 1))
        _library_step(ref_model, ref_opt, tokens, labels, seeded(seed + 1), schedule, p, smoothing)
        if not _same_parameters(mine_model, ref_model):
            raise Mismatch(f"after a second step the parameters differ from the library's [{case}]",
                           "the first step's gradients were still there and added up: optimizer.zero_grad() before loss.backward()")
        model = tiny_model(2, n, k, c)
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
        fixed = seeded(99)
        probe_labels = labels.clone()
        probe_mask = torch.rand(b, n, generator=fixed) < 0.5  # (B, N) one fixed mask to measure the loss on

        def probe() -> float:
            with torch.no_grad():
                return float(masked_token_loss(model(torch.where(probe_mask, model.layout.mask_id, tokens), probe_labels),
                                               tokens, probe_mask, 0.0))

        before = probe()
        for t in range(20):
            step(model, optimizer, seeded(1000 + t))
        after = probe()
        if not after < before:
            raise Mismatch(f"20 steps on one batch did not lower its loss ({num(before)} → {num(after)}) [{case}]",
                           "the step must descend the loss: loss.backward() on the loss you return, then optimizer.step()")
        return (f"with the same generator: the same labels dropped, the same positions [MASK]ed, the same loss and the same "
                f"update over two steps; on a fixed batch its loss fell from {num(before)} to {num(after)} in 20 steps.")

    return grade(training_step, "matches the step of `maskgit_lib.generator.TransformerTrainer`", body)
