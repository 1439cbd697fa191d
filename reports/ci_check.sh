#!/usr/bin/env bash
# The project's own regression gate: a tiny deterministic run, made and scored offline, checked
# against the committed baseline reports/baselines/tiny.json with `ibench check`.
#
#   bash reports/ci_check.sh            # exit code of `ibench check`: 0 pass, 1 regression, 2 error
#   bash reports/ci_check.sh --update   # rewrite the baseline from this run (commit it with the change)
#
# The run: task style_subject, the `tiny` model (random weights built in code), the built-in
# `synthetic` data set, 3 instances x 2 samples, seed 0; scored by the real evaluators with the tiny
# random extractors of ibench.evaluators.tiny (seeded; `--extractor-config tiny`), per-instance metrics only (FID/KID need a
# reference set and add a minute). Writes test-artifacts/ibench-check.{xml,md}.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
BASELINE=reports/baselines/tiny.json
METRICS=clip_t,dino,clip_i,style_clip,style_gram
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export HF_HUB_OFFLINE=1 IBENCH_CACHE_DIR="$WORK/cache"
unset IBENCH_DATA_DIR IBENCH_EXTRACTOR_CONFIG

"$PY" -m ibench generate --task style_subject --model tiny --data-dir synthetic --limit 3 --samples 2 --seed 0 \
  --out "$WORK/runs" > /dev/null
RUN=$(find "$WORK/runs" -mindepth 1 -maxdepth 1 -type d | head -n 1)
"$PY" -m ibench score "$RUN" --metrics "$METRICS" --extractor-config tiny --workers 0

if [ "${1:-}" = "--update" ]; then
  "$PY" -m ibench baseline "$RUN" --out "$BASELINE"
  exit 0
fi
mkdir -p test-artifacts
rm -f test-artifacts/ibench-check.md
"$PY" -m ibench check "$RUN" --baseline "$BASELINE" --junit test-artifacts/ibench-check.xml \
  --summary test-artifacts/ibench-check.md
