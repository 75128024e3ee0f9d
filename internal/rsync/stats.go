package rsync

import (
	"strconv"
	"strings"
)

// Stats are the figures of rsync's --stats summary.
type Stats struct {
	Files         int64 // "Number of files" on the sender
	RegularFiles  int64 // regular files among them
	Transferred   int64 // "Number of regular files transferred"
	Deleted       int64 // "Number of deleted files"
	TotalSize     int64 // "Total file size"
	BytesReceived int64 // "Total bytes received" (wire bytes, pull side)
	BytesSent     int64
}

// ParseStats reads the --stats block from rsync's output; unknown lines
// are ignored.
func ParseStats(out string) Stats {
	var s Stats
	for _, line := range strings.Split(out, "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, ok := leadingNumber(val)
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "Number of files":
			s.Files = n
			if _, rest, ok := strings.Cut(val, "reg: "); ok {
				s.RegularFiles, _ = leadingNumber(rest)
			}
		case "Number of deleted files":
			s.Deleted = n
		case "Number of regular files transferred":
			s.Transferred = n
		case "Total file size":
			s.TotalSize = n
		case "Total bytes received":
			s.BytesReceived = n
		case "Total bytes sent":
			s.BytesSent = n
		}
	}
	return s
}

// leadingNumber parses "1,234,567 bytes" or " 12 (reg: 10, dir: 2)".
func leadingNumber(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == ',') {
		end++
	}
	if end == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(s[:end], ",", ""), 10, 64)
	return n, err == nil
}
