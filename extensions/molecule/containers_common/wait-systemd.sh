#!/usr/bin/env bash
# Waits (up to about 20 s each) until systemd in each named podman container has finished booting, whether or not
# every unit started (running or degraded). Shared by the scenarios' topology scripts.
# Usage: wait-systemd.sh CONTAINER...
set -euo pipefail
for c in "$@"; do
  for _ in $(seq 100); do
    s=$(podman exec "$c" systemctl is-system-running 2>/dev/null || true)
    case $s in running|degraded) break ;; esac
    sleep 0.2
  done
done
