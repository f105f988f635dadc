#!/usr/bin/env bash
# Makes sure the workspace images exist, idempotently:
#   debian:bookworm           pulled where a registry answers, otherwise a
#                             debootstrap rootfs imported under that tag
#   nexus/default:bookworm    built from templates/default (again when its
#                             Dockerfile changes)
#   nexus-test/busybox:latest a busybox-static image for fast tests
#   nexus-test/docker:bookworm debian:bookworm with Debian's docker.io (the
#                             CLI for the Docker proxy's tests, dockerd for
#                             dind's), built once from the Debian mirror
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

ensure_apt() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# The Debian mirror this machine's apt uses (its main archive, not security or
# third-party repositories), so debootstrap follows the machine's own
# configuration; NEXUS_DEBIAN_MIRROR overrides it, and deb.debian.org is the
# fallback. Reads one-line sources.list entries and deb822 .sources files.
debian_mirror() {
  if [ -n "${NEXUS_DEBIAN_MIRROR:-}" ]; then echo "$NEXUS_DEBIAN_MIRROR"; return; fi
  local f uri
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri="$(awk '
      /^[[:space:]]*#/ { next }
      $1 == "deb" { u = ($2 ~ /^\[/) ? $3 : $2; if (u ~ /\/debian\/?$/) { print u; exit } }
      $1 == "URIs:" { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }
    ' "$f")"
    if [ -n "$uri" ]; then echo "${uri%/}"; return; fi
  done
  echo "http://deb.debian.org/debian"
}

ensure_debian_base() {
  have_image debian:bookworm && return 0
  echo "==> pulling debian:bookworm" >&2
  if timeout 60 docker pull -q debian:bookworm >/dev/null 2>&1; then return 0; fi
  echo "==> no registry answers: building debian:bookworm with debootstrap (about a minute)" >&2
  ensure_apt debootstrap
  local dir mirror
  mirror="$(debian_mirror)"
  echo "==> debootstrap from $mirror" >&2
  dir="$(mktemp -d /tmp/nexus-rootfs.XXXXXX)"
  debootstrap --variant=minbase \
    --include=bash,git,sudo,curl,ca-certificates,less,procps,rsync,openssh-client \
    bookworm "$dir" "$mirror" >/tmp/nexus-debootstrap.log 2>&1 \
    || { echo "error: debootstrap failed; see /tmp/nexus-debootstrap.log" >&2; rm -rf "$dir"; return 1; }
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -c . | docker import -c 'CMD ["bash"]' - debian:bookworm >/dev/null
  rm -rf "$dir"
}

# The image is rebuilt when templates/default/Dockerfile changed since it was built.
ensure_default_image() {
  local hash
  hash="$(sha256sum "$root/templates/default/Dockerfile" | cut -c1-16)"
  if [ "$(docker image inspect -f '{{index .Config.Labels "dev.nexus.template.hash"}}' nexus/default:bookworm 2>/dev/null)" = "$hash" ]; then
    return 0
  fi
  ensure_debian_base
  echo "==> building nexus/default:bookworm from templates/default" >&2
  docker build -q --label "dev.nexus.template.hash=$hash" -t nexus/default:bookworm "$root/templates/default" >/dev/null
}

ensure_busybox_image() {
  have_image nexus-test/busybox:latest && return 0
  ensure_apt busybox-static
  local dir
  dir="$(mktemp -d /tmp/nexus-bb.XXXXXX)"
  cp /bin/busybox "$dir/busybox"
  cat >"$dir/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /etc /tmp /root /home/dev && chmod 1777 /tmp \
 && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd \
 && echo 'dev:x:1000:1000:dev:/home/dev:/bin/sh' >> /etc/passwd \
 && printf 'root:x:0:\ndev:x:1000:\n' > /etc/group \
 && chown 1000:1000 /home/dev
DOCKERFILE
  docker build -q -t nexus-test/busybox:latest "$dir" >/dev/null
  rm -rf "$dir"
}

# The tests of Docker inside workspaces: the Docker CLI and dockerd from
# Debian's docker.io, installed from the Debian mirror (as a devcontainer
# feature would), on the base image.
ensure_docker_image() {
  have_image nexus-test/docker:bookworm && return 0
  ensure_debian_base
  echo "==> building nexus-test/docker:bookworm (Debian's docker.io, about a minute)" >&2
  local dir
  dir="$(mktemp -d /tmp/nexus-docker-image.XXXXXX)"
  cat >"$dir/Dockerfile" <<'DOCKERFILE'
FROM debian:bookworm
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null \
 && rm -rf /var/lib/apt/lists/*
DOCKERFILE
  docker build -q -t nexus-test/docker:bookworm "$dir" >/dev/null
  rm -rf "$dir"
}

case "${1:-all}" in
  default) ensure_default_image ;;
  busybox) ensure_busybox_image ;;
  docker) ensure_docker_image ;;
  all) ensure_busybox_image; ensure_default_image ;;
  tests) ensure_busybox_image; ensure_default_image; ensure_docker_image ;;
  *) echo "usage: $0 [all|tests|default|busybox|docker]" >&2; exit 2 ;;
esac
