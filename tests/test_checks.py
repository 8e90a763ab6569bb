"""The graders of maskgit_lib.course.graders: each accepts a right answer and rejects typical wrong ones with
one line that names what differs and hints at the fix; stubs say "not yet"; nothing raises."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from maskgit_lib.course import graders
from maskgit_lib.generator.decoding import gumbel_noise
from maskgit_lib.generator.masking import gamma, tokens_fixed_after_step

# ------------------------------------------------------------------ right answers, written independently


def quantize(z, codebook):
    indices = torch.cdist(z, codebook).argmin(1)  # (N,)
    return codebook[indices] + (z - z.detach()), indices


def ema_update(count, total, z, indices, decay):
    k = len(count)
    count = decay * count + (1 - decay) * torch.bincount(indices, minlength=k).float()
    total = decay * total + (1 - decay) * torch.zeros_like(total).index_add_(0, indices, z)
    n = count.sum()
    return count, total, total / ((count + 1e-5) / (n + k * 1e-5) * n)[:, None]


def perplexity(counts):
    p = counts.double() / counts.sum()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def vq_loss(z, z_q, beta):
    return ((z.detach() - z_q) ** 2).mean() + beta * ((z - z_q.detach()) ** 2).mean()


def training_step(model, optimizer, tokens, labels, generator, schedule="cosine", class_dropout=0.1, label_smoothing=0.1,
                  all_tokens=False, no_mask=False, no_zero_grad=False, no_step=False, mask_first=False):
    """One step of masked-token training from the library's pieces; the flags make the usual mistakes."""
    from maskgit_lib.generator import label_dropout, masked_token_loss, training_mask

    if mask_first:
        mask = training_mask(len(tokens), tokens.shape[1], schedule, generator=generator)
    drop = label_dropout(len(labels), class_dropout, generator)
    if not mask_first:
        mask = training_mask(len(tokens), tokens.shape[1], schedule, generator=generator)
    logits = model(tokens if no_mask else torch.where(mask, model.layout.mask_id, tokens), torch.where(drop, -1, labels))
    loss = masked_token_loss(logits, tokens, mask, label_smoothing, all_tokens=all_tokens)
    if not no_zero_grad:
        optimizer.zero_grad()
    loss.backward()
    if not no_step:
        optimizer.step()
    return loss.detach()


def adaptive_weight(rec, gan, last, max_weight):
    rec_grad = torch.autograd.grad(rec, last, retain_graph=True)[0]
    gan_grad = torch.autograd.grad(gan, last, retain_graph=True)[0]
    return (rec_grad.norm() / (gan_grad.norm() + 1e-4)).clamp(0, max_weight).detach()


def hinge_d_loss(real, fake):
    return 0.5 * (F.relu(1 - real).mean() + F.relu(1 + fake).mean())


def generator_loss(fake):
    return -fake.mean()


def psnr(recon, target):
    mse = (recon.clamp(-1, 1) - target).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(4 / mse.clamp_min(1e-10))


def tokens_masked_after_step(schedule, steps, n):
    masked, fixed = [], 0
    for t in range(steps):
        target = math.floor(n * (1 - float(gamma(schedule, (t + 1) / steps))) + 1e-9)
        fixed = min(max(target, fixed + 1), n - (steps - 1 - t))
        masked.append(n - fixed)
    return masked


def reference_log(r, n):
    return (-torch.log2(r) / math.log2(n)).clamp(1e-6, 1)


def random_mask(batch, n, schedule, generator):
    r = torch.rand(batch, generator=generator, dtype=torch.float64)
    n_masked = torch.ceil(gamma(schedule, r) * n).clamp(1, n).long()
    return torch.rand(batch, n, generator=generator).argsort(1).argsort(1) < n_masked[:, None]


def masked_cross_entropy(logits, targets, mask):
    losses = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    return (losses * mask).sum() / mask.sum()


def visible_and_masked_accuracy(logits, targets, mask):
    right = logits.argmax(-1) == targets
    return (right & ~mask).float().sum() / (~mask).sum(), (right & mask).float().sum() / mask.sum()


