#!/usr/bin/env bash
# The benchmarks: sets up like scripts/test.sh, then runs bench/run.py, which starts a
# private engine and registry, measures docker_magics side by side with the docker CLI and
# docker-py, and writes bench/RESULTS.md. Extra arguments go to bench/run.py.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
ensure_packages
command -v npm >/dev/null || ensure_packages nodejs npm
ensure_venv test
cd "$REPO"
"$VENV/bin/python" bench/run.py "$@"
echo "Results: $REPO/bench/RESULTS.md"
