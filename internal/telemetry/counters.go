// Package telemetry keeps the node's traffic counters in memory, per
// project, for the admin API, Prometheus and the pusher to come.
package telemetry

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Protocol of a served request.
type Protocol int

// Protocols counted.
const (
	HTTP Protocol = iota
	HTTPS
	Rsync
)

// Counters are one project's totals since start. All fields are atomics:
// the serving path adds without locks.
type Counters struct {
	Requests [3]atomic.Uint64 // by Protocol
	Bytes    [3]atomic.Uint64 // by Protocol
	Status   [6]atomic.Uint64 // by status class 1xx..5xx (index 1-5), 0 other
	IPv4     atomic.Uint64
	IPv6     atomic.Uint64
}

// Snapshot is a plain copy of Counters for JSON and metrics.
type Snapshot struct {
	Project       string            `json:"project"`
	Requests      map[string]uint64 `json:"requests"`
	Bytes         map[string]uint64 `json:"bytes"`
	StatusClasses map[string]uint64 `json:"status_classes"`
	IPv4          uint64            `json:"ipv4_requests"`
	IPv6          uint64            `json:"ipv6_requests"`
}

// Traffic holds Counters by project. Projects are added on first use, so a
// config reload that adds one needs no coordination.
type Traffic struct {
	mu sync.RWMutex // guards byName (not the counters inside)
	by map[string]*Counters
}

// Other is the bucket for requests outside any project (root page, 404s).
const Other = "_other"

// NewTraffic returns empty counters.
func NewTraffic() *Traffic { return &Traffic{by: map[string]*Counters{}} }

// Project returns the counters of a project, creating them.
func (t *Traffic) Project(name string) *Counters {
	if name == "" {
		name = Other
	}
	t.mu.RLock()
	c := t.by[name]
	t.mu.RUnlock()
	if c != nil {
		return c
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c = t.by[name]; c == nil {
		c = &Counters{}
		t.by[name] = c
	}
	return c
}

// Record counts one HTTP(S) request.
func (t *Traffic) Record(project string, proto Protocol, status int, bytes int64, ipv6 bool) {
	c := t.Project(project)
	c.Requests[proto].Add(1)
	if bytes > 0 {
		c.Bytes[proto].Add(uint64(bytes))
	}
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	c.Status[class].Add(1)
	if ipv6 {
		c.IPv6.Add(1)
	} else {
		c.IPv4.Add(1)
	}
}

var protoNames = [3]string{"http", "https", "rsync"}

// Snapshot copies every project's counters, sorted by project.
func (t *Traffic) Snapshot() []Snapshot {
	t.mu.RLock()
	names := make([]string, 0, len(t.by))
	for n := range t.by {
		names = append(names, n)
	}
	t.mu.RUnlock()
	sort.Strings(names)
	out := make([]Snapshot, 0, len(names))
	for _, n := range names {
		c := t.Project(n)
		s := Snapshot{Project: n, Requests: map[string]uint64{}, Bytes: map[string]uint64{}, StatusClasses: map[string]uint64{},
			IPv4: c.IPv4.Load(), IPv6: c.IPv6.Load()}
		for i, p := range protoNames {
			s.Requests[p] = c.Requests[i].Load()
			s.Bytes[p] = c.Bytes[i].Load()
		}
		for i, name := range []string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"} {
			s.StatusClasses[name] = c.Status[i].Load()
		}
		out = append(out, s)
	}
	return out
}
