package serve

import (
	"path"
	"strings"
)

// contentTypes maps extensions to types. The table is the node's own rather
// than the system's /etc/mime.types, so every node answers alike, and no
// content is ever sniffed.
var contentTypes = map[string]string{
	".deb": "application/vnd.debian.binary-package", ".udeb": "application/vnd.debian.binary-package",
	".ddeb": "application/vnd.debian.binary-package", ".dsc": "text/plain; charset=utf-8",
	".rpm": "application/x-rpm", ".drpm": "application/x-rpm", ".srpm": "application/x-rpm",
	".iso": "application/x-iso9660-image", ".img": "application/octet-stream", ".qcow2": "application/octet-stream",
	".zst": "application/zstd", ".xz": "application/x-xz", ".gz": "application/gzip", ".tgz": "application/gzip",
	".bz2": "application/x-bzip2", ".lz4": "application/x-lz4", ".lzma": "application/x-lzma",
	".zip": "application/zip", ".tar": "application/x-tar", ".7z": "application/x-7z-compressed",
	".apk": "application/vnd.android.package-archive", ".exe": "application/octet-stream",
	".msi": "application/octet-stream", ".dmg": "application/octet-stream", ".torrent": "application/x-bittorrent",
	".xml": "application/xml", ".json": "application/json", ".sig": "application/pgp-signature",
	".asc": "application/pgp-signature", ".gpg": "application/pgp-signature", ".key": "application/pgp-keys",
	".sha256": "text/plain; charset=utf-8", ".sha512": "text/plain; charset=utf-8", ".md5": "text/plain; charset=utf-8",
	".txt": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8", ".html": "text/html; charset=utf-8",
	".htm": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
	".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".ico": "image/x-icon", ".pdf": "application/pdf", ".manifest": "text/plain; charset=utf-8",
	".list": "text/plain; charset=utf-8", ".db": "application/octet-stream", ".files": "application/octet-stream",
	".yaml": "application/yaml", ".yml": "application/yaml", ".repo": "text/plain; charset=utf-8",
}

// plainNames are extension-less files that are text in every mirror tree.
var plainNames = map[string]bool{
	"Release": true, "InRelease": true, "Packages": true, "Sources": true, "lastsync": true,
	"lastupdate": true, "last-updated": true, "README": true, "MD5SUMS": true, "SHA256SUMS": true,
	"SHA512SUMS": true, "CHECKSUM": true, "LICENSE": true, "COPYING": true,
}

// contentType returns the type for a file name, application/octet-stream
// when unknown.
func contentType(name string) string {
	base := path.Base(name)
	if t, ok := contentTypes[strings.ToLower(path.Ext(base))]; ok {
		return t
	}
	if plainNames[base] {
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}