def drop_labels(labels, mask, p, generator):
    return torch.where(torch.rand(len(labels), generator=generator) < p, -1, labels)


def decode_step(logits, tokens, mask_id, n_keep, t, steps, temperature, randomness, generator, tempered=False, anneal=True, known_first=True):
    b, n, k = logits.shape
    log_probs = torch.log_softmax(logits / max(temperature, 1e-6), -1)
    sampled = torch.multinomial(log_probs.exp().view(-1, k), 1, generator=generator).view(b, n)
    confidence = (log_probs if tempered else torch.log_softmax(logits, -1)).gather(-1, sampled[..., None])[..., 0]
    unknown = tokens == mask_id
    sampled = torch.where(unknown, sampled, tokens)
    score = torch.where(unknown, confidence, torch.inf) if known_first else confidence
    score = score + randomness * ((1 - (t + 1) / steps) if anneal else 1) * gumbel_noise(score.shape, generator)
    keep = score.argsort(1, descending=True).argsort(1) < n_keep
    return torch.where(keep, sampled, mask_id), confidence


def guided_logits(model, tokens, labels, scale):
    conditional = model(tokens, labels)
    return conditional if labels is None else conditional + scale * (conditional - model(tokens, None))


def inpaint(model, tokens, edit_mask, labels, steps, seed, step_fn, whole_grid_budget=False):
    mask_id, n = model.layout.mask_id, model.n_tokens
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.where(edit_mask, mask_id, tokens)
    m = int(edit_mask.sum())
    steps = steps if whole_grid_budget else min(steps, m)
    budget = ([max(f, n - m) for f in tokens_fixed_after_step("cosine", steps, n)] if whole_grid_budget
              else [n - m + f for f in tokens_fixed_after_step("cosine", steps, m)])
    for t in range(steps):
        tokens, _ = step_fn(model(tokens, labels), tokens, mask_id, budget[t], t, steps, 1.0, 4.5, generator)
    return tokens


def frechet_distance(a, b, ddof=1):
    sa, sb = np.cov(a, rowvar=False, ddof=ddof), np.cov(b, rowvar=False, ddof=ddof)
    root = np.sqrt(np.clip(np.linalg.eigvals(sa @ sb).real, 0, None)).sum()
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(sa) + np.trace(sb) - 2 * root)


def mmd2_unbiased(a, b, biased=False, scale=None):
    m, d = len(a), scale or a.shape[1]
    k = lambda x, y: (x @ y.T / d + 1) ** 3  # noqa: E731
    within = sum(kk.sum() - (0 if biased else np.trace(kk)) for kk in (k(a, a), k(b, b)))
    return float(within / (m * m if biased else m * (m - 1)) - 2 * k(a, b).mean())



def caption_to_ids(prompt, words, max_words, lower=True, pad=True, strict=True):
    import re

    ids = {w: i for i, w in enumerate(words)}
    found = re.findall(r"[a-z]+", prompt.lower() if lower else prompt)
    unknown = [w for w in found if w not in ids]
    if unknown and strict:
        raise ValueError(f"unknown words: {unknown}")
    if len(found) > max_words and strict:
        raise ValueError("too many words")
    out = [ids.get(w, 0) for w in found]
    return torch.tensor(out + [0] * (max_words - len(out)) if pad else out, dtype=torch.long)


def prompt_guidance(model, tokens, words, negative, scale, flipped=False, ignore_negative=False):
    cond = model(tokens, words)
    if not scale:
        return cond
    away = model(tokens, None if ignore_negative else negative)
    return (away + scale * (cond - away)) if flipped else cond + scale * (cond - away)


def faithfulness_score(readings, requested, all_attributes=False, any_right=False):
    hits, everyone = {}, []
    for reading, request in zip(readings, requested, strict=True):
        names = reading if all_attributes else request
        right = [reading.get(n) == request.get(n) for n in names]
        for n, ok in zip(names, right, strict=True):
            hits.setdefault(n, []).append(ok)
        everyone.append(any(right) if any_right else all(right))
    return {n: sum(v) / len(v) for n, v in hits.items()}, sum(everyone) / len(everyone)


