package telemetry

import (
	"hash/maphash"
	"math"
	"math/bits"
	"net/netip"
	"sort"
	"sync"
	"time"
)

// Bounds on the paths counted per interval, in number and in bytes (a
// client chooses them, up to 8 KiB each): past them new paths go
// uncounted (the heavy hitters are by then long in the map), and a path
// longer than maxPathBytes is never one worth reporting.
const (
	maxTracked      = 20000
	maxTrackedBytes = 4 << 20
	maxPathBytes    = 1024
)

// TopN is how many paths a batch carries per interval.
const TopN = 25

// PathCount is one requested path's totals in an interval.
type PathCount struct {
	Project  string `json:"project"`
	Path     string `json:"path"`
	Requests uint64 `json:"requests"`
	Bytes    uint64 `json:"bytes"`
}

// Usage follows what is requested during an interval: the most requested
// paths, an estimate of distinct clients, and the distros' checkers.
type Usage struct {
	mu       sync.Mutex // guards everything below
	paths    map[string]*PathCount
	keyBytes int // of the keys of paths
	hll      hll
	checkers map[string]*CheckerVisit
}

// CheckerVisit is what a distro's mirror checker did during an interval.
type CheckerVisit struct {
	Checker  string            `json:"checker"`
	Requests uint64            `json:"requests"`
	Status   map[string]uint64 `json:"status"` // 2xx, 4xx...
	Last     time.Time         `json:"last"`
}

// NewUsage returns empty usage.
func NewUsage() *Usage {
	return &Usage{paths: map[string]*PathCount{}, checkers: map[string]*CheckerVisit{}, hll: newHLL()}
}

// Record notes one request. checker is the matched checker name or "".
func (u *Usage) Record(project, path string, bytes int64, client netip.Addr, checker string, status int, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if project != "" && status < 400 && len(path) <= maxPathBytes {
		key := project + "\x00" + path
		pc := u.paths[key]
		if pc == nil && len(u.paths) < maxTracked && u.keyBytes+len(key) <= maxTrackedBytes {
			pc = &PathCount{Project: project, Path: path}
			u.paths[key] = pc
			u.keyBytes += len(key)
		}
		if pc != nil {
			pc.Requests++
			if bytes > 0 {
				pc.Bytes += uint64(bytes)
			}
		}
	}
	if client.IsValid() {
		u.hll.add(client.Unmap())
	}
	if checker != "" {
		cv := u.checkers[checker]
		if cv == nil {
			cv = &CheckerVisit{Checker: checker, Status: map[string]uint64{}}
			u.checkers[checker] = cv
		}
		cv.Requests++
		cv.Status[statusClass(status)]++
		cv.Last = now
	}
}

func statusClass(s int) string {
	if s < 100 || s > 599 {
		return "other"
	}
	return string(rune('0'+s/100)) + "xx"
}

// Take returns the interval's figures and starts a new interval.
func (u *Usage) Take() (top []PathCount, clients uint64, checkers []CheckerVisit) {
	u.mu.Lock()
	paths, h, cs := u.paths, u.hll, u.checkers
	u.paths, u.hll, u.checkers, u.keyBytes = map[string]*PathCount{}, newHLL(), map[string]*CheckerVisit{}, 0
	u.mu.Unlock()
	for _, p := range paths {
		top = append(top, *p)
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].Requests != top[j].Requests {
			return top[i].Requests > top[j].Requests
		}
		return top[i].Path < top[j].Path
	})
	if len(top) > TopN {
		top = top[:TopN]
	}
	for _, c := range cs {
		checkers = append(checkers, *c)
	}
	sort.Slice(checkers, func(i, j int) bool { return checkers[i].Checker < checkers[j].Checker })
	return top, h.estimate(), checkers
}

// hll is a HyperLogLog sketch with 2^12 registers (4 KiB, about 1.6%
// standard error): distinct clients without keeping their addresses.
type hll struct {
	seed maphash.Seed
	reg  []uint8
}

const hllBits = 12

func newHLL() hll { return hll{seed: maphash.MakeSeed(), reg: make([]uint8, 1<<hllBits)} }

func (h *hll) add(a netip.Addr) {
	b := a.As16()
	x := maphash.Bytes(h.seed, b[:])
	idx := x >> (64 - hllBits)
	rho := uint8(bits.LeadingZeros64(x<<hllBits|1<<(hllBits-1)) + 1)
	if rho > h.reg[idx] {
		h.reg[idx] = rho
	}
}

func (h hll) estimate() uint64 {
	m := float64(len(h.reg))
	sum, zeros := 0.0, 0
	for _, r := range h.reg {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 { // small range: linear counting
		e = m * math.Log(m/float64(zeros))
	}
	return uint64(e + 0.5)
}
