#!/usr/bin/env bash
# The main job, from a fresh Debian machine (as root): make a Docker engine available if none
# answers, install docker_magics with JupyterLab, and execute the quickstart notebook
# against the engine. The executed notebook lands in artifacts/notebooks/.
#
# It leaves running what it started (a root dockerd if no engine answered, a registry on
# 127.0.0.1:5000 if nothing listened there), with their data in /var/lib/docker-magics, and
# says so at the end. `bash scripts/quickstart.sh --stop` stops those and removes that folder.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

case "${1:-}" in
    "") ;;
    --stop) stop_local_services; exit ;;
    *) echo "usage: bash scripts/quickstart.sh [--stop]" >&2; exit 2 ;;
esac

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

Open it in JupyterLab, on this engine (the executed copy: it is not tracked by git, so
JupyterLab may save into it):
    DOCKER_HOST=$DOCKER_HOST BASE_IMAGE=$BASE_IMAGE REGISTRY=$REGISTRY \\
        $VENV/bin/jupyter lab --allow-root $REPO/artifacts/notebooks/01-quickstart.ipynb
All the tutorials (they also need a TCP engine, a TLS engine, a registry with a password
and a Python base image; this starts them on loopback and opens JupyterLab on copies):
    bash $REPO/scripts/tutorials.sh
MSG
running="$(local_services)"
if [ -n "$running" ]; then
    cat <<MSG

Left running for you (started by this quickstart or an earlier one):
$running
Their data, logs and configuration are in $LOCAL_ROOT. To stop them and remove that folder
(and nothing else: not the packages, not $VENV, not an engine that was already running):
    bash $REPO/scripts/quickstart.sh --stop
MSG
else
    echo
    echo "Nothing left running: the quickstart used the engine and registry that were running."
fi