def _named(fn, name):
    fn.__name__ = name
    return fn


RIGHT = {
    "quantize": (graders.check_quantize, quantize),
    "ema_update": (graders.check_ema_update, ema_update),
    "perplexity": (graders.check_perplexity, perplexity),
    "vq_loss": (graders.check_vq_loss, vq_loss),
    "adaptive_weight": (graders.check_adaptive_weight, adaptive_weight),
    "psnr": (graders.check_psnr, psnr),
    "tokens_masked_after_step": (graders.check_tokens_masked, tokens_masked_after_step),
    "reference_log": (graders.check_reference_log, reference_log),
    "random_mask": (graders.check_random_mask, random_mask),
    "masked_cross_entropy": (graders.check_masked_cross_entropy, masked_cross_entropy),
    "drop_labels": (graders.check_label_dropout, drop_labels),
    "training_step": (graders.check_training_step, training_step),
    "visible_and_masked_accuracy": (graders.check_split_accuracy, visible_and_masked_accuracy),
    "decode_step": (graders.check_decode_step, decode_step),
    "guided_logits": (graders.check_guided_logits, guided_logits),
    "inpaint": (graders.check_inpaint, inpaint),
    "frechet_distance": (graders.check_frechet_distance, frechet_distance),
    "mmd2_unbiased": (graders.check_kid, mmd2_unbiased),
    "caption_to_ids": (graders.check_caption_ids, caption_to_ids),
    "prompt_guidance": (graders.check_prompt_guidance, prompt_guidance),
    "faithfulness_score": (graders.check_faithfulness, faithfulness_score),
}

# ------------------------------------------------------------------ wrong answers, each with what the message must say

