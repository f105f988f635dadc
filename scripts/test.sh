#!/usr/bin/env bash
# The test command (README.md, .ci/run): set-up, then formatting, lints, and
# every test — unit tests and end-to-end tests against the real Docker
# engine, real OpenSSH clients and real git.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup.sh --debug
echo "==> cargo fmt --check" >&2
cargo fmt --all -- --check
echo "==> cargo clippy" >&2
cargo clippy -q --workspace --all-targets -- -D warnings
cargo clippy -q -p nexus-agent --all-targets -- -D warnings
echo "==> tests" >&2
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
