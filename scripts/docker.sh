#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs Debian's docker.io and starts
# dockerd in the background when `docker info` fails and we are root.
# Idempotent; sourced or run.
set -euo pipefail

ensure_docker() {
  if docker info >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    echo "error: no Docker engine answers and we are not root: start Docker (e.g. 'sudo systemctl start docker') and run this again" >&2
    return 1
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "==> installing Debian's docker.io" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  fi
  if ! docker info >/dev/null 2>&1; then
    echo "==> starting dockerd (log: /var/log/nexus-dockerd.log)" >&2
    mkdir -p /var/log
    setsid nohup dockerd >/var/log/nexus-dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 1 60); do
      docker info >/dev/null 2>&1 && return 0
      sleep 1
    done
    echo "error: dockerd did not answer within 60 s; see /var/log/nexus-dockerd.log" >&2
    return 1
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then ensure_docker; fi
