#!/usr/bin/env bash
# The tutorials in JupyterLab, from a fresh Debian machine (as root): installs what is
# missing, starts private engines (plain, TCP and TLS) and registries (open and with a
# password) on loopback, makes the base images locally, and opens JupyterLab on working
# copies of notebooks/ in work/tutorials/ (ignored by git) with the environment the
# tutorials read. Ctrl-C stops JupyterLab (its kernels shut down, its runtime files removed)
# and removes the engines and registries with their data. Kept: the working copies, and the
# Python base image's root file system in /var/cache/docker-magics (~250 MB, a minute of
# debootstrap to rebuild; the tests use it too): `rm -rf /var/cache/docker-magics` removes it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_packages debootstrap  # a Python base image from Debian packages (no Docker Hub)
command -v npm >/dev/null || ensure_packages nodejs npm  # npm builds the labextension
ensure_venv "lab,test"  # test: trustme and bcrypt make the TLS engine and the password registry
exec "$VENV/bin/python" "$REPO/scripts/tutorials.py"
