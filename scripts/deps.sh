#!/usr/bin/env bash
# Installs the Debian packages micromirror runs and tests with. Idempotent and
# quiet when everything is already present, so both README commands call it.
set -euo pipefail

packages=(
  rsync          # the node syncs and serves rsync through the system binary
  mosquitto      # MQTT broker the tests run (nodes work with any MQTT broker)
  postgresql     # the watchtower's store at scale; tests run their own instance
  chromium       # headless browser for the dashboard tests
  curl           # real HTTP client in tests
  apt-utils      # apt-ftparchive builds the test Debian repository
  tcpdump        # proves DSCP marking on the wire
  nginx-light    # benchmark peer
  wrk            # benchmark load generator
  openssl        # benchmark certificates
  iproute2       # ss and network namespaces in tests
  ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: missing ${missing[*]}; run as root to install them" >&2; exit 1; }
  as_root=(sudo)
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq >/dev/null
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# nginx-light, mosquitto and postgresql start system services; the benchmark and the
# tests run their own instances on random loopback ports instead.
if command -v systemctl >/dev/null; then
  "${as_root[@]}" systemctl disable --now nginx mosquitto postgresql >/dev/null 2>&1 || true
fi
"${as_root[@]}" pkill -x mosquitto 2>/dev/null || true
"${as_root[@]}" pkill -x postgres 2>/dev/null || true
"${as_root[@]}" pkill -x nginx 2>/dev/null || true
