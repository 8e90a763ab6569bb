#!/usr/bin/env bash
# Issue #14 §2: what 1,800 images do to both phases, with the cpu profile's defaults and with the
# small-data recipe (results/experiments/small-data*.yaml). Trains in results/runs/small-data-*,
# evaluates (FID n = 200 with its floor, memorisation against all 1,600 training images) into
# results/eval/small-data-*.json. About 1 h 10 min on the reference 2-core CPU (TF_STEPS=1500: ~50 min).
#   bash tools/small_data.sh            (PROFILE=fast for a seconds-long smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PROFILE=${PROFILE:-cpu}
RUNS=${RUNS:-results/runs}
EVAL=${EVAL:-results/eval}
N=${N:-200}
TF_STEPS=${TF_STEPS:+--max-steps $TF_STEPS}  # e.g. TF_STEPS=1500: stop both Transformers early (same cosine decay, shorter)
maskgit() { "$PY" -m maskgit_lib "$@"; }
mkdir -p "$RUNS" "$EVAL"
X=results/experiments
maskgit prepare-data --profile "$PROFILE" --config-file $X/small-data.yaml --no-progress
[ -n "${SKIP_TOKENIZER:-}" ] || maskgit train --phase vqgan --profile "$PROFILE" --config-file $X/small-data.yaml --run-dir "$RUNS/small-data-vqgan" --no-progress
TOK="$RUNS/small-data-vqgan/checkpoints"
maskgit train --phase transformer --profile "$PROFILE" --config-file $X/small-data.yaml --tokenizer "$TOK/last.ckpt" \
  --run-dir "$RUNS/small-data-transformer" --no-progress $TF_STEPS
maskgit train --phase transformer --profile "$PROFILE" --config-file $X/small-data-recipe.yaml --tokenizer "$TOK/best.ckpt" \
  --run-dir "$RUNS/small-data-recipe-transformer" --no-progress $TF_STEPS
for run in small-data-vqgan/checkpoints/last; do  # (best.ckpt: its step and PSNR are in the run's summary.json)
  maskgit evaluate --checkpoint "$RUNS/$run.ckpt" --n "$N" --no-progress --out "$EVAL/$(echo "$run" | tr / -).json"
done
for run in small-data-transformer/checkpoints/last small-data-transformer/checkpoints/best small-data-recipe-transformer/checkpoints/best; do
  # memorisation: pixels against all 1,600 training images, FID features against the floor's N (cached)
  maskgit evaluate --checkpoint "$RUNS/$run.ckpt" --n "$N" --memorisation-train "$N" --no-progress --out "$EVAL/$(echo "$run" | tr / -).json"
done
