#!/usr/bin/env bash
# Create .venv and install ibench with everything the demo and the tests need (CPU machine, pinned).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# Pinned versions for CI and CPU development (users install from pyproject's ranges instead).
.venv/bin/python -m pip install -q -c .ci/constraints.txt -e ".[all,test]"
