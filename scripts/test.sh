#!/usr/bin/env bash
# Set up and run the whole test suite (no GPU, no hub). Installs Debian's Chromium (browser tests)
# and PostgreSQL server binaries (the rating store on PostgreSQL) when missing (needs root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MISSING=""
[ -x /usr/bin/chromium ] || MISSING="$MISSING chromium"
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || MISSING="$MISSING postgresql"
if [ -n "$MISSING" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $MISSING >/dev/null
fi
export HF_HUB_OFFLINE=1
.venv/bin/python -m pytest "$@"
