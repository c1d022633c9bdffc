#!/usr/bin/env bash
# All four tutorials in JupyterLab, from a fresh Debian machine (as root): installs what is
# missing, starts private engines (plain, TCP and TLS) and registries (open and with a
# password) on loopback, makes the base images locally, and opens JupyterLab on notebooks/
# with the environment the tutorials read. Ctrl-C stops and removes all of it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_packages debootstrap  # a Python base image from Debian packages (no Docker Hub)
command -v npm >/dev/null || ensure_packages nodejs npm  # npm builds the labextension
ensure_venv "lab,test"  # test: trustme and bcrypt make the TLS engine and the password registry
exec "$VENV/bin/python" "$REPO/scripts/tutorials.py"
