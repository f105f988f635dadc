#!/usr/bin/env bash
# Benchmark: Nexus beside plain Docker, measured in one run on the same image.
#   scripts/bench.sh [IMAGE]     (default: nexus/default:bookworm)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh" >&2
exec python3 "$root/scripts/bench.py" "${1:-nexus/default:bookworm}"
