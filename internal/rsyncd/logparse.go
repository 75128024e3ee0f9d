package rsyncd

import (
	"strconv"
	"strings"
)

// Transfer is one file sent, parsed from rsync's transfer log.
type Transfer struct {
	Module string
	Length int64 // file length
	Bytes  int64 // bytes actually sent for it
	Path   string
}

// ParseLogLine reads a line of rsync's log written with our log format:
// "YYYY/MM/DD HH:MM:SS [pid] MMXFER send <module> <length> <bytes> <path>".
// It also recognises the session line "rsync on <module>/<path> from ..."
// and returns its module. Anything else is ignored (ok false).
func ParseLogLine(line string) (t Transfer, session string, ok bool) {
	if _, rest, found := strings.Cut(line, logTag+" "); found {
		f := strings.SplitN(rest, " ", 5)
		if len(f) != 5 || f[0] != "send" {
			return Transfer{}, "", false
		}
		length, err1 := strconv.ParseInt(f[2], 10, 64)
		n, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil || length < 0 || n < 0 || f[1] == "" {
			return Transfer{}, "", false
		}
		return Transfer{Module: f[1], Length: length, Bytes: n, Path: f[4]}, "", true
	}
	if _, rest, found := strings.Cut(line, "] rsync on "); found {
		mod, _, _ := strings.Cut(rest, " from ")
		mod, _, _ = strings.Cut(mod, "/")
		if mod != "" {
			return Transfer{}, mod, true
		}
	}
	return Transfer{}, "", false
}
