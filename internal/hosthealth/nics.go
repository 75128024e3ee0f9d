package hosthealth

import (
	"strconv"
	"strings"

	"micromirror/internal/telemetry"
)

// ParseNetDevErrors reads each interface's error and drop counters (all
// but loopback) from /proc/net/dev: receive errs and drop are its 3rd
// and 4th numbers, transmit errs and drop its 11th and 12th.
func ParseNetDevErrors(s string) []telemetry.NICCounters {
	var out []telemetry.NICCounters
	for _, line := range strings.Split(s, "\n") {
		name, rest, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "lo" || name == "" || strings.Contains(name, "|") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 12 {
			continue
		}
		var n [4]uint64
		good := true
		for i, col := range []int{2, 3, 10, 11} {
			v, err := strconv.ParseUint(f[col], 10, 64)
			good = good && err == nil
			n[i] = v
		}
		if good && len(out) < 64 {
			out = append(out, telemetry.NICCounters{Name: name, RxErrors: n[0], RxDropped: n[1], TxErrors: n[2], TxDropped: n[3]})
		}
	}
	return out
}
