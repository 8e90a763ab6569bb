"""The text model's results that one ``maskgit evaluate`` does not give: the guidance sweep, the
held-out combinations over training, and checkpoints compared at one n (the conditioning ablation).
Each writes a JSON under ``results/text/`` that holds its command and machine.

    # faithfulness against FID, guidance 0 to 8 (the classic trade-off curve)
    python tools/text_results.py sweep --checkpoint results/checkpoints/transformer-text-cpu.ckpt \\
        --scales 0,1,2,4,8 --n 1000 --out results/text/guidance-sweep-cpu.json

    # held-out pairs against seen ones, at each checkpoint a run kept (train.keep_every); --scales 0,2,4
    # scores each checkpoint at several guidance scales
    python tools/text_results.py over-training runs/text/checkpoints/step-*.ckpt \\
        --n 120 --out results/text/held-out-over-training-cpu.json

    # two conditionings (or any checkpoints: a run's EMA exported with maskgit export --ema) at the same
    # step: FID and faithfulness at one n
    python tools/text_results.py compare prefix/step-001500.ckpt cross/step-001500.ckpt \\
        --n 500 --out results/text/conditioning-ablation-cpu.json

    # what the tokenizer leaves readable: the classifier on its reconstructions of real avatars
    python tools/text_results.py tokenizer-ceiling --checkpoint results/checkpoints/transformer-text-cpu.ckpt \\
        --n 2000 --out results/text/tokenizer-ceiling-cpu.json

Why a sweep at a smaller n than the headline FID: five FIDs at n = 2,000 take about an hour on the
reference CPU; the floor is measured at the same n, so the curve's points stay comparable with each other.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from maskgit_lib.checkpoint import load_checkpoint  # noqa: E402
from maskgit_lib.evaluation.text_eval import (  # noqa: E402
    evaluate_text_transformer,
    held_out_faithfulness,
    tokenizer_ceiling,
)


def sweep(checkpoint: str, scales: list[float], n: int, steps: int = 12, seed: int = 0) -> dict[str, Any]:
    """One evaluation per guidance scale: FID, KID and faithfulness (with the ceiling), same prompts."""
    rows = []
    for scale in scales:
        report = evaluate_text_transformer(checkpoint, n=n, steps=steps, cfg_scale=scale, seed=seed, device="cpu", progress=False)
        faith = report["faithfulness"]
        rows.append({"cfg_scale": scale, "fid": report["fid"], "kid": report["kid"], "all_right": faith["all_right"],
                     "per_attribute": {k: v["accuracy"] for k, v in faith["per_attribute"].items()},
                     "seconds": round(report["seconds"], 1)})
        print(f"guidance {scale:g}: FID {report['fid']:.2f}, all right {faith['all_right']:.1%}", flush=True)
    return {"checkpoint": checkpoint, "n": n, "steps": steps, "seed": seed, "fid_floor": report["fid_floor"],
            "kid_floor": report["kid_floor"], "ceiling": {"all_right": faith["ceiling"]["all_right"],
            "per_attribute": {k: v["accuracy"] for k, v in faith["ceiling"]["per_attribute"].items()}}, "rows": rows}


def over_training(checkpoints: list[str], n: int, steps: int = 12, seed: int = 0, scales: tuple[float, ...] = (0.0,)) -> dict[str, Any]:
    """:func:`held_out_faithfulness` at each checkpoint, ordered by its training step, at each guidance scale."""
    ordered = sorted(checkpoints, key=lambda p: int(load_checkpoint(p)["step"]))
    rows = []
    for path, scale in ((p, s) for p in ordered for s in scales):
        step = int(load_checkpoint(path)["step"])
        report = held_out_faithfulness(path, n=n, steps=steps, cfg_scale=scale, seed=seed, device="cpu")
        rows.append({"step": step, "cfg_scale": scale, "pairs": report["pairs"]})
        print(f"step {step}, guidance {scale:g}: " + "; ".join(f"{p['pair']} held out {p['held_out']['attribute_accuracy']:.0%} "
                                           f"seen {p['seen']['attribute_accuracy']:.0%}" for p in report["pairs"]), flush=True)
    return {"n": n, "steps": steps, "seed": seed, "rows": rows}


def _val_loss(state: dict[str, Any]) -> float | None:
    """The run's last validation loss of the weights this checkpoint holds (an exported one keeps the
    run's summary); None when the checkpoint does not say."""
    summary = state.get("summary", {})
    return summary.get("val_loss_ema" if "weights" in state else "val_loss")