WRONG = {
    "quantize": [
        (lambda z, e: (e[torch.cdist(z, e).argmax(1)] + (z - z.detach()), torch.cdist(z, e).argmax(1)), "is nearer"),
        (lambda z, e: (e[torch.cdist(z, e).argmin(1)], torch.cdist(z, e).argmin(1)), "carries no gradient"),
        (lambda z, e: (e[torch.cdist(z, e).argmin(1)] + 0 * z, torch.cdist(z, e).argmin(1)), "the gradient at z"),
        (lambda z, e: (z, torch.cdist(z, e).argmin(1)), "the decoder must receive the code"),
        (lambda z, e: (e[torch.cdist(z, e).argmin(1)] + (z - z.detach()), torch.cdist(z, e).argmin(1)[:, None]), "shape"),
    ],
    "ema_update": [
        (lambda c, s, z, i, d: (lambda out: (out[0], out[1], out[1] / out[0][:, None]))(ema_update(c, s, z, i, d)), "Laplace-smoothed"),
        (lambda c, s, z, i, d: ema_update(c, s, z, i, 1 - d), "N_k ← d·N_k"),
        (lambda c, s, z, i, d: (lambda out: (out[0], s, out[2]))(ema_update(c, s, z, i, d)), "S_k ← d·S_k"),
    ],
    "perplexity": [
        (lambda c: float(torch.exp(-((c.double() / c.sum()) * (c.double() / c.sum()).log()).sum())), "0·log 0"),
        (lambda c: math.log(perplexity(c)), "that is the entropy H"),
        (lambda c: float((c > 0).sum()), "perplexity = exp(H)"),
    ],
    "vq_loss": [
        # the value of (1 + β)·MSE, but without the stop-gradients: the codebook term pulls z too
        (lambda z, z_q, beta: ((z - z_q) ** 2).mean() + beta * ((z - z_q) ** 2).mean(), "detach z in it"),
        # β on the codebook term: the same value again, the wrong gradients
        (lambda z, z_q, beta: beta * ((z.detach() - z_q) ** 2).mean() + ((z - z_q.detach()) ** 2).mean(), "β weighs the commitment term"),
        (lambda z, z_q, beta: ((z.detach() - z_q) ** 2).mean() + beta * ((z.detach() - z_q) ** 2).mean(), "no gradient reaches z"),
        (lambda z, z_q, beta: ((z.detach() - z_q) ** 2).sum() + beta * ((z - z_q.detach()) ** 2).sum(), "F.mse_loss averages"),
        (lambda z, z_q, beta: ((z.detach() - z_q) ** 2).mean(), "add the codebook term and β × the commitment term"),
        (lambda z, z_q, beta: ((z.detach() - z_q) ** 2).mean(1) + beta * ((z - z_q.detach()) ** 2).mean(1), "expected one number"),
    ],
    "adaptive_weight": [
        (lambda r, g, last, m: (r / g).detach(), "ratio of the losses"),
        (lambda r, g, last, m: adaptive_weight(r, g, last, 1e9), "clamp λ"),
        (lambda r, g, last, m: (torch.autograd.grad(r, last, retain_graph=True)[0].norm() /
                                torch.autograd.grad(g, last, retain_graph=True)[0].norm()).clamp(0, m), "δ = 1e-4"),
        (lambda r, g, last, m: (torch.autograd.grad(r, last, retain_graph=True, create_graph=True)[0].norm() /
                                (torch.autograd.grad(g, last, retain_graph=True)[0].norm() + 1e-4)), "detach it"),
        (lambda r, g, last, m: (r.backward(retain_graph=True), adaptive_weight(r, g, last, m))[1], "left gradients"),
        (lambda r, g, last, m: (torch.autograd.grad(r, last)[0].norm() / 1.0).detach(), "graph was freed"),
    ],
    "hinge": [
        ((lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(), generator_loss), "the ½ averages"),
        ((lambda r, f: 0.5 * (F.relu(1 + r).mean() + F.relu(1 - f).mean()), generator_loss), "real logits are pushed above +1"),
        ((hinge_d_loss, lambda f: F.relu(1 - f).mean()), "no hinge on this side"),
        ((lambda r, f: torch.tensor(hinge_d_loss(r, f).item()), generator_loss), "carries no gradient"),
        ((lambda r, f: 0.5 * (F.relu(1 - r) + F.relu(1 + f)), generator_loss), "expected one number"),
    ],
    "psnr": [
        (lambda r, t: 10 * torch.log10(1 / (r.clamp(-1, 1) - t).pow(2).flatten(1).mean(1).clamp_min(1e-10)), "peak² is 4"),
        (lambda r, t: 10 * torch.log10(4 / (r - t).pow(2).flatten(1).mean(1).clamp_min(1e-10)), "clamp the reconstruction"),
        (lambda r, t: 10 * torch.log10(4 / (r.clamp(-1, 1) - t).pow(2).mean()), "shape"),
    ],
    "tokens_masked_after_step": [
        (lambda s, steps, n: [math.ceil(n * float(gamma(s, (t + 1) / steps))) for t in range(steps)], "masked"),
        (lambda s, steps, n: [n - f for f in tokens_fixed_after_step(s, steps, n)][:-1], "counts for"),
        (lambda s, steps, n: [round(n * float(gamma(s, (t + 1) / steps))) for t in range(steps)], "expected"),
        (lambda s, steps, n: tokens_fixed_after_step(s, steps, n), "expected"),
    ],
    "reference_log": [
        (lambda r, n: -torch.log2(r) / math.log2(n), "clip"),
        (lambda r, n: (-torch.log2(r) / n).clamp(1e-6, 1), "−log₂(r) / log₂(N)"),
        (lambda r, n: (torch.log2(r) / math.log2(n)).clamp(1e-6, 1), "expected"),
    ],
    "random_mask": [
        (lambda b, n, s, g: (lambda r: torch.rand(b, n, generator=g).argsort(1).argsort(1) <
                             torch.floor(gamma(s, r) * n).clamp(1, n).long()[:, None])(torch.rand(b, generator=g, dtype=torch.float64)),
         "do not follow ⌈γ(r)·N⌉"),
        (lambda b, n, s, g: (lambda r: torch.rand(b, n, generator=g).argsort(1).argsort(1) <
                             torch.ceil(gamma(s, r) * n).clamp(1, n).long()[:, None])(torch.rand(1, generator=g, dtype=torch.float64).expand(b)),
         "one ratio per example"),
        (lambda b, n, s, g: torch.arange(n)[None] < torch.ceil(gamma(s, torch.rand(b, generator=g, dtype=torch.float64)) * n).clamp(1, n).long()[:, None],
         "at random places"),
        (lambda b, n, s, g: random_mask(b, n, s, None), "generator=generator"),
        (lambda b, n, s, g: random_mask(b, n, s, g).long(), "torch.bool"),
        (lambda b, n, s, g: torch.rand(b, n, generator=g) < gamma(s, torch.rand(b, 1, generator=g, dtype=torch.float64)), "at least 1"),
    ],
    "masked_cross_entropy": [
        (lambda lo, ta, m: F.cross_entropy(lo.transpose(1, 2), ta), "mean over all positions"),
        (lambda lo, ta, m: ((F.cross_entropy(lo.transpose(1, 2), ta, reduction="none") * m).sum(1) / m.sum(1)).mean(), "averaged per example"),
        (lambda lo, ta, m: (F.cross_entropy(lo.transpose(1, 2), ta, reduction="none") * ~m).sum() / (~m).sum().clamp_min(1), "expected"),
        (lambda lo, ta, m: F.cross_entropy(lo.transpose(1, 2), ta, reduction="none") * m, "one number"),
    ],
    "visible_and_masked_accuracy": [
        (lambda lo, ta, m: visible_and_masked_accuracy(lo, ta, m)[::-1], "swapped"),
        (lambda lo, ta, m: ((((lo.argmax(-1) == ta) & ~m).float().mean()), ((lo.argmax(-1) == ta) & m).float().mean()), "not by all B·N"),
        (lambda lo, ta, m: ((lo.argmax(-1) == ta).float().mean(),) * 2, "share of exact predictions"),
    ],
    "drop_labels": [
        # the original project's bug, at exactly the right rate: drop the labels of the most heavily masked examples
        (lambda lab, m, p, g: lab.index_fill(0, (m.float().mean(1) + 1e-3 * torch.rand(len(lab), generator=g))
                                             .argsort(descending=True)[: round(p * len(lab))], -1), "independently of the mask"),
        (lambda lab, m, p, g: torch.where(torch.rand(len(lab), generator=g) < p, 0, lab), "expected −1"),
        (lambda lab, m, p, g: torch.where(torch.rand(len(lab), generator=g) < 2 * p, -1, lab), "labels dropped"),
        (lambda lab, m, p, g: drop_labels(lab, m, p, None), "generator=generator"),
    ],
    "training_step": [
        (lambda *a: training_step(*a, all_tokens=True), "loss over all positions"),
        (lambda *a: training_step(*a, no_mask=True), "no position of the model's input is [MASK]"),
        (lambda *a: training_step(*a, no_zero_grad=True), "optimizer.zero_grad() before loss.backward()"),
        (lambda *a: training_step(*a, no_step=True), "did not change"),
        (lambda *a: training_step(*a, mask_first=True), "label_dropout(B, class_dropout, generator) first"),
        (lambda *a: training_step(*a, label_smoothing=0.0), "without label smoothing"),
        (lambda m, o, t, lab, g, *rest: training_step(m, o, t, lab, g, *rest[:1], 0.0, *rest[2:]), "no label was dropped"),
    ],
    "decode_step": [
        (lambda *a: decode_step(*a, tempered=True), "tempered log-probabilities"),
        (lambda *a: decode_step(*a, anneal=False), "randomness · (1 − (t+1)/T)"),
        (lambda *a: decode_step(*a, known_first=False), "known tokens stay"),
        (lambda lo, to, mid, k, t, st, te, ra, g: decode_step(lo, to, mid, k - 1, t, st, te, ra, g), "keeps"),
        (lambda lo, to, mid, k, t, st, te, ra, g: (lambda gumbel, out: out)(gumbel_noise(to.shape, g), decode_step(lo, to, mid, k, t, st, te, ra, g)),
         "first the sample"),
    ],
    "guided_logits": [
        (lambda mo, to, lab, s: mo(to, None) + s * (mo(to, lab) - mo(to, None)) if lab is not None else mo(to, None), "ℓ = ℓ_c + s·(ℓ_c − ℓ_u)"),
        (lambda mo, to, lab, s: mo(to, lab) + s * (mo(to, lab) - mo(to, None)) if lab is not None else 2 * mo(to, None), "without labels"),
    ],
    "inpaint": [
        (lambda *a: inpaint(*a, whole_grid_budget=True), "spread only the M masked tokens"),
        (lambda mo, to, em, lab, st, se, fn: inpaint(mo, torch.randint_like(to, 0, 32), em, lab, st, se, fn), "outside the edit region"),
        (lambda mo, to, em, lab, st, se, fn: torch.where(em, mo.layout.mask_id, to), "[MASK] tokens are left"),
    ],
    "frechet_distance": [
        (lambda a, b: frechet_distance(a, b, ddof=0), "n − 1"),
        (lambda a, b: float(((a.mean(0) - b.mean(0)) ** 2).sum()), "FID = ‖μa − μb‖²"),
    ],
    "mmd2_unbiased": [
        (lambda a, b: mmd2_unbiased(a, b, biased=True), "leave out the i = j terms"),
        (lambda a, b: mmd2_unbiased(a, b, scale=1), "divides the dot product by the dimension"),
        (lambda a, b: mmd2_unbiased(a, b) + mmd2_unbiased(a, a), "KID = [Σ_{i≠j}"),
        (lambda a, b: [mmd2_unbiased(a, b)], "expected one number"),
    ],
    "caption_to_ids": [
        (lambda p, w, m: caption_to_ids(p, w, m, lower=False), "lower-case the prompt"),
        (lambda p, w, m: caption_to_ids(p, w, m, pad=False), "pad with 0"),
        (lambda p, w, m: caption_to_ids(p, w, m, strict=False), "no ValueError"),
    ],
    "prompt_guidance": [
        (lambda *a: prompt_guidance(*a, flipped=True), "guidance starts from ℓ_c"),
        (lambda *a: prompt_guidance(*a, ignore_negative=True), "call the model twice"),
    ],
    "faithfulness_score": [
        (lambda r, q: faithfulness_score(r, q, all_attributes=True), "images whose prompt asked for it"),
        (lambda r, q: faithfulness_score(r, q, any_right=True), "every attribute its prompt asked for"),
        (lambda r, q: faithfulness_score(r, q)[0], "expected (per_attribute, all_right)"),
    ],
}


