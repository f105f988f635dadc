#!/usr/bin/env bash
# Set-up on a fresh machine, idempotent: the OpenSSH client, git, a Docker
# Compose CLI and the other tools the tests use (with --debug, Node and the TypeScript client's npm
# packages, and an OCI registry server, too); a Docker engine that answers; `nexusd` and `nexus`
# (release), the fully static agent; the default workspace image and the
# busybox test image (and, with --debug, the image with Docker the tests use).
#
#   scripts/setup.sh            everything, release binaries
#   scripts/setup.sh --debug    debug binaries instead (what the tests use)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
profile=release
[ "${1:-}" = "--debug" ] && profile=debug

need_pkgs=()
tools="ssh:openssh-client git:git rsync:rsync busybox:busybox-static debootstrap:debootstrap tmux:tmux minisign:minisign"
# the TypeScript client's tests need Node and npm; the TLS test openssl and stunnel; the
# test of features from an OCI registry a registry (Debian's CNCF distribution server)
[ "$profile" = debug ] && tools="$tools node:nodejs npm:npm openssl:openssl stunnel:stunnel4 docker-registry:docker-registry"
for cmd_pkg in $tools; do
  cmd="${cmd_pkg%%:*}"; pkg="${cmd_pkg#*:}"
  command -v "$cmd" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
# compose configs (dockerComposeFile) need a Docker Compose CLI: the plugin, else Debian's docker-compose
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
  need_pkgs+=(docker-compose)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "==> installing ${need_pkgs[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    echo "error: missing ${need_pkgs[*]}: install them (e.g. sudo apt-get install ${need_pkgs[*]})" >&2
    exit 1
  fi
fi

# shellcheck source=scripts/docker.sh
. "$root/scripts/docker.sh"
ensure_docker

echo "==> building nexusd and nexus ($profile)" >&2
if [ "$profile" = release ]; then
  cargo build --release -q -p nexusd -p nexus-cli
else
  cargo build -q -p nexusd -p nexus-cli
fi
echo "==> building the static agent" >&2
RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build -q -p nexus-agent --profile agent --target x86_64-unknown-linux-gnu

if [ "$profile" = debug ]; then
  ts="$root/sdk/typescript"
  if [ ! -f "$ts/node_modules/.package-lock.json" ] || [ "$ts/package-lock.json" -nt "$ts/node_modules/.package-lock.json" ]; then
    echo "==> installing the TypeScript client's packages (npm ci)" >&2
    (cd "$ts" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

# the tests also use an image with Docker in it (Docker inside workspaces)
if [ "$profile" = debug ]; then bash "$root/scripts/images.sh" tests; else bash "$root/scripts/images.sh" all; fi
echo "==> ready: target/$profile/nexus, target/$profile/nexusd, target/x86_64-unknown-linux-gnu/agent/nexus-agent" >&2
