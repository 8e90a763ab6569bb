"""Notebook 08's pictures: avatars with their captions, where image tokens read the words, and samples
of a prompt with what the attribute classifier reads on each.

Why a module of their own: they speak of captions, vocabularies and the classifier, which the other
notebooks never see; the widgets (``widgets.prompt_panel``) draw with the same functions.
"""

from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import torch

from maskgit_lib.course.attention import attention_scores, block_inputs
from maskgit_lib.evaluation.attribute_classifier import AttributeClassifier
from maskgit_lib.figures import to_uint8
from maskgit_lib.generator.decoding import maskgit_decode
from maskgit_lib.text.conditioned import TextConditionedTransformer
from maskgit_lib.text.vocabulary import Vocabulary


def show_captioned(images: np.ndarray, captions: list[str], n_cols: int = 4, wrap: int = 30):
    """uint8 images (n, H, W, 3), each above its caption."""
    n_rows = math.ceil(len(images) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3 * n_cols, 3.3 * n_rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions, strict=False):
        ax.imshow(image, interpolation="nearest")
        ax.set_title("\n".join(textwrap.wrap(caption, wrap)), fontsize=8)
    fig.tight_layout()
    return fig


@torch.no_grad()
def word_attention(model: TextConditionedTransformer, tokens: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
    """Prefix conditioning: the share of the image tokens' attention that goes to each word, per block,
    averaged over heads and image positions: (depth, W). The rest of each row went to image tokens.

    Recomputed from each block's input as in ``course.attention`` (the fused kernel never shows its
    weights), with the same mask the model uses: no query sees a PAD word.
    """
    if model.conditioning != "prefix":
        raise ValueError("word_attention reads the prefix model's self-attention; a cross-attention model has its own")
    n_words = words.shape[1]
    hidden = torch.cat([words == 0, torch.zeros_like(tokens, dtype=torch.bool)], dim=1)  # (B, W+N) True = PAD
    shares = []
    for block, x in zip(model.blocks, block_inputs(model, tokens, words), strict=True):
        weights = attention_scores(block, x).masked_fill(hidden[:, None, None, :], float("-inf")).softmax(-1)  # (B, H, T, T)
        shares.append(weights[:, :, n_words:, :n_words].mean(dim=(0, 1, 2)))  # (W,) image queries → words
    return torch.stack(shares)  # (depth, W)


def plot_word_attention(shares: torch.Tensor, prompt_words: list[str]):
    """Bars of :func:`word_attention` for the caption's words, one row of bars per block."""
    n = len(prompt_words)
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * n + 2), 3.2))
    width = 0.8 / len(shares)
    for block, row in enumerate(shares):
        ax.bar(np.arange(n) + block * width, row[:n].numpy(), width, label=f"block {block + 1}")
    ax.set_xticks(np.arange(n) + 0.4 - width / 2, prompt_words, rotation=30, ha="right")
    ax.set_ylabel("share of the image tokens' attention")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


@torch.no_grad()
def prompt_samples(
    model: TextConditionedTransformer, tokenizer, vocabulary: Vocabulary, prompt: str, negative: str = "",
    scale: float = 3.0, steps: int = 12, seed: int = 0, n: int = 8, ramp: bool = False,
) -> torch.Tensor:
    """``n`` images (n, 3, H, W) in [-1, 1] for one prompt (and optional negative prompt)."""
    device = next(model.parameters()).device
    words = vocabulary.encode_batch([prompt] * n).to(device)  # (n, W)
    negative_words = vocabulary.encode_batch([negative] * n).to(device) if negative.strip() else None
    tokens, _ = maskgit_decode(model, n, words, steps=steps, cfg_scale=scale, seed=seed, negative=negative_words, cfg_ramp=ramp)
    side = int(round(model.n_tokens**0.5))
    return tokenizer.decode_tokens(tokens.view(n, side, side)).float().clamp(-1, 1).cpu()


