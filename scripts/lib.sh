# Shared by scripts/quickstart.sh and scripts/test.sh: install what a fresh Debian machine
# lacks, and a virtualenv with the package. Source it; do not run it.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DOCKER_MAGICS_VENV:-$REPO/.venv}"
# Where ensure_engine and ensure_registry keep what they start (stop_local_services removes it).
LOCAL_ROOT="${DOCKER_MAGICS_LOCAL_ROOT:-/var/lib/docker-magics}"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

log() { printf '\n==> %s\n' "$*"; }

# System packages: a real engine (dockerd + containerd), a registry, busybox for local base
# images, and whatever the caller adds (the tests: sshd, debootstrap, iproute2, chromium).
ensure_packages() {
    local wanted=(docker.io docker-registry busybox-static ca-certificates "$@")
    local missing=()
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    # Debian's python3 has venv but not ensurepip without python3-venv (venv --help works).
    if ! python3 -c 'import ensurepip' >/dev/null 2>&1; then missing+=(python3-venv); fi
    if [ ${#missing[@]} -gt 0 ]; then
        log "Installing Debian packages: ${missing[*]}"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
        stop_started_services "${missing[@]}"
    fi
}

# On a machine with systemd, installing docker-registry or openssh-server starts Debian's
# services, listening on every interface. The scripts start their own, on loopback only:
# stop and disable the ones this run just installed.
stop_started_services() {
    [ -d /run/systemd/system ] || return 0
    local p service
    for p in "$@"; do
        case "$p" in
            docker-registry) service=docker-registry ;;
            openssh-server) service=ssh ;;
            *) continue ;;
        esac
        if $SUDO systemctl disable --now "$service" >/dev/null 2>&1; then
            log "Stopped and disabled Debian's $service service (it listens on every interface)"
        fi
    done
}

# A virtualenv at $VENV with docker_magics installed (editable) with the given extras.
ensure_venv() {
    local extras="$1"
    if [ ! -x "$VENV/bin/python" ]; then
        log "Creating the virtualenv $VENV"
        python3 -m venv "$VENV"
    fi
    log "Installing docker_magics[$extras] into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$REPO[$extras]"
}

