#!/usr/bin/env bash
# The test command (README, and .ci/run): build, then every tier that can run here.
# As root the lab tier (network namespaces + veth) runs; with CI=true a lab test
# that is skipped where it could run fails the run.  With no arguments it first runs
# the unit tier once on a debug build (line tracing, bounds checks), in a copy of the
# tree so the release build stays in place; NETMAP_PY_SKIP_DEBUG=1 skips that step.
# The netmap tier (tests/netmap) needs /dev/netmap: where it is missing and NETMAP_VM
# names a netmap-vm guest (.ci/run gives ../shared/netmap-vm), the tier runs in that
# guest on the real module instead; with neither, it is skipped with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# the tools the venv installed (cython-lint runs pycodestyle by name) come first
export PATH="$PWD/.venv/bin:$PATH"
.venv/bin/python scripts/gen_constants.py --check
.venv/bin/python scripts/flags_table.py --check
echo "test: lint (ruff, cython-lint)"
.venv/bin/ruff check -q .
.venv/bin/cython-lint netmap_py/*.pyx netmap_py/*.pxd netmap_py/*.pxi pktgen_nm/*.pyx pktgen_nm/*.pxi
if [ $# -eq 0 ] && [ "${NETMAP_PY_SKIP_DEBUG:-0}" != 1 ]; then
  dbg=$(mktemp -d)
  trap 'rm -rf "$dbg"' EXIT
  git ls-files -z 2>/dev/null | tar --null -cf - -T - | tar -xf - -C "$dbg" \
    || cp -r . "$dbg"
  echo "test: debug build (NETMAP_PY_DEBUG=1), unit tier"
  (cd "$dbg" && NETMAP_PY_DEBUG=1 "$OLDPWD/.venv/bin/python" setup.py -q build_ext --inplace >/dev/null \
     && "$OLDPWD/.venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit \
          --deselect tests/unit/test_cython_api.py)   # the release run builds the wheel
fi
if [ $# -eq 0 ] && [ ! -e /dev/netmap ] && [ -n "${NETMAP_VM:-}" ]; then
  [ -x "$NETMAP_VM/run.sh" ] || { echo "test: NETMAP_VM=$NETMAP_VM has no run.sh" >&2; exit 2; }
  .venv/bin/python -m pytest --ignore=tests/netmap
  echo "test: the netmap tier in the guest ($NETMAP_VM)"
  GUEST_TIMEOUT=900 "$NETMAP_VM/run.sh" \
    'NETMAP_PY_GUEST=1 .venv/bin/python -m pytest -p no:cacheprovider tests/netmap'
else
  .venv/bin/python -m pytest "$@"
fi