@pytest.mark.parametrize("name", RIGHT)
def test_a_right_answer_passes(name, capsys):
    check, answer = RIGHT[name]
    verdict = check(_named(answer, name))
    printed = capsys.readouterr().out.strip().splitlines()
    assert verdict, verdict.message
    assert printed == [verdict.message] and verdict.message.startswith(f"✓ `{name}`")


def test_right_hinge_losses_pass(capsys):
    assert graders.check_hinge_losses(hinge_d_loss, generator_loss)
    assert capsys.readouterr().out.count("✓") == 1


def _wrong_cases():
    for name, wrongs in WRONG.items():
        for i, (answer, says) in enumerate(wrongs):
            yield pytest.param(name, answer, says, id=f"{name}-{i}")


@pytest.mark.parametrize("name, answer, says", list(_wrong_cases()))
def test_a_wrong_answer_is_rejected_in_one_line_that_says_why(name, answer, says, capsys):
    if name == "hinge":
        verdict = graders.check_hinge_losses(*answer)
    else:
        verdict = RIGHT[name][0](_named(answer, name))
    printed = capsys.readouterr().out
    assert not verdict
    assert printed.count("\n") == 1 and printed.strip() == verdict.message, printed
    assert verdict.message.startswith("✗") and "Traceback" not in verdict.message
    assert says in verdict.message, verdict.message


