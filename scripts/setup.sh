#!/usr/bin/env bash
# Install what netmap_py needs and build it into ./.venv (idempotent).
#   scripts/setup.sh            then: .venv/bin/pktgen-nm ...   .venv/bin/python -m pytest
# On a fresh Debian/Ubuntu machine (as root) it first installs gcc, the Python headers,
# venv and iproute2 with apt-get when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

need=()
command -v gcc >/dev/null || need+=(gcc)
command -v ip >/dev/null || need+=(iproute2)
"$PY" -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
"$PY" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || need+=(python3-dev)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${need[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: missing ${need[*]}; install them (apt-get install ${need[*]}) and run again" >&2
    exit 2
  fi
fi

# the RFC 2544 report's test looks at the page in a real browser: Debian's chromium,
# installed where we may (root with apt-get); elsewhere that one test says it skipped
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "setup: installing chromium with apt-get (the report test's browser)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || echo "setup: chromium could not be installed; the report's browser test will skip" >&2
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[test,dev]"
echo "setup: built; commands in .venv/bin (pktgen-nm), tests: .venv/bin/python -m pytest"
