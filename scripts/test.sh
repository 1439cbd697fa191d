#!/usr/bin/env bash
# Set up and run the whole test suite (no GPU, no hub), as root or as any user. Installs Debian's
# Chromium (browser tests) and PostgreSQL server binaries (the rating store on PostgreSQL) when they
# are missing and this user may install packages (root, or passwordless sudo); otherwise those tests
# are skipped, each saying why (IBENCH_SKIP_SYSTEM_TESTS), and everything else runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MISSING=""
[ -x /usr/bin/chromium ] || MISSING="$MISSING chromium"
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || MISSING="$MISSING postgresql"
if [ -n "$MISSING" ]; then
  if [ "$(id -u)" = 0 ]; then
    SUDO=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    SUDO="-"
  fi
  WHY=""
  if [ "$SUDO" = "-" ]; then
    WHY="not root and no passwordless sudo to apt-get install them"
  elif ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $MISSING >/dev/null; }; then
    WHY="apt-get install failed"
  fi
  if [ -n "$WHY" ]; then
    export IBENCH_SKIP_SYSTEM_TESTS="${MISSING# }: $WHY"
    echo "note: skipping the tests that need ${MISSING# } ($WHY)" >&2
  fi
fi
export HF_HUB_OFFLINE=1
.venv/bin/python -m pytest "$@"
