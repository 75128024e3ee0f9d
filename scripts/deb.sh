#!/usr/bin/env bash
# Builds the Debian package: scripts/deb.sh [ARCH...] (default amd64
# arm64) writes dist/micromirror_<version>_<arch>.deb. The binary is
# cross-compiled, static (CGO_ENABLED=0); dpkg-deb builds the archive
# with root as every file's owner. VERSION overrides the version, OUT the
# directory (dist).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
# A Debian version starts with a digit: 0.<commits>+g<hash>, and
# +dirty for a tree with changes not committed.
if [ -z "${VERSION:-}" ]; then
  VERSION="0.$(git rev-list --count HEAD 2>/dev/null || echo 0)+g$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  if [ -n "$(git status --porcelain 2>/dev/null)" ]; then VERSION="$VERSION+dirty"; fi
fi
archs=("$@"); [ ${#archs[@]} -gt 0 ] || archs=(amd64 arm64)
out_dir=${OUT:-dist}
mkdir -p "$out_dir"
for arch in "${archs[@]}"; do
  stage=$(mktemp -d)
  chmod 0755 "$stage"
  trap 'rm -rf "$stage"' EXIT
  install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/lib/systemd/system" "$stage/etc/micromirror" \
    "$stage/etc/logrotate.d" "$stage/usr/share/doc/micromirror" "$stage/usr/share/lintian/overrides" \
    "$stage/usr/share/man/man1"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$GO" build -trimpath -ldflags "-s -w -X main.version=$VERSION" \
    -o "$stage/usr/bin/micromirror" ./cmd/micromirror
  install -m 0644 packaging/systemd/*.service packaging/systemd/*.timer "$stage/usr/lib/systemd/system/"
  for f in node watchtower announce; do install -m 0644 "packaging/etc/$f.yaml" "$stage/etc/micromirror/$f.yaml"; done
  install -m 0644 packaging/etc/blocklist "$stage/etc/micromirror/blocklist"
  install -m 0644 packaging/etc/logrotate "$stage/etc/logrotate.d/micromirror"
  install -m 0644 packaging/debian/copyright "$stage/usr/share/doc/micromirror/copyright"
  install -m 0644 packaging/debian/lintian-overrides "$stage/usr/share/lintian/overrides/micromirror"
  install -m 0644 README.md docs/*.md "$stage/usr/share/doc/micromirror/"
  install -D -m 0644 docs/grafana/micromirror-fleet.json "$stage/usr/share/doc/micromirror/grafana/micromirror-fleet.json"
  gzip -9n < packaging/micromirror.1 > "$stage/usr/share/man/man1/micromirror.1.gz"
  chmod 0644 "$stage/usr/share/man/man1/micromirror.1.gz"
  # The change log Debian wants of a native package: this version's line.
  printf 'micromirror (%s) unstable; urgency=medium\n\n  * Built from %s.\n\n -- micromirror developers <noc@mm.example.net>  %s\n' \
    "$VERSION" "$(git rev-parse HEAD 2>/dev/null || echo unknown)" "$(date -uR)" | gzip -9n > "$stage/usr/share/doc/micromirror/changelog.gz"
  for s in postinst prerm postrm; do install -m 0755 "packaging/debian/$s" "$stage/DEBIAN/$s"; done
  install -m 0644 packaging/debian/conffiles "$stage/DEBIAN/conffiles"
  size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
  sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" packaging/debian/control.in > "$stage/DEBIAN/control"
  (cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
  out="$out_dir/micromirror_${VERSION}_${arch}.deb"
  dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
  rm -rf "$stage"; trap - EXIT
  echo "$out"
done
