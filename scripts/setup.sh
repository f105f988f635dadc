#!/usr/bin/env bash
# Set-up on a fresh machine, idempotent: the OpenSSH client, git, a Docker
# Compose CLI, Node and npm, and the other tools the tests use (with --debug, an OCI
# registry server and Debian's chromium for the dashboard's browser tests, too); a Docker
# engine that answers; the web dashboard (built into `nexusd`), `nexusd` and `nexus`
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
# the dashboard is built with Node and npm (web/, embedded in nexusd)
tools="ssh:openssh-client git:git rsync:rsync busybox:busybox-static debootstrap:debootstrap tmux:tmux minisign:minisign node:nodejs npm:npm"
# the TLS test needs openssl and stunnel; the test of features from an OCI registry a
# registry (Debian's CNCF distribution server); the dashboard's tests a real browser
[ "$profile" = debug ] && tools="$tools openssl:openssl stunnel:stunnel4 docker-registry:docker-registry chromium:chromium"
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

# npm ci in $1 when its lock file is newer than its last install
npm_ci() {
  if [ ! -f "$1/node_modules/.package-lock.json" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    echo "==> installing the npm packages of ${1#"$root"/} (npm ci)" >&2
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
ts="$root/sdk/typescript"
web="$root/web"
npm_ci "$ts"
npm_ci "$web"
# the dashboard, before the daemon that embeds it; again only when a source is newer than the build
if [ ! -f "$web/dist/index.html" ] ||
  [ -n "$(find "$web/src" "$web/public" "$web/index.html" "$web/vite.config.ts" "$web/package-lock.json" \
    "$ts/src" "$root/sdk/openrpc.json" -newer "$web/dist/index.html" -not -name generated.ts -print -quit)" ]; then
  echo "==> building the dashboard (web/dist)" >&2
  (cd "$ts" && npm run -s generate)
  (cd "$web" && npm run -s build >/dev/null)
fi

echo "==> building nexusd and nexus ($profile)" >&2
if [ "$profile" = release ]; then
  cargo build --release -q -p nexusd -p nexus-cli
else
  cargo build -q -p nexusd -p nexus-cli
fi
echo "==> building the static agent" >&2
RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build -q -p nexus-agent --profile agent --target x86_64-unknown-linux-gnu

# the tests also use an image with Docker in it (Docker inside workspaces)
if [ "$profile" = debug ]; then bash "$root/scripts/images.sh" tests; else bash "$root/scripts/images.sh" all; fi
echo "==> ready: target/$profile/nexus, target/$profile/nexusd, target/x86_64-unknown-linux-gnu/agent/nexus-agent" >&2