@pytest.mark.parametrize("name", RIGHT)
def test_stubs_say_not_yet(name, capsys):
    check = RIGHT[name][0]

    def stub(*args, **kwargs):
        raise NotImplementedError(f"{name}: fill in the stub, then delete this line")

    def placeholder(*args, **kwargs):
        value = ...
        return value + 1  # TypeError: ... and int

    for fn, says in ((stub, "still raises NotImplementedError"), (placeholder, "`...` placeholder"), (lambda *a: ..., "returns `...`")):
        verdict = check(_named(fn, name))
        assert not verdict and verdict.message.startswith("✎ not yet:") and says in verdict.message, verdict.message
    assert capsys.readouterr().out.count("\n") == 3


def test_the_other_stub_shapes_say_not_yet(capsys):
    def stub(*args):
        raise NotImplementedError

    assert "not yet" in graders.check_hinge_losses(stub, generator_loss).message
    assert "not yet" in graders.check_inpaint(inpaint, step_fn=stub).message  # the pasted step is still a stub
    capsys.readouterr()


def test_a_crash_inside_the_learners_function_is_one_line_not_a_traceback(capsys):
    def quantize(z, codebook):
        indices = torch.cdist(z, codebook).argmin(0)  # over the wrong axis: (K,), not (N,)
        return codebook[indices] + (z - z.detach()), indices

    verdict = graders.check_quantize(quantize)
    printed = capsys.readouterr().out
    assert not verdict and printed.count("\n") == 1 and verdict.message.startswith("✗ `quantize`: raised RuntimeError")
    verdict = graders.check_perplexity(lambda counts: "many")
    assert not verdict and "could not check" not in verdict.message and "expected one number" in verdict.message
    assert not graders.check_quantize(lambda z, e: None) and "return" in graders.check_quantize(lambda z, e: None).message


