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
volumes_before="$(docker volume ls -q --filter label=dev.nexus.workspace | sort)"
cleanup() {
  local after leaked
  after="$(docker ps -aq --no-trunc --filter label=dev.nexus.workspace | sort)"
  leaked="$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^$' || true)"
  if [ -n "$leaked" ]; then
    echo "==> removing $(echo "$leaked" | wc -l) workspace container(s) left by the tests" >&2
    echo "$leaked" | xargs docker rm -f -v >/dev/null
  fi
  # the named volumes of workspace containers (a dind workspace's) made during this run
  comm -13 <(echo "$volumes_before") <(docker volume ls -q --filter label=dev.nexus.workspace | sort) |
    grep -v '^$' | xargs -r docker volume rm -f >/dev/null 2>&1 || true
  # what the tests' workspaces made through their Docker proxies (label dev.nexus.parent)
  docker ps -aq --filter label=dev.nexus.parent | xargs -r docker rm -f -v >/dev/null 2>&1 || true
  docker network ls -q --filter label=dev.nexus.parent | xargs -r docker network rm >/dev/null 2>&1 || true
  docker volume ls -q --filter label=dev.nexus.parent | xargs -r docker volume rm -f >/dev/null 2>&1 || true
  remove_test_images
  echo "==> left by the tests: $(docker ps -aq --filter label=dev.nexus.workspace | wc -l) workspace containers," \
    "$(docker volume ls -q | wc -l) volumes," \
    "$(docker network ls -q --filter type=custom | wc -l) networks (all of the engine's)," \
    "$(docker images -q --filter label=dev.nexus.build | wc -l) devcontainer images," \
    "$(docker images --format '{{.Repository}}' | grep -c '^vsc-nexus-repo-') reference tool images" >&2
}
# The images the tests' daemons built from devcontainer.json (label
# dev.nexus.build) whose repository (label dev.nexus.repository, a
# temporary directory of a test) is gone, or which predate that label:
# removed once every test is done, never forced, so an image a container
# still uses stays. The daemon's own pass spares images younger than 10
# minutes and another daemon's, so without this they would pile up.
remove_test_images() {
  docker images --filter label=dev.nexus.build --format '{{.ID}} {{.Repository}}:{{.Tag}}' |
    while read -r id ref; do
      repository="$(docker image inspect --format '{{index .Config.Labels "dev.nexus.repository"}}' "$id" 2>/dev/null || true)"
      if [ -n "$repository" ] && [ -d "$repository" ]; then continue; fi
      if [ "$ref" = "<none>:<none>" ]; then ref="$id"; fi
      docker rmi "$ref" >/dev/null 2>&1 || true
    done
  # the reference tool's (@devcontainers/cli) images of the tests'
  # repositories (temporary directories named nexus-repo-*)
  docker images --format '{{.Repository}}:{{.Tag}}' | grep '^vsc-nexus-repo-' |
    xargs -r docker rmi >/dev/null 2>&1 || true
}
trap cleanup EXIT
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
