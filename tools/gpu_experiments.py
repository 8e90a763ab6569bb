"""Issue #15's GPU session in one command: train the ship candidates and the ablations side by side
on one GPU, evaluate them, export what ships.

Why side by side: the course's models are small, so a training step on a big GPU is bounded by
per-step overhead (Python, kernel launches), not arithmetic; an H200 ran the cpu profile's
tokenizer at ~20 steps/s whether the batch was 32 or 128. Several trainings at once fill it.

    python tools/gpu_experiments.py --out OUT [--deadline 540] [--smoke]

Jobs (all with the project's own commands, ``python -m maskgit_lib ...``; config files in
``results/experiments/``):
- ship 32 px: tokenizer (cpu-ship.yaml) → exported to results/checkpoints/vqgan-cpu.ckpt → MaskGIT
  and the autoregressive baseline on it → evaluation (FID n = 2,000 with memorisation, Halton vs
  confidence at 8/12/16 steps, rFID);
- ship 64 px: the same with gpu-ship.yaml over the gpu profile;
- the learner's hour: the cpu profile's tokenizer, then its Transformer as today and resized
  (learner-w192.yaml), both scored;
- tokenizer ablations at the learner's budget (tok-*.yaml), scored by rFID;
- a short throughput comparison (batch size, channels_last) before the trainings start.
``--smoke`` runs every job in the fast profile for a few steps on this machine (to test the script).
Everything lands in OUT: the exported checkpoints, ``results.tar.xz`` (reports, logs, metrics,
summaries, curves, last sample grids) and ``samples-cpu.npz`` (generated images, for checking the
FIDs with the reference network elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
X = "results/experiments"
SHIPPED = ROOT / "results" / "checkpoints"


@dataclass
class Job:
    name: str
    argv: list[str]
    deps: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None
    started: float = 0.0
    status: str = "waiting"  # waiting | running | done | failed | skipped


class Plan:
    """The experiments as a dependency graph of commands; ``smoke`` shrinks every one."""

    def __init__(self, out: Path, runs: Path, smoke: bool):
        self.out, self.runs, self.smoke = out, runs, smoke
        self.device = "cpu" if smoke else "cuda"
        self.jobs: dict[str, Job] = {}
        # where exported tokenizers go: the shipped folder on the GPU machine (the profiles' Transformers
        # train on results/checkpoints/vqgan-<profile>.ckpt), a scratch folder in a smoke run here
        self.shipped = out / "smoke-shipped" if smoke else SHIPPED

    def on_shipped(self, profile: str) -> tuple[str, ...]:
        """Extra train flags for a Transformer on the exported tokenizer: none on the GPU machine."""
        return ("--tokenizer", str(self.shipped / f"vqgan-{profile}.ckpt")) if self.smoke else ()

    def maskgit(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "maskgit_lib", *args]

    def profile(self, profile: str) -> str:
        return "fast" if self.smoke else profile

    def add(self, name: str, argv: list[str], *deps: str) -> None:
        self.jobs[name] = Job(name, argv, list(deps))

    def train(self, name: str, phase: str, profile: str, config: str | None, *deps: str, extra: tuple[str, ...] = ()) -> None:
        argv = ["train", "--phase", phase, "--profile", self.profile(profile), "--run-dir", str(self.runs / name), "--no-progress"]
        argv += ["--config-file", config] if config else []
        argv += ["--max-steps", "3"] if self.smoke else []
        self.add(name, self.maskgit(*argv, *extra), *deps)

    def evaluate(self, name: str, checkpoint: str, *deps: str, extra: tuple[str, ...] = ()) -> None:
        n = "8" if self.smoke else "2000"
        argv = ["evaluate", "--checkpoint", checkpoint, "--n", n, "--device", self.device, "--no-progress",
                "--out", str(self.out / "reports" / f"{name}.json"), *extra]
        if self.smoke and "--no-memorisation" not in extra:
            argv += ["--memorisation-train", "16"]
        self.add(name, self.maskgit(*argv), *deps)

    def export(self, name: str, run: str, dest: Path, *deps: str) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        """Export (fp16 weights + config) into ``dest`` and copy it to OUT: what ships is what the next phase trains on."""
        script = (f"import shutil, subprocess, sys; subprocess.run({self.maskgit('export', '--checkpoint', str(self.runs / run / 'checkpoints' / 'last.ckpt'), '--out', str(dest), '--summary', str(self.runs / run / 'summary.json'))!r}, check=True); "
                  f"shutil.copy({str(dest)!r}, {str(self.out / dest.name)!r})")
        self.add(name, [sys.executable, "-c", script], *deps)


def build_plan(out: Path, runs: Path, smoke: bool) -> Plan:
    plan = Plan(out, runs, smoke)
    here = sys.executable, str(Path(__file__).resolve())
    # real FID features, cached once for every evaluation (all training images: the memorisation check)
    plan.add("features", [*here, "features", "--profiles", *(["fast"] if smoke else ["cpu", "gpu"])])
    # --- ship 32 px ---
    plan.train("ship-vqgan-cpu", "vqgan", "cpu", f"{X}/cpu-ship.yaml")
    plan.export("export-vqgan-cpu", "ship-vqgan-cpu", plan.shipped / "vqgan-cpu.ckpt", "ship-vqgan-cpu")
    plan.train("ship-transformer-cpu", "transformer", "cpu", f"{X}/cpu-ship.yaml", "export-vqgan-cpu", extra=plan.on_shipped("cpu"))
    plan.train("ship-transformer-ar-cpu", "transformer", "cpu", f"{X}/cpu-ship.yaml", "export-vqgan-cpu",
               extra=("--autoregressive", *plan.on_shipped("cpu")))
    plan.export("export-transformer-cpu", "ship-transformer-cpu", out / "staging" / "transformer-cpu.ckpt", "ship-transformer-cpu")
    plan.export("export-transformer-ar-cpu", "ship-transformer-ar-cpu", out / "staging" / "transformer-ar-cpu.ckpt", "ship-transformer-ar-cpu")
    mg, ar = str(out / "transformer-cpu.ckpt"), str(out / "transformer-ar-cpu.ckpt")
    plan.evaluate("eval-vqgan-cpu", str(plan.shipped / "vqgan-cpu.ckpt"), "export-vqgan-cpu", "features")
    plan.evaluate("eval-transformer-cpu", mg, "export-transformer-cpu", "features")
    plan.evaluate("ablation-halton-cpu", mg, "export-transformer-cpu", "features",
                  extra=("--steps", "8,12,16", "--order", "confidence,halton", "--schedule", "cosine"))
    plan.evaluate("ablation-halton-arccos-cpu", mg, "export-transformer-cpu", "features",
                  extra=("--steps", "8,12,16", "--order", "halton", "--schedule", "arccos"))
    plan.evaluate("eval-transformer-ar-cpu", ar, "export-transformer-ar-cpu", "features")
    plan.add("samples-cpu", [*here, "samples", mg, str(out / "samples-cpu.npz"), "--n", "8" if smoke else "2000"], "export-transformer-cpu")
    # --- ship 64 px ---
    plan.train("ship-vqgan-gpu", "vqgan", "gpu", f"{X}/gpu-ship.yaml")
    plan.export("export-vqgan-gpu", "ship-vqgan-gpu", plan.shipped / "vqgan-gpu.ckpt", "ship-vqgan-gpu")
    if not smoke:  # (in the smoke run both sizes are 'fast': the 32 px chain covers the commands)
        plan.train("ship-transformer-gpu", "transformer", "gpu", f"{X}/gpu-ship.yaml", "export-vqgan-gpu")
        plan.export("export-transformer-gpu", "ship-transformer-gpu", out / "staging" / "transformer-gpu.ckpt", "ship-transformer-gpu")
        plan.evaluate("eval-vqgan-gpu", str(plan.shipped / "vqgan-gpu.ckpt"), "export-vqgan-gpu", "features")
        plan.evaluate("eval-transformer-gpu", str(out / "transformer-gpu.ckpt"), "export-transformer-gpu", "features",
                      extra=("--steps", "12", "--order", "confidence"))
        plan.evaluate("halton-transformer-gpu", str(out / "transformer-gpu.ckpt"), "export-transformer-gpu", "features",
                      extra=("--steps", "12", "--order", "confidence,halton"))
    # --- the learner's hour, and tokenizer ablations at that budget ---
    plan.train("learner-vqgan", "vqgan", "cpu", None)
    learner_tok = str(runs / "learner-vqgan" / "checkpoints" / "last.ckpt")
    plan.train("learner-transformer", "transformer", "cpu", f"{X}/learner-w256.yaml", "learner-vqgan", extra=("--tokenizer", learner_tok))
    plan.train("learner-transformer-w192", "transformer", "cpu", f"{X}/learner-w192.yaml", "learner-vqgan",
               extra=("--tokenizer", learner_tok))
    plan.evaluate("eval-learner-vqgan", learner_tok, "learner-vqgan", "features")
    for name in ("learner-transformer", "learner-transformer-w192"):
        plan.evaluate(f"eval-{name}", str(runs / name / "checkpoints" / "last.ckpt"), name, "features", extra=("--no-memorisation",))
    for ablation in ("tok-perceptual1", "tok-wide"):  # (tok-1024.yaml: not run for lack of GPU time)
        plan.train(ablation, "vqgan", "cpu", f"{X}/{ablation}.yaml")
        plan.evaluate(f"eval-{ablation}", str(runs / ablation / "checkpoints" / "last.ckpt"), ablation, "features")
    return plan


def run_plan(plan: Plan, deadline: float, max_running: int) -> None:
    """Start every job whose dependencies are done (at most ``max_running`` at once), until all end or the deadline."""
    logs = plan.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONUNBUFFERED": "1"}
    while True:
        for job in plan.jobs.values():
            if job.status == "running" and job.process.poll() is not None:
                job.status = "done" if job.process.returncode == 0 else "failed"
                print(f"[{time.perf_counter() - START:6.0f} s] {job.status:<6} {job.name} ({time.perf_counter() - job.started:.0f} s)", flush=True)
        for job in plan.jobs.values():
            if job.status == "waiting" and any(plan.jobs[d].status in ("failed", "skipped") for d in job.deps):
                job.status = "skipped"
        running = sum(j.status == "running" for j in plan.jobs.values())
        for job in plan.jobs.values():
            if job.status == "waiting" and running < max_running and all(plan.jobs[d].status == "done" for d in job.deps):
                job.process = subprocess.Popen(job.argv, cwd=ROOT, env=env, stdout=(logs / f"{job.name}.log").open("w"),
                                               stderr=subprocess.STDOUT)
                job.status, job.started, running = "running", time.perf_counter(), running + 1
                print(f"[{time.perf_counter() - START:6.0f} s] start  {job.name}", flush=True)
        if all(j.status not in ("waiting", "running") for j in plan.jobs.values()):
            return
        if time.perf_counter() > deadline:
            for job in plan.jobs.values():
                if job.status == "running":
                    job.process.kill()
                    job.status = "failed"
                    print(f"deadline: killed {job.name}", flush=True)
            return
        time.sleep(1)


def pack(plan: Plan) -> None:
    """Move staged exports to OUT; everything else small into results.tar.xz."""
    for path in (plan.out / "staging").glob("*.ckpt"):
        shutil.move(str(path), plan.out / path.name)
    status = {name: {"status": j.status, "argv": j.argv[2:]} for name, j in plan.jobs.items()}
    (plan.out / "reports").mkdir(exist_ok=True)
    (plan.out / "reports" / "jobs.json").write_text(json.dumps(status, indent=2))
    with tarfile.open(plan.out / "results.tar.xz", "w:xz") as tar:
        for folder in ("reports", "logs"):
            tar.add(plan.out / folder, arcname=folder)
        for run in sorted(plan.runs.glob("*")):
            for name in ("summary.json", "metrics.jsonl", "curves.png"):
                if (run / name).is_file():
                    tar.add(run / name, arcname=f"runs/{run.name}/{name}")
            grids = sorted(run.glob("samples_*.png")) + sorted(run.glob("recon_*.png"))
            if grids:
                tar.add(grids[-1], arcname=f"runs/{run.name}/{grids[-1].name}")
    for folder in ("reports", "logs", "staging", "smoke-shipped"):
        shutil.rmtree(plan.out / folder, ignore_errors=True)


def features(profiles: list[str]) -> None:
    """Cache the real FID features every evaluation needs: validation, floor and all training images."""
    import numpy as np

    from maskgit_lib.config import load_config
    from maskgit_lib.data.prepared import prepare_data
    from maskgit_lib.evaluation.evaluate import balanced_indices, real_features, reference_sets

    device = "cuda" if not profiles == ["fast"] else "cpu"
    for profile in profiles:
        data = prepare_data(load_config(profile).data, progress=False)
        n = min(2000, len(data.val_images))
        reference_sets(data, n if profile != "fast" else 8, device, False)
        real_features(data, "train", np.arange(len(data.train_images)) if profile != "fast" else np.arange(16), device)
        balanced_indices(data.val_labels, n)
        print(f"{profile}: features cached", flush=True)


def samples(checkpoint: str, out: str, n: int) -> None:
    """The n images ``maskgit evaluate`` scores (same labels, seed and settings), as uint8 arrays."""
    import numpy as np

    from maskgit_lib.evaluation.evaluate import GenerationScorer

    scorer = GenerationScorer(checkpoint, n, progress=False)
    result = scorer.score(steps=12)
    np.savez_compressed(out, images=result["images"].numpy(), labels=scorer.labels, fid=result["fid"])


def throughput(out: Path, smoke: bool) -> None:
    """Images/s of the 64 px tokenizer and Transformer training steps at several batch sizes and layouts, one run."""
    import copy
    import tempfile

    import torch

    from maskgit_lib.config import load_config
    from maskgit_lib.data.prepared import prepare_data
    from maskgit_lib.evaluation.bench import _trainer, time_steps

    device = torch.device("cpu" if smoke else "cuda")
    config = load_config("fast" if smoke else "gpu", f"{X}/gpu-ship.yaml")
    data = prepare_data(config.data, progress=False)
    rows = []
    variants = [("vqgan", 64, "bf16"), ("vqgan", 128, "bf16"), ("vqgan", 128, "bf16+channels_last"), ("vqgan", 256, "bf16+channels_last")]
    for phase, batch, variant in variants:
        cfg = copy.deepcopy(config)
        cfg.train_vqgan.batch_size = batch
        with tempfile.TemporaryDirectory() as run_dir:
            trainer = _trainer(phase, cfg, data, variant, device, run_dir)
            seconds = time_steps(trainer.train_step, device, 2 if smoke else 10)
        rows.append({"phase": phase, "batch_size": batch, "variant": variant, "images_per_s": batch / seconds})
        print(rows[-1], flush=True)
    (out / "reports").mkdir(parents=True, exist_ok=True)
    (out / "reports" / "throughput.json").write_text(json.dumps(rows, indent=2))


START = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    f = sub.add_parser("features")
    f.add_argument("--profiles", nargs="+")
    s = sub.add_parser("samples")
    s.add_argument("checkpoint")
    s.add_argument("out")
    s.add_argument("--n", type=int, default=2000)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--runs", type=Path, default=Path("/tmp/maskgit-runs"))
    parser.add_argument("--deadline", type=float, default=540.0, help="seconds from start: then kill what runs and pack")
    parser.add_argument("--max-running", type=int, default=12)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.command == "features":
        return features(args.profiles)
    if args.command == "samples":
        return samples(args.checkpoint, args.out, args.n)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "staging").mkdir(exist_ok=True)
    prepare = [subprocess.Popen([sys.executable, "-m", "maskgit_lib", "prepare-data", "--profile", p, "--no-progress"], cwd=ROOT)
               for p in (["fast"] if args.smoke else ["cpu", "gpu"])]
    for process in prepare:
        process.wait()
    print(f"[{time.perf_counter() - START:6.0f} s] data prepared", flush=True)
    throughput(args.out, args.smoke)
    print(f"[{time.perf_counter() - START:6.0f} s] throughput measured", flush=True)
    plan = build_plan(args.out, args.runs, args.smoke)
    try:
        run_plan(plan, START + args.deadline, args.max_running)
    finally:
        pack(plan)
    print(f"[{time.perf_counter() - START:6.0f} s] packed: {sorted(p.name for p in args.out.iterdir())}", flush=True)


if __name__ == "__main__":
    main()
