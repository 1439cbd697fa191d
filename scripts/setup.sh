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
# setuptools announces every editable install that maps folders (ibench.tasks -> tasks/, ...) with an
# "InformationOnly" warning ("Editable installation. Please be careful with folders ... same name as your
# package"), for want of another channel to pip (pypa/packaging-problems#558): nothing to act on, so that one
# message is filtered; any other build warning still shows.
PYTHONWARNINGS="ignore:Editable installation" .venv/bin/python -m pip install -q -c .ci/constraints.txt -e ".[all,test]"
