#!/usr/bin/env bash
# Floors that hold: a second venv with every declared lower bound (.ci/minimums.txt pins them; torch and
# torchvision as in .ci/constraints.txt) runs the tests of the code that calls those libraries.
# VENV=DIR keeps the venv somewhere else (default .venv-min, rebuilt from scratch each time).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv-min}
rm -rf "$VENV"
start=$(date +%s)
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# (the filter: see scripts/setup.sh)
PYTHONWARNINGS="ignore:Editable installation" "$VENV/bin/python" -m pip install -q -c .ci/minimums.txt -e ".[all,test]"
"$VENV/bin/python" -m pip check
# Every pin of an installed extra is what got installed (a misspelt pin would constrain nothing).
"$VENV/bin/python" - <<'EOF'
import re
import sys
from importlib.metadata import PackageNotFoundError, version

NOT_INSTALLED = {"insightface", "onnxruntime", "bitsandbytes", "torchao"}  # face, quant: not in `all`
wrong = []
for line in open(".ci/minimums.txt", encoding="utf-8"):
    m = re.match(r"\s*([A-Za-z0-9_.\-]+)==(\S+)", line)
    if not m or m[1].lower() in NOT_INSTALLED:
        continue
    try:
        got = version(m[1])
    except PackageNotFoundError:
        got = "not installed"
    if got != m[2]:
        wrong.append(f"{m[1]}: pinned {m[2]}, got {got}")
if wrong:
    sys.exit("minimums not installed as pinned: " + "; ".join(wrong))
print("minimums installed as pinned")
EOF
echo "minimums venv ready in $(( $(date +%s) - start )) s"
# The code that calls the floored libraries: adapters and their weights (diffusers, transformers, accelerate,
# huggingface_hub), API models (openai, google-genai, tenacity), the judge, the extractors and metrics
# (open_clip, timm, clean-fid, lpips, torchmetrics as reference, scipy), the rater app and store (streamlit,
# SQLAlchemy, psycopg, krippendorff, statsmodels), the report (jinja2, pandas, pyarrow), the gate and the
# wheel build (setuptools).
TESTS=(
  tests/test_adapter_contract.py tests/test_models_api.py tests/test_models_blip.py tests/test_models_multiref.py
  tests/test_models_omnigen.py tests/test_models_sd_composite.py tests/test_models_text2img.py tests/test_weights.py
  tests/test_judge_api.py tests/test_judge_hf.py tests/test_judge_pairwise.py tests/test_judge_units.py
  tests/test_eval_extractors.py tests/test_eval_parity.py
  tests/test_human_app.py tests/test_human_store.py tests/test_human_stats.py
  tests/test_report_build.py tests/test_gate.py tests/test_packaging.py
  tests/test_catalog.py tests/test_placement.py tests/test_doctor.py tests/test_deprecations.py tests/test_judge_limits.py
  tests/test_extending.py tests/test_meta_stats.py
)
# No PostgreSQL server binaries (scripts/test.sh installs them where it may): skip those tests, saying why.
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  export IBENCH_SKIP_SYSTEM_TESTS="${IBENCH_SKIP_SYSTEM_TESTS:-postgresql: not installed (scripts/test.sh installs it)}"
fi
HF_HUB_OFFLINE=1 "$VENV/bin/python" -m pytest -p no:cacheprovider "${TESTS[@]}"
echo "minimums step: $(( $(date +%s) - start )) s"
