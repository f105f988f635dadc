#!/usr/bin/env bash
# The main job, end to end: set up, clone a real git repository (this one),
# create a workspace from it, run commands in it over SSH, then remove it.
# Uses its own daemon (own data directory and port) and stops it at the end.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"
nexus="$root/target/release/nexus"
work="$(mktemp -d /tmp/nexus-demo.XXXXXX)"
export NEXUS_DATA_DIR="$work/data" NEXUS_HOST="127.0.0.1:47390"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  # the SSH relay the daemon started (it outlives the daemon by design)
  relay="$(cat "$work/data/relay.lock" 2>/dev/null || true)"
  [ -n "$relay" ] && grep -qa -- --relay "/proc/$relay/cmdline" 2>/dev/null && kill "$relay" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/keys"
ssh-keygen -q -t ed25519 -N '' -f "$work/keys/id_ed25519"
git clone -q "$root" "$work/repo"
cd "$work/repo"

echo "==> nexus workspace create demo" >&2
"$nexus" workspace create demo --ssh-key "$work/keys/id_ed25519.pub"
pid="$("$nexus" daemon info --json | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')"
port="$("$nexus" workspace show demo --json | sed -n 's/.*"sshPort": \([0-9]*\).*/\1/p')"
user="$("$nexus" workspace show demo --json | sed -n 's/.*"remoteUser": "\([^"]*\)".*/\1/p')"

echo "==> a command over plain OpenSSH (ssh -p $port $user@127.0.0.1)" >&2
ssh -i "$work/keys/id_ed25519" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
  -p "$port" "$user@127.0.0.1" 'echo "in $(pwd) as $(whoami) on branch $(git branch --show-current)"; git log --oneline -1'

echo "==> nexus workspace exec demo -- git status --short --branch" >&2
"$nexus" workspace exec demo -- git status --short --branch

echo "==> nexus workspace rm demo" >&2
"$nexus" workspace rm demo --delete-branch
