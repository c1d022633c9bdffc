#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine (as root): installs the system packages
# and a virtualenv, then runs pytest. The tests start (and remove) their own private Docker
# engines, registries and sshd. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# sshd for ssh:// engines, debootstrap for a Python base image, iproute2 for network
# namespaces, Debian's Chromium driven by Playwright in the browser tests.
ensure_packages openssh-server openssh-client debootstrap iproute2 chromium
command -v npm >/dev/null || ensure_packages nodejs npm  # npm builds the labextension
ensure_venv test

log "Running the tests"
cd "$REPO"
set +e
"$VENV/bin/python" -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    # pytest's "no tests collected": not a failure of the code, but say it loudly.
    echo "WARNING: pytest collected no tests (exit code 5)." >&2
    exit 0
fi
exit "$rc"