def show_prompt_samples(images: torch.Tensor, asked: dict[str, str], classifier: AttributeClassifier | None, title: str):
    """The samples in a row, each titled with what the classifier reads of the attributes asked for
    (✓ read as asked, ✗ read otherwise)."""
    pixels = to_uint8(images)  # (n, H, W, 3)
    readings = classifier.predict(images) if classifier is not None else None  # (n, A) value indices
    fig, axes = plt.subplots(1, len(pixels), figsize=(1.6 * len(pixels), 2.4), squeeze=False)
    for i, ax in enumerate(axes[0]):
        ax.imshow(pixels[i], interpolation="nearest")
        ax.axis("off")
        if readings is None or not asked:
            continue
        lines = []
        for name, word in asked.items():
            if name in classifier.names:
                read = classifier.attribute_values[name][int(readings[i, classifier.names.index(name)])]
                lines.append(f"{'✓' if read == word else '✗'} {read}")
        ax.set_title("\n".join(lines), fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def faithfulness_lines(report: dict, round_trip: dict | None = None) -> list[str]:
    """``maskgit evaluate``'s faithfulness of a text model as table rows: per attribute, the generated
    images' accuracy, the classifier's ceiling on the same real images, and their ratio; with
    ``round_trip`` (``tokenizer_ceiling``'s "reconstructed" score), what survives the tokenizer too."""
    faith, ceiling = report["faithfulness"], report["faithfulness"]["ceiling"]
    lines = [f"{'attribute':<16}{'generated':>10}{'real (ceiling)':>16}{'ratio':>7}" + (f"{'tokenizer round trip':>22}" if round_trip else "")]
    rows = [(name, row["accuracy"], ceiling["per_attribute"][name]["accuracy"],
             round_trip and round_trip["per_attribute"][name]["accuracy"]) for name, row in faith["per_attribute"].items()]
    rows.append(("all right", faith["all_right"], ceiling["all_right"], round_trip and round_trip["all_right"]))
    for name, generated, real, trip in rows:
        lines.append(f"{name:<16}{generated:>10.1%}{real:>16.1%}{generated / real:>7.0%}" + (f"{trip:>22.1%}" if round_trip else ""))
    return lines


def plot_guidance_sweep(sweep: dict):
    """The trade-off curve: FID (x, lower is better) against the share of images with every requested
    attribute right (y), one point per guidance scale, the classifier's ceiling dashed."""
    rows = sweep["rows"]
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot([r["fid"] for r in rows], [r["all_right"] for r in rows], "o-")
    for r in rows:
        ax.annotate(f"s = {r['cfg_scale']:g}", (r["fid"], r["all_right"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.axhline(sweep["ceiling"]["all_right"], ls="--", c="grey", label="real images (ceiling)")
    ax.axvline(sweep["fid_floor"], ls=":", c="grey", label="FID floor (real vs real)")
    ax.set_xlabel(f"FID (n = {sweep['n']:,}), lower is better")
    ax.set_ylabel("every requested attribute right")
    ax.margins(x=0.12)  # room for the last label
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    return fig


def plot_held_out_over_training(trail: dict):
    """One panel per held-out pair: how often its attribute reads right when asked with the held-out
    style (never seen together) and with the styles training showed it with, at each kept checkpoint;
    the classifier's accuracy for that attribute on real avatars dashed."""
    pairs = [p["pair"] for p in trail["rows"][0]["pairs"]]
    fig, axes = plt.subplots(1, len(pairs), figsize=(3.4 * len(pairs), 2.8), squeeze=False, sharey=True)
    steps = [row["step"] for row in trail["rows"]]
    for k, (ax, pair) in enumerate(zip(axes[0], pairs, strict=True)):
        for kind, style in (("held_out", "o-"), ("seen", "s--")):
            ax.plot(steps, [row["pairs"][k][kind]["attribute_accuracy"] for row in trail["rows"]], style, ms=3, label=kind.replace("_", " "))
        ax.axhline(trail["rows"][-1]["pairs"][k]["ceiling"]["attribute_accuracy"], ls=":", c="grey", label="real (ceiling)")
        ax.set_title(pair.replace("style=", "").replace(" & ", " + "), fontsize=8)
        ax.set_xlabel("training step")
        ax.set_ylim(0, 1.02)
    axes[0][0].set_ylabel("attribute read as asked")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig
