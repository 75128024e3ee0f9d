// Package hosthealth reads a node's hardware health for its telemetry:
// SMART reports of its drives (written by a root timer running smartctl,
// since the node itself is not root), hwmon temperatures, the kernel's
// clock synchronisation and the NICs' error counters. What it cannot read
// it names, so the watchtower shows "missing", never a zero.
package hosthealth

import (
	"os"
	"path/filepath"
	"time"

	"micromirror/internal/telemetry"
)

// Sources says where to read; the zero value reads the real machine.
type Sources struct {
	// Sys is the sysfs root (default /sys).
	Sys string
	// NetDev is /proc/net/dev's path.
	NetDev string
	// SmartDir holds smartctl's JSON reports, one per drive
	// (default /run/micromirror/smart, written by micromirror-smart.timer).
	SmartDir string
	// Clock reads the kernel's synchronisation state (default adjtimex).
	Clock func() (telemetry.ClockState, error)
}

// DefaultSmartDir is where the packaged timer writes the SMART reports.
const DefaultSmartDir = "/run/micromirror/smart"

func (s Sources) withDefaults() Sources {
	if s.Sys == "" {
		s.Sys = "/sys"
	}
	if s.NetDev == "" {
		s.NetDev = "/proc/net/dev"
	}
	if s.SmartDir == "" {
		s.SmartDir = DefaultSmartDir
	}
	if s.Clock == nil {
		s.Clock = kernelClock
	}
	return s
}

// Read returns the health at now.
func Read(src Sources, now time.Time) telemetry.Health {
	src = src.withDefaults()
	var h telemetry.Health
	missing := func(what string) {
		if len(h.Missing) < 32 {
			h.Missing = append(h.Missing, what)
		}
	}
	disks, err := readSmartDir(src.SmartDir, now)
	switch {
	case err != nil:
		missing("smart: " + err.Error())
	case len(disks) == 0:
		missing("smart: no report in " + src.SmartDir + " (micromirror-smart.timer runs smartctl as root)")
	}
	h.Disks = disks
	h.Temps = readHwmon(filepath.Join(src.Sys, "class", "hwmon"))
	if len(h.Temps) == 0 {
		missing("temperatures: no hwmon sensor in " + filepath.Join(src.Sys, "class", "hwmon"))
	}
	if c, err := src.Clock(); err != nil {
		missing("clock: " + err.Error())
	} else {
		h.Clock = &c
	}
	if b, err := os.ReadFile(src.NetDev); err != nil {
		missing("nics: " + err.Error())
	} else {
		h.NICs = ParseNetDevErrors(string(b))
	}
	return h
}
