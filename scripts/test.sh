#!/usr/bin/env bash
# Set up and run the whole test suite (no GPU, no hub). Installs Debian's Chromium for the
# browser tests when it is missing (needs root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
export HF_HUB_OFFLINE=1
.venv/bin/python -m pytest "$@"
