package serve

import (
	"errors"
	"path"
	"strings"
)

// errBadPath is a request path that tries to leave the served trees or
// cannot name a file; it is answered 400.
var errBadPath = errors.New("bad request path")

// Hidden reports whether a file name is sync machinery that is never served
// nor listed: rsync's delay-updates dir, its partial dir and its temp files.
func Hidden(name string) bool {
	return name == ".~tmp~" || name == ".rsync-partial" || isRsyncTemp(name)
}

// isRsyncTemp matches rsync's in-flight temp files, ".<name>.XXXXXX" (six
// letters or digits): the regexp ^\..+\.[A-Za-z0-9]{6}$ without its cost on
// every path segment of every request.
func isRsyncTemp(name string) bool {
	n := len(name)
	if n < 9 || name[0] != '.' || name[n-7] != '.' {
		return false
	}
	for i := n - 6; i < n; i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// target is where a request path points: a project and a path inside it.
type target struct {
	project string // first segment; "" for the site root
	rel     string // slash-separated, local, "." for the project root
	slash   bool   // the request path ended in '/'
}

// resolve splits an already percent-decoded URL path into project and
// relative path. It refuses "..", NUL and backslash-dot tricks outright
// rather than cleaning them away, as nginx does, and reports hidden
// components so they 404 like files that do not exist.
func resolve(urlPath string) (target, bool, error) {
	if urlPath == "" || urlPath[0] != '/' || strings.ContainsRune(urlPath, 0) {
		return target{}, false, errBadPath
	}
	hidden := false
	var parts []string
	for _, seg := range strings.Split(urlPath[1:], "/") {
		switch seg {
		case "", ".":
			continue
		case "..":
			return target{}, false, errBadPath
		}
		// A backslash is an ordinary byte on Linux, but "..\" segments are
		// what a path-traversal probe sends; nothing legitimate needs them.
		if strings.Contains(seg, `..\`) || strings.HasSuffix(seg, `\..`) || seg == `\..` {
			return target{}, false, errBadPath
		}
		if Hidden(seg) {
			hidden = true
		}
		parts = append(parts, seg)
	}
	t := target{slash: strings.HasSuffix(urlPath, "/"), rel: "."}
	if len(parts) == 0 {
		return t, false, nil
	}
	t.project = parts[0]
	if len(parts) > 1 {
		t.rel = path.Join(parts[1:]...)
	}
	return t, hidden, nil
}

// canonical is the one URL path of a file target: no empty or "." segments.
func (t target) canonical() string {
	return "/" + t.project + "/" + t.rel
}