# Docker Engine 26 (Debian 13's docker.io, API 1.45), for running the tests on a current
# engine next to Debian 12's 20.10. Downloaded with a temporary apt sources list for trixie
# (the machine's own sources are left alone) and unpacked, not installed, under
# $DOCKER26_ROOT; skipped when it is there. It runs with Debian 12's containerd and runc.
DOCKER26_ROOT="${DOCKER_MAGICS_CACHE:-/var/cache/docker-magics}/docker-26"
ensure_docker26() {
    [ -x "$DOCKER26_ROOT/usr/sbin/dockerd" ] && return 0
    log "Downloading Docker Engine 26 (Debian 13's docker.io) into $DOCKER26_ROOT"
    local mirror work
    mirror="$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null \
        | awk '{print $1; exit}')"
    mirror="${mirror:-http://deb.debian.org/debian}"
    work="$(mktemp -d)"
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/deb"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
        >"$work/sources.list"
    local apt=(apt-get -qq -o "Dir::Etc::SourceList=$work/sources.list"
        -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$work/lists"
        -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
    if ! "${apt[@]}" update \
        || ! (cd "$work/deb" && "${apt[@]}" download docker.io/trixie); then
        echo "Could not download docker.io from $mirror (trixie)" >&2
        rm -rf "$work"; return 1
    fi
    $SUDO rm -rf "$DOCKER26_ROOT.partial"
    $SUDO mkdir -p "$DOCKER26_ROOT.partial"
    $SUDO dpkg-deb -x "$work"/deb/docker.io_*.deb "$DOCKER26_ROOT.partial"
    rm -rf "$work"
    # Appears whole or not at all (an interrupted run leaves only the .partial folder).
    $SUDO rm -rf "$DOCKER26_ROOT"
    $SUDO mv "$DOCKER26_ROOT.partial" "$DOCKER26_ROOT"
    log "$("$DOCKER26_ROOT/usr/sbin/dockerd" --version)"
}

engine_answers() { DOCKER_HOST="$1" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# Export DOCKER_HOST for an engine that answers: $DOCKER_HOST, the default socket, or a
# private dockerd this function starts (and leaves running) under $LOCAL_ROOT.
ensure_engine() {
    if [ -n "${DOCKER_HOST:-}" ] && engine_answers "$DOCKER_HOST"; then
        log "Using the engine at $DOCKER_HOST"; return
    fi
    if engine_answers unix:///var/run/docker.sock; then
        export DOCKER_HOST=unix:///var/run/docker.sock
        log "Using the engine at $DOCKER_HOST"; return
    fi
    local root=$LOCAL_ROOT/engine
    export DOCKER_HOST="unix://$root/docker.sock"
    if engine_answers "$DOCKER_HOST"; then
        log "Using the local engine at $DOCKER_HOST"; return
    fi
    log "No engine answers: starting a local one at $DOCKER_HOST"
    $SUDO mkdir -p "$root"
    $SUDO rm -rf "$root/exec"  # stale containerd state after a crash
    # No host bridge and no iptables: works on machines without a configurable network.
    $SUDO setsid dockerd --host "$DOCKER_HOST" --data-root "$root/data" \
        --exec-root "$root/exec" --pidfile "$root/dockerd.pid" \
        --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
        >>"$root/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 1 120); do
        engine_answers "$DOCKER_HOST" && { log "Engine ready (log: $root/dockerd.log)"; return; }
        sleep 0.5
    done
    echo "The engine did not start; see $root/dockerd.log" >&2
    tail -20 "$root/dockerd.log" >&2
    return 1
}

# Export BASE_IMAGE: busybox:latest if the engine has or can pull it, else an equivalent
# image made locally from Debian's busybox-static (no registry needed).
ensure_base_image() {
    if [ -n "${BASE_IMAGE:-}" ]; then return; fi
    if docker image inspect busybox:latest >/dev/null 2>&1 \
        || timeout 60 docker pull -q busybox:latest >/dev/null 2>&1; then
        export BASE_IMAGE=busybox:latest; return
    fi
    export BASE_IMAGE=docker-magics/busybox:latest
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return; fi
    log "Making $BASE_IMAGE from /bin/busybox (Docker Hub is not reachable)"
    local ctx
    ctx="$(mktemp -d)"
    cp /bin/busybox "$ctx/busybox"
    printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["sh"]\n' \
        >"$ctx/Dockerfile"
    local out
    if ! out="$(DOCKER_BUILDKIT=0 docker build -q -t "$BASE_IMAGE" "$ctx" 2>&1)"; then
        echo "$out" >&2; rm -rf "$ctx"; return 1
    fi
    rm -rf "$ctx"
}

# Export REGISTRY: $REGISTRY if set, else a loopback registry this function starts (and
# leaves running) under $LOCAL_ROOT. Loopback registries need no TLS: the engine
# treats 127.0.0.0/8 as insecure.
ensure_registry() {
    if [ -n "${REGISTRY:-}" ]; then return; fi
    local root=$LOCAL_ROOT/registry port="${DOCKER_MAGICS_REGISTRY_PORT:-5000}"
    export REGISTRY="127.0.0.1:$port"
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        log "Using the registry at $REGISTRY"; return
    fi
    log "Starting a local registry at $REGISTRY"
    $SUDO mkdir -p "$root/data"
    # Our own config: Debian's default listens on every interface.
    printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' \
        "$root/data" "$REGISTRY" | $SUDO tee "$root/config.yml" >/dev/null
    $SUDO setsid docker-registry serve "$root/config.yml" >>"$root/registry.log" 2>&1 </dev/null &
    for _ in $(seq 1 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return
        sleep 0.2
    done
    echo "The registry did not start; see $root/registry.log" >&2
    return 1
}

# --- What ensure_engine and ensure_registry leave running, and stopping it ------------------
# They are found by their command lines, which name files under $LOCAL_ROOT that nothing
# else uses: an engine or a registry that was already running is never touched.

# The pids of the processes whose command line contains $1.
pids_with() {
    local dir cmd
    for dir in /proc/[0-9]*; do
        [ "${dir#/proc/}" = "$$" ] && continue
        cmd="$(tr '\0' ' ' <"$dir/cmdline" 2>/dev/null)" || continue
        case "$cmd" in *"$1"*) echo "${dir#/proc/}" ;; esac
    done
}

# Lines saying what of $LOCAL_ROOT runs now (none: nothing).
local_services() {
    local pids
    pids="$(pids_with "--data-root $LOCAL_ROOT/engine/data")"
    [ -z "$pids" ] || echo "  - a Docker engine (a root dockerd, pid $(echo $pids)) at unix://$LOCAL_ROOT/engine/docker.sock"
    pids="$(pids_with "$LOCAL_ROOT/registry/config.yml")"
    if [ -n "$pids" ]; then
        local addr
        addr="$(sed -n 's/^ *addr: *//p' "$LOCAL_ROOT/registry/config.yml" 2>/dev/null)"
        echo "  - a registry (pid $(echo $pids)) on ${addr:-its configured address}"
    fi
}

# SIGTERM to the pids, then SIGKILL to those still there after 30 s.
stop_pids() {
    local what="$1" p alive
    shift
    [ $# -gt 0 ] || return 0
    echo "Stopping $what (pid $*)"
    $SUDO kill -TERM "$@" 2>/dev/null || true
    for _ in $(seq 1 60); do
        alive=()
        for p in "$@"; do [ -d "/proc/$p" ] && alive+=("$p"); done
        [ ${#alive[@]} -eq 0 ] && return 0
        sleep 0.5
    done
    echo "$what did not stop within 30 s: killing pid ${alive[*]}"
    $SUDO kill -KILL "${alive[@]}" 2>/dev/null || true
}

# Stop what ensure_engine and ensure_registry started, and remove $LOCAL_ROOT: their data,
# logs and configuration. Nothing else (packages, the virtualenv, other engines) is touched.
stop_local_services() {
    if [ ! -e "$LOCAL_ROOT" ]; then
        echo "Nothing to stop: $LOCAL_ROOT does not exist (no quickstart engine or registry)."
        return 0
    fi
    stop_pids "the registry" $(pids_with "$LOCAL_ROOT/registry/config.yml")
    stop_pids "the engine (it stops its containers first)" \
        $(pids_with "--data-root $LOCAL_ROOT/engine/data")
    # What a killed engine leaves: its containerd and the containers' shims.
    local p leftovers=()
    for p in $(pids_with "$LOCAL_ROOT/"); do
        case "$(cat "/proc/$p/comm" 2>/dev/null)" in
            containerd*|dockerd|docker-registry|docker-proxy|runc) leftovers+=("$p") ;;
        esac
    done
    stop_pids "what the engine left running" "${leftovers[@]}"
    # Mounts a killed engine leaves under its data root, deepest first.
    awk -v root="$LOCAL_ROOT" '$2 == root || index($2, root "/") == 1 {print $2}' /proc/mounts \
        | sort -r | while read -r target; do $SUDO umount -l "$target" || true; done
    $SUDO rm -rf "$LOCAL_ROOT"
    echo "Removed $LOCAL_ROOT (the engine's images and containers, the registry's data, logs)."
}
