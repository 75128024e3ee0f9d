package telemetry

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Bounds on what a batch can say. They sit far above what a node can do
// (a node has a 1 Gbit/s port; these allow 100 Gbit/s), so a value past
// them is junk: stored, it would overflow the store's 64-bit sums, break
// every query that adds it up, or pin a node's clock in the future.
const (
	// MaxClockSkew is how far in the future a batch's times may lie.
	MaxClockSkew   = 5 * time.Minute
	maxInterval    = 24 * time.Hour
	maxAge         = 2 * 366 * 24 * time.Hour // the hourly retention
	maxBytesPerSec = 12_500_000_000           // 100 Gbit/s
	maxReqPerSec   = 10_000_000
	maxCounter     = 1 << 53 // counters since boot or start; exact as floats too
	maxDiskBytes   = 1 << 60
	maxSeq         = 1 << 62
	maxMapKeys     = 8 // protocols, status classes
	maxNameLen     = 128
	// MaxTriggers bounds a project's trigger modules (the node's config
	// allows no more).
	MaxTriggers = 32
	maxTextLen  = 512
)

// ErrImplausible marks a batch whose values no node could have measured.
var ErrImplausible = errors.New("implausible batch")

// Plausible checks a decoded batch against the bounds, with now the
// receiver's clock.
func (b *Batch) Plausible(now time.Time) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrImplausible, fmt.Sprintf(format, args...))
	}
	switch {
	case b.Seq > maxSeq:
		return bad("seq %d", b.Seq)
	case len(b.Node) > 253:
		return bad("node name of %d bytes", len(b.Node))
	case b.End.After(now.Add(MaxClockSkew)):
		return bad("ends %s, in the future", b.End.UTC().Format(time.RFC3339))
	case b.End.Before(now.Add(-maxAge)):
		return bad("ends %s, older than the retention", b.End.UTC().Format(time.RFC3339))
	case b.End.Sub(b.Start) > maxInterval:
		return bad("an interval of %v", b.End.Sub(b.Start))
	}
	secs := math.Max(b.End.Sub(b.Start).Seconds(), 1)
	maxBytes, maxReqs := uint64(secs*maxBytesPerSec), uint64(secs*maxReqPerSec)
	under := func(what string, v, limit uint64) error {
		if v > limit {
			return bad("%s %d (at most %d for a %.0f s interval)", what, v, limit, secs)
		}
		return nil
	}
	counters := func(what string, m map[string]uint64, limit uint64) error {
		if len(m) > maxMapKeys {
			return bad("%s with %d keys", what, len(m))
		}
		var sum uint64
		for k, v := range m {
			if len(k) > maxNameLen {
				return bad("%s key of %d bytes", what, len(k))
			}
			if err := under(what, v, limit); err != nil {
				return err
			}
			sum += v
		}
		return under(what+" in all", sum, limit)
	}
	for _, p := range b.Projects {
		if len(p.Project) > maxNameLen {
			return bad("project name of %d bytes", len(p.Project))
		}
		for _, err := range []error{counters("requests", p.Requests, maxReqs), counters("bytes", p.Bytes, maxBytes),
			counters("statuses", p.Status, maxReqs), under("ipv4 requests", p.IPv4, maxReqs), under("ipv6 requests", p.IPv6, maxReqs)} {
			if err != nil {
				return err
			}
		}
	}
	for _, p := range b.Top {
		if len(p.Path) > maxTextLen*2 || len(p.Project) > maxNameLen {
			return bad("a top path of %d bytes", len(p.Path))
		}
		if err := errors.Join(under("path requests", p.Requests, maxReqs), under("path bytes", p.Bytes, maxBytes)); err != nil {
			return err
		}
	}
	for _, c := range b.Checkers {
		if len(c.Checker) > maxNameLen || c.Last.After(now.Add(MaxClockSkew)) {
			return bad("checker %.40q", c.Checker)
		}
		if err := errors.Join(under("checker requests", c.Requests, maxReqs), counters("checker statuses", c.Status, maxReqs)); err != nil {
			return err
		}
	}
	for _, s := range b.Syncs {
		for _, t := range s.Triggers {
			if t == "" || len(t) > maxNameLen {
				return bad("sync of %.40q: a trigger of %d bytes", s.Project, len(t))
			}
		}
		switch {
		case len(s.Project) > maxNameLen || len(s.Result) > maxTextLen || len(s.Trigger) > maxTextLen || len(s.Serial) > maxTextLen:
			return bad("sync of %.40q: a text too long", s.Project)
		case s.Started.After(now.Add(MaxClockSkew)) || s.LastSuccess.After(now.Add(MaxClockSkew)):
			return bad("sync of %.40q in the future", s.Project)
		case !finiteIn(s.Seconds, 0, 1e9) || !finiteIn(s.RateBps, 0, 1e12):
			return bad("sync of %.40q: %v s at %v B/s", s.Project, s.Seconds, s.RateBps)
		case len(s.Triggers) > MaxTriggers:
			return bad("sync of %.40q: %d triggers", s.Project, len(s.Triggers))
		case s.BytesReceived < 0 || s.BytesReceived > maxCounter || s.Files < 0 || s.Files > maxCounter ||
			s.Deleted < 0 || s.Deleted > maxCounter || s.TreeBytes < 0 || s.TreeBytes > maxDiskBytes:
			return bad("sync of %.40q: counts out of range", s.Project)
		}
	}
	sys := b.System
	switch {
	case len(sys.Version) > maxNameLen:
		return bad("version of %d bytes", len(sys.Version))
	case !finiteIn(sys.UptimeSec, 0, 1e10) || !finiteIn(sys.Load1, 0, 1e6) || !finiteIn(sys.CPUUserSec, 0, 1e12) || !finiteIn(sys.CPUSysSec, 0, 1e12):
		return bad("system figures out of range")
	case sys.MemTotal > maxDiskBytes || sys.MemAvail > maxDiskBytes || sys.DiskTotal > maxDiskBytes || sys.DiskFree > maxDiskBytes:
		return bad("sizes out of range")
	case sys.NetRxBytes > maxCounter || sys.NetTxBytes > maxCounter || sys.Goroutines < 0 || sys.SpoolQueued < 0:
		return bad("system counters out of range")
	case b.Clients > maxReqs || b.Dropped > maxCounter:
		return bad("%d clients", b.Clients)
	}
	if m := b.MQTT; m != nil && (m.Received > maxCounter || m.Triggered > maxCounter || m.Ignored > maxCounter) {
		return bad("mqtt counters out of range")
	}
	if h := b.Health; h != nil {
		if err := h.plausible(); err != "" {
			return bad("health: %s", err)
		}
	}
	return nil
}

