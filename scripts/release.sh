#!/usr/bin/env bash
# Builds and signs a release of nexus, nexusd and the agent:
#
#   scripts/release.sh VERSION CHANNEL
#
# VERSION must be the workspace version in Cargo.toml (what `nexus --version`
# prints); CHANNEL is stable, beta or nightly. Writes to $NEXUS_DIST_DIR
# (default dist/):
#   nexus-VERSION-TARGET.tar.gz           the three binaries, nothing else
#   nexus-VERSION-TARGET.tar.gz.minisig   prehashed minisign signature; trusted
#                                         comment "version:V target:T file:F channel:C"
#   manifest.json, manifest.json.minisig  the channel set to this release, the
#                                         serial one above the previous manifest's
# Environment:
#   NEXUS_RELEASE_KEY      minisign secret key file (the active release key; it
#                          may ask for its password)
#   NEXUS_RELEASE_NOTES    a Markdown file of release notes (optional)
#   NEXUS_MINIMUM_SAFE     the channel's minimum safe version (optional)
#   NEXUS_RELEASE_URL      base URL of the archives in the manifest (default:
#                          relative to the manifest)
#   NEXUS_MANIFEST_DAYS    days until the manifest expires (default 30)
# The public halves of the active and backup keys are nexus-cli/keys/*.pub,
# built into nexus; the secret keys never enter the repository.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${1:?usage: scripts/release.sh VERSION CHANNEL}"
channel="${2:?usage: scripts/release.sh VERSION CHANNEL}"
key="${NEXUS_RELEASE_KEY:?set NEXUS_RELEASE_KEY to the minisign secret key file}"
dist="${NEXUS_DIST_DIR:-$root/dist}"
target=x86_64-unknown-linux-gnu

case "$channel" in stable|beta|nightly) ;; *) echo "error: CHANNEL must be stable, beta or nightly" >&2; exit 2 ;; esac
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$ ]]; then
  echo "error: VERSION $version is not a semantic version" >&2; exit 2
fi
cargo_version="$(awk '/^\[workspace.package\]/{p=1} p && /^version *=/{gsub(/[" ]/,"",$0); sub(/version=/,"",$0); print; exit}' "$root/Cargo.toml")"
if [ "$cargo_version" != "$version" ]; then
  echo "error: Cargo.toml's workspace version is $cargo_version, not $version: set it first, so that nexus --version says $version" >&2
  exit 2
fi
command -v minisign >/dev/null || { echo "error: minisign is missing (apt-get install minisign)" >&2; exit 1; }

echo "==> building nexus and nexusd (release) and the static agent" >&2
(cd "$root" && cargo build -q --release -p nexusd -p nexus-cli)
(cd "$root" && RUSTFLAGS="-C target-feature=+crt-static" cargo build -q -p nexus-agent --profile agent --target "$target")

mkdir -p "$dist"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp "$root/target/release/nexus" "$root/target/release/nexusd" "$stage/"
cp "$root/target/$target/agent/nexus-agent" "$stage/"
strip "$stage/nexus" "$stage/nexusd" 2>/dev/null || true
# the agent beside it, as an install will have it
NEXUS_AGENT_BINARY= "$stage/nexusd" --self-check >/dev/null

file="nexus-$version-$target.tar.gz"
# reproducible: fixed times and owners, no name or time in the gzip header
tar --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$stage" -cf - nexus nexusd nexus-agent | gzip -n -9 > "$dist/$file"
minisign -S -s "$key" -m "$dist/$file" -t "version:$version target:$target file:$file channel:$channel"

url="${NEXUS_RELEASE_URL:+${NEXUS_RELEASE_URL%/}/}$file"
python3 - "$dist" "$channel" "$version" "$url" "$dist/$file" <<'PY'
import hashlib, json, os, sys, time
dist, channel, version, url, archive = sys.argv[1:6]
path = os.path.join(dist, "manifest.json")
try:
    m = json.load(open(path))
except (OSError, ValueError):
    m = {"schema": 1, "serial": 0, "revokedKeys": [], "channels": {}}
now = int(time.time())
m["schema"] = 1
m["serial"] = int(m.get("serial", 0)) + 1
m["issuedAt"] = now
m["expiresAt"] = now + int(os.environ.get("NEXUS_MANIFEST_DAYS", "30")) * 86400
c = m["channels"].get(channel, {})
c["version"] = version
notes = os.environ.get("NEXUS_RELEASE_NOTES")
c["notes"] = open(notes).read() if notes else c.get("notes", "")
if os.environ.get("NEXUS_MINIMUM_SAFE"):
    c["minimumSafe"] = os.environ["NEXUS_MINIMUM_SAFE"]
c.setdefault("revoked", [])
data = open(archive, "rb").read()
c["targets"] = {"x86_64-unknown-linux-gnu": {"url": url, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}}
m["channels"][channel] = c
json.dump(m, open(path, "w"), indent=2)
print(f"manifest serial {m['serial']}: {channel} = {version}", file=sys.stderr)
PY
minisign -S -s "$key" -m "$dist/manifest.json" -t "nexus release manifest"
echo "==> $dist/$file ($(stat -c %s "$dist/$file") bytes) and $dist/manifest.json" >&2
