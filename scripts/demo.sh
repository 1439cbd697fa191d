#!/usr/bin/env bash
# The main job end to end, offline, on the embedded defaults: the built-in synthetic data set, the
# tiny random model and the tiny random feature extractors (random weights: this shows the whole
# pipeline — build, generate, score, report — not a model's quality).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
.venv/bin/ibench run --task style_subject --model tiny --data-dir synthetic --limit 4 --samples 2 \
  --out runs --extractor-config tiny
.venv/bin/ibench report runs/style_subject-tiny-* --out reports/demo
echo "report: reports/demo/index.html"
