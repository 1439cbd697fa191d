#!/usr/bin/env bash
# The main job end to end, offline, on the embedded defaults: the built-in synthetic data set and
# the tiny random model (it draws noise: this shows the pipeline, not a model's quality).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
.venv/bin/ibench run --task style_subject --model tiny --data-dir synthetic --limit 4 --samples 2 --out runs
