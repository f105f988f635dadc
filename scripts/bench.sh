#!/usr/bin/env bash
# Benchmarks, each figure beside its peer's, measured in one run:
#   scripts/bench.sh [IMAGE]   Nexus beside plain Docker (default image nexus/default:bookworm)
#   scripts/bench.sh ssh       the agent beside OpenSSH's sshd, one image, on 127.0.0.1
#   scripts/bench.sh scale     N = 50, 100, 200 workspaces beside as many plain containers
#   scripts/bench.sh api       the Rust SDK beside the Docker API (bollard, docker cp)
#   scripts/bench.sh checkpoint  git checkpoints of a 3,000-file dirty tree beside the git CLI
#   scripts/bench.sh team      team mode beside single-user mode: exec p50, list with 1,000 people
#   scripts/bench.sh shadow    nexus shadow until the agent's first command, beside a fork
#   scripts/bench.sh mcp       MCP exec through stdio and /mcp beside the SDK's exec.run
#   scripts/bench.sh idle      wake on ssh from pause and from stop, beside an awake workspace and docker
#   scripts/bench.sh docker    Docker through a workspace's proxy beside the host socket mounted
#   scripts/bench.sh trace     Agent Trace on a 100-file commit beside the same commit untraced
#   scripts/bench.sh update    nexus update check/install beside curl + minisign + tar; the notice's cost
#   scripts/bench.sh dashboard the dashboard's budgets with 50 running workspaces (bytes, load, daemon CPU)
#   scripts/bench.sh devcontainer [IMAGE]
#                              create beside `devcontainer up` (@devcontainers/cli), cold and warm
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh" >&2
if [ "${1:-}" = ssh ] || [ "${1:-}" = api ] || [ "${1:-}" = scale ] || [ "${1:-}" = checkpoint ] || [ "${1:-}" = team ] || [ "${1:-}" = update ] || [ "${1:-}" = mcp ] || [ "${1:-}" = shadow ] || [ "${1:-}" = trace ] || [ "${1:-}" = idle ] || [ "${1:-}" = docker ] || [ "${1:-}" = dashboard ]; then
  exec python3 "$root/scripts/bench.py" "$1"
fi
if [ "${1:-}" = devcontainer ]; then
  exec python3 "$root/scripts/bench.py" devcontainer "${2:-nexus/default:bookworm}"
fi
exec python3 "$root/scripts/bench.py" core "${1:-nexus/default:bookworm}"
