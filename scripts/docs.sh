#!/usr/bin/env bash
# The documentation site: installs the docs extra into the virtualenv if it is missing, then
# builds docs/ into docs/_build/html with warnings as errors. Offline: internal links and
# cross-references are checked by the build itself; nothing is fetched from the internet.
# Tutorials are shown as CI executed them (artifacts/notebooks/, written by the test suite
# and scripts/quickstart.sh); the build itself executes nothing. Extra arguments go to
# sphinx-build (e.g. -E to rebuild every page).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if ! "$VENV/bin/python" -c 'import sphinx, myst_nb, furo, docker_magics' >/dev/null 2>&1; then
    ensure_packages
    command -v npm >/dev/null || ensure_packages nodejs npm  # npm builds the labextension
    ensure_venv docs
fi
log "Building the documentation into docs/_build/html"
cd "$REPO"
"$VENV/bin/python" -m sphinx -W --keep-going -q -b html "$@" docs docs/_build/html
echo "Open $REPO/docs/_build/html/index.html"
