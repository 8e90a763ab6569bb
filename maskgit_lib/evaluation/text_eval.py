"""What ``maskgit evaluate`` measures for a text-to-image checkpoint: FID and faithfulness.

Prompts: one caption per validation image, drawn from its attributes with a fixed seed, so the
``n`` generated images have the validation set's mix of attributes and their FID is measured
against those validation images (with the usual real-vs-real floor). Faithfulness: the attribute
classifier (trained on real renders only, never a training signal) reads each generated image,
and the report gives per-attribute accuracy on what the prompt asked for, and the share of images
with every requested attribute right, beside the classifier's own accuracy on real images.
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
from maskgit_lib.evaluation.metrics import fid_network_source, frechet_distance, inception_features
from maskgit_lib.figures import to_uint8_nchw
from maskgit_lib.generator.decoding import maskgit_decode
from maskgit_lib.generator.train import tokenizer_path
from maskgit_lib.paths import repo_root
from maskgit_lib.progress import progress_bar
from maskgit_lib.system import pick_device
from maskgit_lib.text.captions import make_caption
from maskgit_lib.text.conditioned import load_text_transformer
from maskgit_lib.tokenizer.vqgan import load_vqgan


def default_classifier(profile: str) -> Path:
    """Where the shipped attribute classifier of a profile lives."""
    return (repo_root() or Path.cwd()) / "results" / "checkpoints" / f"attributes-{profile}.ckpt"


def evaluate_text_transformer(
    path: str | Path, classifier: str | Path | None = None, n: int = 2000, steps: int = 12, schedule: str = "cosine",
    order: str = "confidence", temperature: float = 1.0, randomness: float = 4.5, cfg_scale: float = 0.0,
    cfg_ramp: bool = False, seed: int = 0, device: str | None = None, progress: bool = True, batch_size: int = 250,
) -> dict[str, Any]:
    """FID (with its floor) and faithfulness of ``n`` images generated from validation captions."""
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
    images = []
    for b, start in enumerate(progress_bar(range(0, n, batch_size), progress, "generating")):
        words = vocabulary.encode_batch(prompts[start : start + batch_size]).to(device)  # (B, W)
        tokens, _ = maskgit_decode(model, len(words), words, steps=steps, schedule=schedule, order=order, temperature=temperature,
                                   randomness=randomness, cfg_scale=cfg_scale, cfg_ramp=cfg_ramp, seed=seed + b)
        side = int(round(tokens.shape[1] ** 0.5))
        with torch.no_grad():
            images.append(to_uint8_nchw(tokenizer.decode_tokens(tokens.view(-1, side, side))).cpu())
    generated = torch.cat(images)  # (n, 3, H, W) uint8
    report = {
        "checkpoint": str(path), "phase": "transformer-text", "conditioning": config.text.conditioning, "n": n,
        "device": str(device), "fid_network": fid_network_source(),
        "decoding": {"steps": steps, "schedule": schedule, "order": order, "temperature": temperature,
                     "randomness": randomness, "cfg_scale": cfg_scale, "cfg_ramp": cfg_ramp, "seed": seed},
        "fid": frechet_distance(inception_features(generated, device=device, progress=progress), val),
        "fid_floor": frechet_distance(train, val), "example_prompts": prompts[:8],
    }
    classifier_path = Path(classifier) if classifier else default_classifier(config.profile)
    if classifier_path.is_file():
        scorer = load_attribute_classifier(classifier_path)  # a small CNN: on the CPU, where predict() puts the pixels
        readable = [{k: v for k, v in r.items() if k in scorer.attribute_values} for r in requested]
        report["faithfulness"] = {"classifier": str(classifier_path), **faithfulness(scorer, generated.permute(0, 2, 3, 1).numpy(), readable)}
    else:
        report["faithfulness"] = None
        report["faithfulness_note"] = (f"no attribute classifier at {classifier_path}: train one "
                                       "(python tools/train_attribute_classifier.py) and pass it with --classifier")
    return {**report, "seconds": time.perf_counter() - started}
