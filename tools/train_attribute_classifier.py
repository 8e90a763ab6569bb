"""Train the attribute classifier on a profile's real avatars and measure which attributes it reads.

    python tools/train_attribute_classifier.py --profile cpu [--steps 3000] [--minutes 5]

Writes results/text/attribute-classifier-<profile>.json (per-attribute validation accuracy, the
readable set, the command and the machine) and results/checkpoints/attributes-<profile>.ckpt.
The readable set is what ``captioned`` in maskgit_lib/data/attribute_map.yaml should list.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from maskgit_lib.config import load_config
from maskgit_lib.data.prepared import prepare_data
from maskgit_lib.evaluation.attribute_classifier import (
    READABLE_BALANCED_ACCURACY,
    readable_attributes,
    save_attribute_classifier,
    train_attribute_classifier,
    validation_accuracy,
)

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", dest="batch_size", type=int, default=128)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--minutes", type=float, default=5.0, help="stop training after this long")
    parser.add_argument("--machine", default=f"{platform.machine()} CPU, {torch.get_num_threads()} threads")
    args = parser.parse_args()
    config = load_config(args.profile)
    data = prepare_data(config.data)
    started = time.perf_counter()
    model, log = train_attribute_classifier(data, steps=args.steps, batch_size=args.batch_size, channels=args.channels,
                                            time_limit_s=args.minutes * 60)
    seconds = round(time.perf_counter() - started, 1)
    table = validation_accuracy(model, data)
    readable = readable_attributes(table)
    report = {
        "command": "python " + shlex.join([f"tools/{Path(sys.argv[0]).name}", *sys.argv[1:]]),
        "machine": args.machine,
        "profile": args.profile,
        "data": {"folder": data.folder.name, "n_train": len(data.train_images), "n_val": len(data.val_images)},
        "training": {"steps_run": log[-1]["step"] + 1, "seconds": seconds, "log": log},
        "threshold_balanced_accuracy": READABLE_BALANCED_ACCURACY,
        "val": table,
        "readable": readable,
        "dropped": [name for name in table if name not in readable],
    }
    out = REPO / "results" / "text" / f"attribute-classifier-{args.profile}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    ckpt = save_attribute_classifier(model, REPO / "results" / "checkpoints" / f"attributes-{args.profile}.ckpt",
                                     extra={"val_accuracy": table, "readable": readable})
    print(json.dumps({k: report[k] for k in ("val", "readable", "dropped")}, indent=1))
    print(f"wrote {out} and {ckpt} ({ckpt.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
