#!/usr/bin/env bash
# The main job, from a fresh Debian machine (as root): make a Docker engine available if none
# answers, install docker_magics with JupyterLab, and execute the quickstart notebook
# against the engine. The executed notebook lands in artifacts/notebooks/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_packages
command -v npm >/dev/null || ensure_packages nodejs npm  # npm builds the labextension
ensure_venv lab
"$VENV/bin/python" -m pip install -q --disable-pip-version-check nbclient ipykernel
ensure_engine
ensure_base_image
ensure_registry

log "Executing notebooks/01-quickstart.ipynb against $DOCKER_HOST"
mkdir -p "$REPO/artifacts/notebooks"
"$VENV/bin/jupyter" nbconvert --to notebook --execute \
    --ExecutePreprocessor.timeout=900 --ExecutePreprocessor.kernel_name=python3 \
    --output-dir "$REPO/artifacts/notebooks" "$REPO/notebooks/01-quickstart.ipynb"

cat <<MSG

Done. The executed notebook: $REPO/artifacts/notebooks/01-quickstart.ipynb
Engine: $DOCKER_HOST   Registry: $REGISTRY   Base image: $BASE_IMAGE

Open the quickstart in JupyterLab, on this engine:
    DOCKER_HOST=$DOCKER_HOST BASE_IMAGE=$BASE_IMAGE REGISTRY=$REGISTRY \\
        $VENV/bin/jupyter lab --allow-root $REPO/notebooks/01-quickstart.ipynb
All four tutorials (they also need a TCP engine, a TLS engine, a registry with a password
and a Python base image; this starts them on loopback and opens JupyterLab):
    bash $REPO/scripts/tutorials.sh
MSG
