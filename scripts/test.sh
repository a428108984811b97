#!/usr/bin/env bash
# The test command (README, and .ci/run): build, then every tier that can run here.
# As root the lab tier (network namespaces + veth) runs; with CI=true a lab test
# that is skipped where it could run fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python scripts/gen_constants.py --check
exec .venv/bin/python -m pytest "$@"