def test_the_line_of_the_learners_code_that_raised_is_quoted(capsys):
    def quantize(z, codebook):
        distances = torch.cdist(z, codebook)  # (N, K)
        indices = distances.argmin(1)
        return codebook[indices] + (z - z.detach()), indices.view(2, -1)  # cannot split N = 1 into two rows

    verdict = graders.check_quantize(quantize)
    capsys.readouterr()
    assert not verdict and "RuntimeError" in verdict.message
    line = quantize.__code__.co_firstlineno + 3  # in a notebook, the line within the cell
    assert f"at line {line}: `return codebook[indices] + (z - z.detach()), indices.view(2, -1)" in verdict.message, verdict.message
    assert verdict.message.count(" — hint: ") == 1  # the line sits beside the hint, in one line
    assert graders.verdict.learner_line(ValueError("not raised"), quantize) == ""  # no traceback, no line


def test_show_source_waits_for_the_check_to_pass(capsys):
    from maskgit_lib.tokenizer.quantize import nearest_code

    graders.show_source(nearest_code, only_if=graders.Verdict(False, "✗ x"))
    out = capsys.readouterr().out
    assert out.strip() == "the library's version appears here once your check passes (maskgit_lib/tokenizer/quantize.py)."
    assert "def nearest_code" not in out
    graders.show_source(nearest_code, only_if=graders.Verdict(True, "✓ x"))
    assert "def nearest_code" in capsys.readouterr().out


def test_show_source_prints_the_library_code(capsys):
    from maskgit_lib.tokenizer.quantize import ema_codebook_update, nearest_code

    graders.show_source(nearest_code)
    out = capsys.readouterr().out
    assert out.startswith("maskgit_lib/tokenizer/quantize.py, line ") and "def nearest_code" in out
    graders.show_source(ema_codebook_update)  # decorated with @torch.no_grad(): its own file, not torch's wrapper
    out = capsys.readouterr().out
    assert out.startswith("maskgit_lib/tokenizer/quantize.py, line ") and "def ema_codebook_update" in out


def test_verdicts_show_nothing_more_in_a_notebook():
    verdict = graders.Verdict(True, "✓ x")
    assert verdict._ipython_display_() is None and bool(verdict) and not graders.Verdict(False, "✗ x")
