"""Decoding: the exact token budget per step, fixed tokens stay fixed, seeds, and the AR baseline."""

from __future__ import annotations

import pytest
import torch

from maskgit_lib.generator.decoding import (
    autoregressive_decode,
    decode_step,
    guided_logits,
    gumbel_noise,
    maskgit_decode,
)
from maskgit_lib.generator.masking import tokens_fixed_after_step
from maskgit_lib.generator.transformer import MaskGITTransformer

K, C, N = 32, 4, 16


def make(causal=False):
    torch.manual_seed(0)
    return MaskGITTransformer(K, C, N, width=32, depth=2, heads=4, dropout=0.0, causal=causal).eval()


@pytest.mark.parametrize("schedule", ["cosine", "linear", "sqrt"])
@pytest.mark.parametrize("steps", [1, 4, 8, 16])
def test_each_step_fixes_exactly_the_scheduled_number_and_never_changes_them(schedule, steps):
    model = make()
    tokens, history = maskgit_decode(model, 3, torch.tensor([0, 1, 2]), steps=steps, schedule=schedule, seed=1)
    budget = tokens_fixed_after_step(schedule, steps, N)
    assert history.fixed_counts == budget and len(history.tokens) == steps
    previous = None
    for t, (after, masked) in enumerate(zip(history.tokens, history.masked, strict=True)):
        assert ((~masked).sum(1) == budget[t]).all()
        assert ((after == model.layout.mask_id) == masked).all()
        if previous is not None:
            was_fixed = previous != model.layout.mask_id
            assert torch.equal(after[was_fixed], previous[was_fixed])
        previous = after
    assert (tokens < K).all() and (tokens >= 0).all()  # no [MASK] or class id at the end


def test_same_seed_same_tokens_other_seed_other_tokens():
    model = make()
    labels = torch.tensor([0, 3])
    a, _ = maskgit_decode(model, 2, labels, steps=6, seed=7)
    b, _ = maskgit_decode(model, 2, labels, steps=6, seed=7)
    c, _ = maskgit_decode(model, 2, labels, steps=6, seed=8)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_n_steps_reveal_one_token_per_step():
    model = make()
    _, history = maskgit_decode(model, 2, None, steps=N, schedule="cosine", seed=0)
    assert history.fixed_counts == list(range(1, N + 1))
    for t, masked in enumerate(history.masked):
        assert (masked.sum(1) == N - t - 1).all()


def test_guidance_and_temperature_change_the_result():
    model = make()
    labels = torch.tensor([1, 1])
    tokens = torch.full((2, N), model.layout.mask_id)
    cond, uncond = model(tokens, labels), model(tokens, None)
    torch.testing.assert_close(guided_logits(model, tokens, labels, 3.0), cond + 3.0 * (cond - uncond))
    torch.testing.assert_close(guided_logits(model, tokens, labels, 0.0), cond)
    cold, _ = maskgit_decode(model, 2, labels, steps=4, seed=3, temperature=1e-6, randomness=0.0)
    colder, _ = maskgit_decode(model, 2, labels, steps=4, seed=4, temperature=1e-6, randomness=0.0)
    assert torch.equal(cold, colder)  # near-greedy decoding no longer depends on the seed


def test_autoregressive_decoding():
    model = make(causal=True)
    tokens = autoregressive_decode(model, 3, torch.tensor([0, 1, -1]), seed=2)
    assert tokens.shape == (3, N) and (tokens < K).all()
    assert torch.equal(tokens, autoregressive_decode(model, 3, torch.tensor([0, 1, -1]), seed=2))
    greedy = autoregressive_decode(model, 1, torch.tensor([2]), temperature=1e-6)
    logits = model(greedy, torch.tensor([2]))  # (1, N, K): teacher-forced on its own output
    assert torch.equal(logits.argmax(-1), greedy)  # every token was the most likely given its past
    with pytest.raises(ValueError, match="causal=True"):
        autoregressive_decode(make(), 1)


def test_gumbel_noise_is_finite_and_standard():
    noise = gumbel_noise(torch.Size([200_000]), torch.Generator().manual_seed(0), torch.device("cpu"))
    assert torch.isfinite(noise).all()
    assert abs(noise.mean().item() - 0.5772) < 0.01 and abs(noise.var().item() - 1.6449) < 0.03  # Euler γ, π²/6


def test_without_noise_each_step_keeps_the_most_confident_samples():
    model = make()
    _, history = maskgit_decode(model, 2, torch.tensor([0, 3]), steps=4, seed=2, randomness=0.0)
    previously_masked = torch.ones(2, N, dtype=torch.bool)
    for masked, confidence in zip(history.masked, history.confidence, strict=True):
        new = previously_masked & ~masked  # fixed at this step
        still = masked
        for b in range(2):
            if still[b].any():
                assert confidence[b][new[b]].min() >= confidence[b][still[b]].max()
        previously_masked = masked


def test_confidence_is_scored_untempered_by_default_and_tempered_ties_at_low_temperature():
    """The reference ranks by the untempered probability of the sample; tempered log-probabilities of
    near-greedy samples are all ≈ 0, so they tie and the order is left to the noise."""
    torch.manual_seed(0)
    logits = 3 * torch.randn(2, N, K)  # (B, N, K)
    tokens = torch.full((2, N), K)  # all masked ([MASK] = K here)
    g = torch.Generator().manual_seed(0)
    _, plain = decode_step(logits, tokens, K, 4, 0, 8, temperature=0.01, randomness=0.0, generator=g)
    g = torch.Generator().manual_seed(0)
    _, tempered = decode_step(logits, tokens, K, 4, 0, 8, temperature=0.01, randomness=0.0, generator=g, confidence_from="tempered")
    greedy = logits.argmax(-1)  # temperature 0.01 samples the argmax here
    torch.testing.assert_close(plain, torch.log_softmax(logits, -1).gather(-1, greedy[..., None])[..., 0])
    assert (tempered == 0).float().mean() > 0.9 and (plain == 0).float().mean() == 0
    assert plain.unique().numel() == plain.numel()  # no ties: the ranking means something
    with pytest.raises(ValueError, match="confidence_from"):
        decode_step(logits, tokens, K, 4, 0, 8, confidence_from="cold")


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_decode_step_without_noise_keeps_known_tokens_and_the_most_confident(temperature):
    torch.manual_seed(1)
    logits = torch.randn(3, N, K)
    tokens = torch.full((3, N), K)
    tokens[:, :3] = torch.randint(0, K, (3, 3))  # three known tokens per row
    new, confidence = decode_step(logits, tokens, K, 7, 2, 8, temperature, randomness=0.0, generator=torch.Generator().manual_seed(2))
    assert torch.equal(new[:, :3], tokens[:, :3]) and ((new != K).sum(1) == 7).all()
    for b in range(3):
        kept, dropped = (new[b, 3:] != K), (new[b, 3:] == K)
        assert confidence[b, 3:][kept].min() >= confidence[b, 3:][dropped].max()
