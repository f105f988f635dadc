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
# a test the runner kills cannot clean up after itself: on exit, remove the
# workspace containers that appeared during this run (by label)
before="$(docker ps -aq --no-trunc --filter label=dev.nexus.workspace | sort)"
cleanup() {
  local after leaked
  after="$(docker ps -aq --no-trunc --filter label=dev.nexus.workspace | sort)"
  leaked="$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^$' || true)"
  if [ -n "$leaked" ]; then
    echo "==> removing $(echo "$leaked" | wc -l) workspace container(s) left by the tests" >&2
    echo "$leaked" | xargs docker rm -f -v >/dev/null
  fi
}
trap cleanup EXIT
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
