"""The bidirectional Transformer, its causal twin, and the masked-token loss."""

from __future__ import annotations

import torch

from maskgit_lib.generator.transformer import MaskGITTransformer, TokenLayout, masked_token_loss

K, C, N = 32, 4, 16


def make(causal=False, seed=0):
    torch.manual_seed(seed)
    return MaskGITTransformer(K, C, N, width=32, depth=2, heads=4, dropout=0.0, causal=causal).eval()


def test_layout_keeps_mask_and_classes_outside_the_codebook():
    layout = TokenLayout(K, C)
    ids = {layout.mask_id, layout.null_class_id, *layout.class_id(torch.arange(C)).tolist()}
    assert len(ids) == C + 2 and min(ids) == K and max(ids) == layout.vocab_size - 1


def test_logits_cover_codes_only():
    model = make()
    tokens = torch.randint(K, (3, N))
    tokens[:, ::2] = model.layout.mask_id
    logits = model(tokens, torch.tensor([0, 1, -1]))
    assert logits.shape == (3, N, K)


def test_bidirectional_sees_both_sides_causal_only_the_past():
    tokens = torch.randint(K, (1, N))
    changed = tokens.clone()
    changed[0, 8] = (changed[0, 8] + 1) % K
    labels = torch.tensor([1])
    bi = make()
    diff = (bi(tokens, labels) - bi(changed, labels)).abs().sum(-1)[0]  # (N,)
    assert (diff[:8] > 0).all() and (diff[9:] > 0).all()
    causal = make(causal=True)
    diff = (causal(tokens, labels) - causal(changed, labels)).abs().sum(-1)[0]
    assert (diff[:9] == 0).all() and (diff[9:] > 0).all()  # position i predicts token i from tokens < i


def test_kv_cache_matches_the_full_forward():
    model = make(causal=True)
    tokens = torch.randint(K, (2, N))
    labels = torch.tensor([2, -1])
    full = model(tokens, labels)  # (2, N, K)
    caches = [{} for _ in model.blocks]
    logits = model.step_with_cache(model.class_tokens(labels, 2, tokens.device), 0, caches)
    torch.testing.assert_close(logits, full[:, 0], atol=1e-5, rtol=1e-5)
    for i in range(1, N):
        logits = model.step_with_cache(tokens[:, i - 1 : i], i, caches)
        torch.testing.assert_close(logits, full[:, i], atol=1e-5, rtol=1e-5)


def test_loss_counts_masked_positions_only():
    logits = torch.randn(2, N, K, requires_grad=True)
    targets = torch.randint(K, (2, N))
    mask = torch.zeros(2, N, dtype=torch.bool)
    mask[:, :4] = True
    masked_token_loss(logits, targets, mask, label_smoothing=0.0).backward()
    assert logits.grad[:, 4:].abs().sum() == 0 and logits.grad[:, :4].abs().sum() > 0
    expected = torch.nn.functional.cross_entropy(logits[:, :4].reshape(-1, K), targets[:, :4].reshape(-1))
    torch.testing.assert_close(masked_token_loss(logits, targets, mask, label_smoothing=0.0), expected)
    everything = masked_token_loss(logits, targets, mask, label_smoothing=0.0, all_tokens=True)
    torch.testing.assert_close(everything, torch.nn.functional.cross_entropy(logits.reshape(-1, K), targets.reshape(-1)))


def test_class_label_changes_the_prediction_and_unconditional_is_its_own_token():
    model = make()
    tokens = torch.full((1, N), model.layout.mask_id)
    a, b = model(tokens, torch.tensor([0])), model(tokens, torch.tensor([1]))
    assert not torch.allclose(a, b)
    torch.testing.assert_close(model(tokens, None), model(tokens, torch.tensor([-1])))


def test_loss_goes_down_on_a_fixed_batch():
    model = make().train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    targets = torch.randint(K, (8, N))
    labels = torch.randint(C, (8,))
    mask = torch.rand(8, N) < 0.5
    inputs = torch.where(mask, model.layout.mask_id, targets)
    losses = []
    for _ in range(60):
        loss = masked_token_loss(model(inputs, labels), targets, mask, label_smoothing=0.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