def compare(checkpoints: list[str], n: int, steps: int = 12, seed: int = 0, held_out: int = 0) -> dict[str, Any]:
    """Each checkpoint's conditioning, step and validation numbers (from its training state), FID and
    faithfulness at the same ``n`` and decoding; with ``held_out`` the held-out pairs too."""
    rows = []
    for path in checkpoints:
        state = load_checkpoint(path)  # a training checkpoint or an exported (compressed) one
        report = evaluate_text_transformer(path, n=n, steps=steps, seed=seed, device="cpu", progress=False, held_out=held_out)
        faith = report["faithfulness"]
        rows.append({"checkpoint": path, "conditioning": report["conditioning"], "step": int(state["step"]),
                     "weights": state.get("weights", "trained"),  # or the run's moving average (maskgit export --ema)
                     "val_loss": _val_loss(state),
                     "fid": report["fid"], "kid": report["kid"], "all_right": faith["all_right"],
                     "per_attribute": {k: v["accuracy"] for k, v in faith["per_attribute"].items()},
                     "held_out": [{"pair": p["pair"], "held_out": p["held_out"]["attribute_accuracy"],
                                   "seen": p["seen"]["attribute_accuracy"]} for p in report.get("held_out", {}).get("pairs", [])]})
        print(f"{report['conditioning']} at step {state['step']} ({rows[-1]['weights']} weights): FID {report['fid']:.2f}, all right {faith['all_right']:.1%}", flush=True)
    return {"n": n, "steps": steps, "seed": seed, "fid_floor": report["fid_floor"], "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("sweep", help="FID and faithfulness at several guidance scales")
    one.add_argument("--checkpoint", required=True)
    one.add_argument("--scales", default="0,1,2,4,8")
    two = commands.add_parser("over-training", help="held-out against seen pairs at each kept checkpoint")
    two.add_argument("checkpoints", nargs="+")
    two.add_argument("--scales", default="0", help="guidance scales, each checkpoint at each (default: 0, none)")
    three = commands.add_parser("compare", help="FID and faithfulness of several checkpoints at the same n")
    three.add_argument("checkpoints", nargs="+")
    three.add_argument("--held-out", type=int, default=0, help="also the held-out pairs, this many images per side")
    four = commands.add_parser("tokenizer-ceiling", help="the classifier on the tokenizer's reconstructions of real avatars")
    four.add_argument("--checkpoint", required=True, help="a text model (its tokenizer and data are used)")
    for sub in (one, two, three, four):
        sub.add_argument("--n", type=int, default=1000)
        sub.add_argument("--steps", type=int, default=12)
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.command == "sweep":
        report = sweep(args.checkpoint, [float(s) for s in args.scales.split(",")], args.n, args.steps, args.seed)
    elif args.command == "over-training":
        report = over_training(args.checkpoints, args.n, args.steps, args.seed, tuple(float(s) for s in args.scales.split(",")))
    elif args.command == "tokenizer-ceiling":
        report = tokenizer_ceiling(args.checkpoint, n=args.n, device="cpu")
    else:
        report = compare(args.checkpoints, args.n, args.steps, args.seed, args.held_out)
    report["command"] = "python tools/text_results.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    report["machine"] = f"{platform.machine()}, {torch.get_num_threads()} threads"
    report["seconds"] = round(time.perf_counter() - started, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"-> {args.out} ({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
