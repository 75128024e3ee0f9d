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
  nftables       # docs/deploy.md's firewall, applied in a test's network namespace
  lintian        # checks the Debian package (make deb) in the tests
  openssh-server # a real sshd on loopback for the fleet rollout tests
  openssh-client # fleet deploy runs the operator's own ssh
  systemd        # systemd-analyze checks the packaged units
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
# The servers among them (nginx, mosquitto, postgresql, ssh) start system
# services when installed; the tests and the benchmark run their own on
# random loopback ports. A policy-rc.d (Debian's switch for exactly this)
# keeps the packages installed now from starting theirs, and only those
# are then disabled: a service the machine already had is never stopped,
# disabled or killed.
policy=/usr/sbin/policy-rc.d
ours=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# micromirror deps.sh: no service starts during this install\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
  "${as_root[@]}" chmod 755 "$policy"
  ours=1
fi
cleanup() { if [ -n "$ours" ]; then "${as_root[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq >/dev/null
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if command -v systemctl >/dev/null; then
  for p in "${missing[@]}"; do
    for unit in $(dpkg -L "$p" 2>/dev/null | grep -E '^/(usr/)?lib/systemd/system/[^/]+\.service$' | xargs -r -n1 basename); do
      "${as_root[@]}" systemctl disable "$unit" >/dev/null 2>&1 || true
    done
  done
fi
