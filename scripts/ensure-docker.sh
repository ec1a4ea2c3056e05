#!/usr/bin/env bash
# Make a Docker engine available on this machine: install docker.io if dockerd is missing,
# start dockerd in the background if the engine does not answer, wait until it does.
# Idempotent and non-interactive; safe to run twice. Needs root.
set -euo pipefail

LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
WAIT_SECONDS=${DOCKERD_WAIT_SECONDS:-60}

say() { echo "ensure-docker: $*" >&2; }

if ! command -v dockerd >/dev/null 2>&1; then
    say "dockerd not found; installing docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q docker.io
fi

if docker info >/dev/null 2>&1; then
    say "engine already answering"
    exit 0
fi

# A live dockerd (maybe still starting) is waited for; a dead or zombie one is replaced. pgrep is no
# guide: a killed dockerd can linger as a zombie, and a stale pid file makes a new dockerd refuse to start.
alive() { [ -n "$1" ] && [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
PID=$(cat /var/run/docker.pid 2>/dev/null || true)
if alive "$PID"; then
    say "dockerd (pid $PID) is running but not answering yet; waiting"
else
    rm -f /var/run/docker.pid
    # dockerd reuses the containerd named in this pid file if that pid "exists" - a zombie does - and
    # then times out connecting to it. Stop a live orphan; forget a dead one.
    CPIDFILE=/var/run/docker/containerd/containerd.pid
    CPID=$(cat "$CPIDFILE" 2>/dev/null || true)
    if alive "$CPID" && [ "$(cat "/proc/$CPID/comm" 2>/dev/null)" = containerd ]; then
        say "stopping containerd (pid $CPID) left by a dead dockerd"
        kill "$CPID" 2>/dev/null || true
        for _ in $(seq 1 20); do alive "$CPID" || break; sleep 0.5; done
        kill -9 "$CPID" 2>/dev/null || true
    fi
    rm -f "$CPIDFILE"
    say "starting dockerd (log: $LOG)"
    mkdir -p "$(dirname "$LOG")"
    # setsid: the engine must outlive the shell (and process group) that happened to start it.
    setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
fi

for _ in $(seq 1 "$WAIT_SECONDS"); do
    if docker info >/dev/null 2>&1; then
        say "engine ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
        exit 0
    fi
    sleep 1
done

say "ERROR: the Docker engine did not answer within ${WAIT_SECONDS}s; see $LOG"
tail -n 20 "$LOG" >&2 2>/dev/null || true
exit 1
