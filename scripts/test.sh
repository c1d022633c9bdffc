#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine (as root): installs the system packages,
# Docker Engine 26 next to Debian's 20.10, and a virtualenv, then runs pytest: the unit tests
# once, the engine and end-to-end tests on each engine. The tests start (and remove) their
# own private Docker engines, registries and sshd.
#
# Extra arguments go to pytest instead, run once per engine: `bash scripts/test.sh -x
# tests/engine/test_build.py`. DOCKER_MAGICS_ENGINE_VERSIONS picks the engines (default
# "20.10 26"); with DOCKER_MAGICS_TEST_ENGINE (an existing engine) pytest runs once, on it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# sshd for ssh:// engines, debootstrap for a Python base image, iproute2 for network
# namespaces, Debian's Chromium driven by Playwright in the browser tests.
ensure_packages openssh-server openssh-client debootstrap iproute2 chromium
command -v npm >/dev/null || ensure_packages nodejs npm  # npm builds the labextension
ensure_docker26
ensure_venv test

cd "$REPO"
failed=0 ran=0
# One pytest run. Exit code 5 ("no tests collected") is not a failure of the code: it is
# said loudly, and the script fails only if no run ran a test. Any other failure fails it.
run_pytest() {
    log "pytest $*"
    set +e
    "$VENV/bin/python" -m pytest "$@"
    local rc=$?
    set -e
    case "$rc" in
        0) ran=$((ran + 1)) ;;
        5) echo "WARNING: pytest collected no tests (exit code 5): pytest $*" >&2 ;;
        *) echo "FAILED (exit code $rc): pytest $*" >&2; [ "$failed" -ne 0 ] || failed=$rc ;;
    esac
}

if [ -n "${DOCKER_MAGICS_TEST_ENGINE:-}" ]; then
    run_pytest "$@"
else
    versions=(${DOCKER_MAGICS_ENGINE_VERSIONS:-20.10 26})
    if [ $# -eq 0 ]; then
        run_pytest tests/unit
    fi
    for version in "${versions[@]}"; do
        if [ $# -eq 0 ]; then
            run_pytest --engine-version "$version" tests/engine tests/e2e
        else
            run_pytest --engine-version "$version" "$@"
        fi
    done
fi

if [ "$failed" -ne 0 ]; then
    exit "$failed"
fi
if [ "$ran" -eq 0 ]; then
    echo "WARNING: no pytest run ran a test." >&2
fi
exit 0
