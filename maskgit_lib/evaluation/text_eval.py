"""What ``maskgit evaluate`` measures for a text-to-image checkpoint: FID, KID and faithfulness.

Prompts: one caption per validation image, drawn from its attributes with a fixed seed, so the
``n`` generated images have the validation set's mix of attributes and their FID and KID are measured
against those validation images (with the usual real-vs-real floor). Faithfulness: the attribute
classifier (trained on real renders only, never a training signal) reads each generated image,
and the report gives per-attribute accuracy on what the prompt asked for, and the share of images
with every requested attribute right, beside the same score of the validation images themselves
against their own descriptions: the ceiling, what a perfect generator would get from this reader.

:func:`held_out_faithfulness` asks for the attribute pairs left out of training (``text.held_out``)
and, for comparison, the same attribute value with the styles it was seen with.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from maskgit_lib.data.attributes import decode_attributes
from maskgit_lib.data.prepared import prepare_data
from maskgit_lib.evaluation.attribute_classifier import load_attribute_classifier
from maskgit_lib.evaluation.evaluate import balanced_indices, reference_sets
from maskgit_lib.evaluation.faithfulness import faithfulness
from maskgit_lib.evaluation.metrics import (
    fid_network_source,
    frechet_distance,
    inception_features,
    kernel_inception_distance,
)
from maskgit_lib.figures import to_uint8_nchw
from maskgit_lib.generator.decoding import maskgit_decode
from maskgit_lib.generator.train import tokenizer_path
from maskgit_lib.paths import repo_root
from maskgit_lib.progress import progress_bar
from maskgit_lib.system import pick_device
from maskgit_lib.text.captions import make_caption
from maskgit_lib.text.conditioned import load_text_transformer
from maskgit_lib.text.train import parse_held_out
from maskgit_lib.tokenizer.reconstruction import evaluate_reconstruction
from maskgit_lib.tokenizer.vqgan import load_vqgan


def default_classifier(profile: str) -> Path:
    """Where the shipped attribute classifier of a profile lives."""
    return (repo_root() or Path.cwd()) / "results" / "checkpoints" / f"attributes-{profile}.ckpt"


def evaluate_text_transformer(
    path: str | Path, classifier: str | Path | None = None, n: int = 2000, steps: int = 12, schedule: str = "cosine",
    order: str = "confidence", temperature: float = 1.0, randomness: float = 4.5, cfg_scale: float = 0.0,
    cfg_ramp: bool = False, seed: int = 0, device: str | None = None, progress: bool = True, batch_size: int = 250,
    held_out: int = 0,
) -> dict[str, Any]:
    """FID (with its floor) and faithfulness of ``n`` images generated from validation captions; with
    ``held_out`` > 0 also :func:`held_out_faithfulness` with that many images per side of each pair."""
    started = time.perf_counter()
    device = device or pick_device()
    model, config, vocabulary = load_text_transformer(path, device)
    tokenizer, _ = load_vqgan(tokenizer_path(config), device)
    data = prepare_data(config.data, progress=progress)
    val, train, _ = reference_sets(data, n, device, progress)
    rows = balanced_indices(data.val_labels, n)  # the same validation images as the FID's
    table, values = np.asarray(data.val_attributes), data.attribute_values
    requested = [decode_attributes(table[i], values) for i in rows]
    rng = np.random.default_rng(seed)
    prompts = [make_caption(request, rng) for request in requested]
    decoding = {"steps": steps, "schedule": schedule, "order": order, "temperature": temperature,
                "randomness": randomness, "cfg_scale": cfg_scale, "cfg_ramp": cfg_ramp, "seed": seed}
    generated = generate_from_prompts(model, tokenizer, vocabulary, prompts, batch_size, progress, **decoding)  # (n, 3, H, W)
    fake = inception_features(generated, device=device, progress=progress)
    report = {
        "checkpoint": str(path), "phase": "transformer-text", "conditioning": config.text.conditioning, "n": n,
        "device": str(device), "fid_network": fid_network_source(),
        "decoding": decoding,
        "fid": frechet_distance(fake, val), "fid_floor": frechet_distance(train, val),
        "kid": kernel_inception_distance(fake, val), "kid_floor": kernel_inception_distance(train, val),
        "example_prompts": prompts[:8],
    }
    classifier_path = Path(classifier) if classifier else default_classifier(config.profile)
    if classifier_path.is_file():
        scorer = load_attribute_classifier(classifier_path)  # a small CNN: on the CPU, where predict() puts the pixels
        readable = [{k: v for k, v in r.items() if k in scorer.attribute_values} for r in requested]
        report["faithfulness"] = {"classifier": str(classifier_path), **faithfulness(scorer, generated.permute(0, 2, 3, 1).numpy(), readable),
                                  "ceiling": faithfulness(scorer, np.asarray(data.val_images[rows]), readable)}
        if held_out:
            report["held_out"] = held_out_faithfulness(path, classifier_path, n=held_out, steps=steps,
                                                       cfg_scale=cfg_scale, seed=seed, device=str(device))
    else:
        report["faithfulness"] = None
        report["faithfulness_note"] = (f"no attribute classifier at {classifier_path}: train one "
                                       "(python tools/train_attribute_classifier.py) and pass it with --classifier")
    return {**report, "seconds": time.perf_counter() - started}


def generate_from_prompts(model, tokenizer, vocabulary, prompts: list[str], batch_size: int = 250,
                          progress: bool = False, seed: int = 0, **decoding: Any) -> torch.Tensor:
    """(len(prompts), 3, H, W) uint8 images, one per prompt; batch b decodes with seed ``seed + b``."""
    device = next(model.parameters()).device
    images = []
    for b, start in enumerate(progress_bar(range(0, len(prompts), batch_size), progress, "generating")):
        words = vocabulary.encode_batch(prompts[start : start + batch_size]).to(device)  # (B, W)
        tokens, _ = maskgit_decode(model, len(words), words, seed=seed + b, **decoding)  # (B, N)
        side = int(round(tokens.shape[1] ** 0.5))
        with torch.no_grad():
            images.append(to_uint8_nchw(tokenizer.decode_tokens(tokens.view(-1, side, side))).cpu())
    return torch.cat(images)


def held_out_faithfulness(path: str | Path, classifier: str | Path | None = None, n: int = 120, steps: int = 12,
                          cfg_scale: float = 0.0, seed: int = 0, device: str | None = None) -> dict[str, Any]:
    """For each held-out pair (style S, attribute A = v) of the checkpoint's ``text.held_out``: ``n``
    images asked for exactly that pair, ``n`` asked for A = v with the other styles that show it
    (seen in training), and the reader's ceiling, its accuracy for A = v on real validation avatars.

    The prompts name only the pair (a style and one attribute), paraphrased by the grammar with a fixed
    seed; the score is the share of images whose A reads v (and whose style reads right, for "both").
    """
    device = device or pick_device()
    model, config, vocabulary = load_text_transformer(path, device)
    tokenizer, _ = load_vqgan(tokenizer_path(config), device)
    data = prepare_data(config.data, progress=False)
    scorer = load_attribute_classifier(Path(classifier) if classifier else default_classifier(config.profile))
    table, values, names = np.asarray(data.val_attributes), data.attribute_values, data.attribute_names
    train = np.asarray(data.train_attributes)
    rng = np.random.default_rng(seed)
    pairs = []
    for combination in parse_held_out(config.text.held_out, values):
        (style_name, style), (name, value) = sorted(combination, key=lambda item: item[0] != "style")
        shows_it = table[:, names.index(name)] == values[name].index(value)
        seen = train[train[:, names.index(name)] == values[name].index(value), names.index("style")]
        other_styles = sorted({values["style"][i] for i in seen} - {style})  # what training showed with A = v
        if not other_styles or not shows_it.any():
            raise ValueError(f"held-out pair {style_name}={style} & {name}={value}: no other style shows {name}={value} "
                             "in training, or no validation avatar does; pick a pair whose attribute is frequent on its own")
        asked = {"held_out": [{"style": style, name: value}] * n,
                 "seen": [{"style": other_styles[i % len(other_styles)], name: value} for i in range(n)]}
        row: dict[str, Any] = {"pair": f"{style_name}={style} & {name}={value}", "attribute": name, "value": value,
                               "seen_styles": other_styles}
        for kind, requests in asked.items():
            prompts = [make_caption(request, rng) for request in requests]
            images = generate_from_prompts(model, tokenizer, vocabulary, prompts, seed=seed, steps=steps, cfg_scale=cfg_scale)
            scored = faithfulness(scorer, images.permute(0, 2, 3, 1).numpy(), requests)
            row[kind] = {"attribute_accuracy": scored["per_attribute"][name]["accuracy"],
                         "style_accuracy": scored["per_attribute"]["style"]["accuracy"],
                         "both_right": scored["all_right"], "n": n, "example_prompts": prompts[:3]}
        real = np.flatnonzero(shows_it)
        ceiling = faithfulness(scorer, np.asarray(data.val_images[real]), [{name: value}] * len(real))
        row["ceiling"] = {"attribute_accuracy": ceiling["per_attribute"][name]["accuracy"], "n": len(real)}
        pairs.append(row)
    return {"checkpoint": str(path), "steps": steps, "cfg_scale": cfg_scale, "seed": seed, "pairs": pairs}


def tokenizer_ceiling(path: str | Path, classifier: str | Path | None = None, n: int = 2000,
                      device: str | None = None) -> dict[str, Any]:
    """Faithfulness of the tokenizer's own reconstructions of the ``n`` validation avatars, against
    their descriptions: the best a generator of this tokenizer's tokens can be read, below the real
    images' ceiling wherever 8×8 tokens blur an attribute (a mouth's few pixels, the glasses' tint).

    The same rows and readable attributes as :func:`evaluate_text_transformer`'s ceiling, so the two
    sit side by side: real images, tokenizer round trip, generated images.
    """
    device = device or pick_device()
    _, config, _ = load_text_transformer(path, device)
    tokenizer, _ = load_vqgan(tokenizer_path(config), device)
    data = prepare_data(config.data, progress=False)
    scorer = load_attribute_classifier(Path(classifier) if classifier else default_classifier(config.profile))
    rows = balanced_indices(data.val_labels, n)
    table, values = np.asarray(data.val_attributes), data.attribute_values
    requested = [{k: v for k, v in decode_attributes(table[i], values).items() if k in scorer.attribute_values} for i in rows]
    real = np.asarray(data.val_images[rows])  # (n, H, W, 3) uint8
    kept: list[torch.Tensor] = []
    quality, _ = evaluate_reconstruction(tokenizer, real, keep=kept)
    return {"checkpoint": str(path), "tokenizer": str(tokenizer_path(config)), "n": n, "psnr": quality["val_psnr"],
            "real": faithfulness(scorer, real, requested),
            "reconstructed": faithfulness(scorer, torch.cat(kept).permute(0, 2, 3, 1).numpy(), requested)}