// plausible checks the health section: entries, names and values a
// machine could report ("" when fine).
func (h *Health) plausible() string {
	if len(h.Disks) > maxDisks || len(h.Temps) > maxTemps || len(h.NICs) > maxNICs || len(h.Missing) > maxMissing {
		return "too many entries"
	}
	temp := func(v *float64) bool { return v == nil || finiteIn(*v, -100, 300) }
	for _, d := range h.Disks {
		switch {
		case len(d.Device) > maxNameLen || len(d.Model) > maxNameLen:
			return "a disk name too long"
		case !temp(d.TempC) || d.WearPercent != nil && !finiteIn(*d.WearPercent, 0, 1000) || !finiteIn(d.AgeSec, 0, 1e10):
			return "disk " + d.Device + ": values out of range"
		case d.PowerOnHours != nil && *d.PowerOnHours > maxCounter || d.MediaErrors != nil && *d.MediaErrors > maxCounter:
			return "disk " + d.Device + ": counters out of range"
		}
	}
	for _, t := range h.Temps {
		if len(t.Chip) > maxNameLen || len(t.Label) > maxNameLen || !temp(&t.C) || !temp(t.CritC) {
			return "a sensor out of range"
		}
	}
	for _, n := range h.NICs {
		if len(n.Name) > maxNameLen || n.RxErrors > maxCounter || n.TxErrors > maxCounter || n.RxDropped > maxCounter || n.TxDropped > maxCounter {
			return "a NIC's counters out of range"
		}
	}
	for _, m := range h.Missing {
		if len(m) > maxTextLen {
			return "a note too long"
		}
	}
	if c := h.Clock; c != nil && !finiteIn(c.MaxErrorMS, 0, 1e12) {
		return "clock error out of range"
	}
	return ""
}

func finiteIn(v, lo, hi float64) bool { return !math.IsNaN(v) && v >= lo && v <= hi }
