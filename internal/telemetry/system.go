package telemetry

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ReadSystem reads the machine's figures from /proc and statfs(dataDir).
// Missing sources leave zeros: telemetry never fails a node.
func ReadSystem(dataDir, version string) System {
	s := System{Version: version, Goroutines: runtime.NumGoroutine()}
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			s.UptimeSec, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			s.Load1, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ":")
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			switch k {
			case "MemTotal":
				s.MemTotal = n << 10
			case "MemAvailable":
				s.MemAvail = n << 10
			}
		}
		f.Close()
	}
	var st unix.Statfs_t
	if unix.Statfs(dataDir, &st) == nil {
		s.DiskTotal, s.DiskFree = st.Blocks*uint64(st.Bsize), st.Bavail*uint64(st.Bsize)
	}
	if b, err := os.ReadFile("/proc/net/dev"); err == nil {
		s.NetRxBytes, s.NetTxBytes = ParseNetDev(string(b))
	}
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) == nil {
		s.CPUUserSec = float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6
		s.CPUSysSec = float64(ru.Stime.Sec) + float64(ru.Stime.Usec)/1e6
	}
	return s
}

// ParseNetDev sums received and transmitted bytes of every interface but
// loopback from /proc/net/dev.
func ParseNetDev(s string) (rx, tx uint64) {
	for _, line := range strings.Split(s, "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, err1 := strconv.ParseUint(f[0], 10, 64)
		t, err2 := strconv.ParseUint(f[8], 10, 64)
		if err1 == nil && err2 == nil {
			rx, tx = rx+r, tx+t
		}
	}
	return rx, tx
}
