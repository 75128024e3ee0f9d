package watchtower

import (
	"fmt"
	"strings"
	"time"

	"micromirror/internal/telemetry"
)

// HealthSample is what a batch's health section comes to on the node
// page's charts; nil where the node could not read it.
type HealthSample struct {
	T time.Time `json:"t"`
	// MaxTempC is the hottest sensor (CPU, board or drive).
	MaxTempC *float64 `json:"max_temp_c,omitempty"`
	// DiskTempC is the hottest drive (SMART, or its hwmon sensor).
	DiskTempC *float64 `json:"disk_temp_c,omitempty"`
	// WearPercent is the most worn drive's endurance used.
	WearPercent *float64 `json:"wear_percent,omitempty"`
	ClockSynced *bool    `json:"clock_synced,omitempty"`
	// NICErrors are all interfaces' errors and drops since boot.
	NICErrors *uint64 `json:"nic_errors,omitempty"`
}

// driveChips are the hwmon chips of drives.
var driveChips = map[string]bool{"nvme": true, "drivetemp": true}

// HealthFigures sums a health report up into a sample at t.
func HealthFigures(h telemetry.Health, t time.Time) HealthSample {
	s := HealthSample{T: t}
	hotter := func(p **float64, v float64) {
		if *p == nil || v > **p {
			*p = &v
		}
	}
	for _, x := range h.Temps {
		hotter(&s.MaxTempC, x.C)
		if driveChips[x.Chip] {
			hotter(&s.DiskTempC, x.C)
		}
	}
	for _, d := range h.Disks {
		if d.TempC != nil {
			hotter(&s.DiskTempC, *d.TempC)
			hotter(&s.MaxTempC, *d.TempC)
		}
		if d.WearPercent != nil {
			hotter(&s.WearPercent, *d.WearPercent)
		}
	}
	if h.Clock != nil {
		s.ClockSynced = &h.Clock.Synced
	}
	if h.NICs != nil {
		var n uint64
		for _, c := range h.NICs {
			n += c.RxErrors + c.TxErrors + c.RxDropped + c.TxDropped
		}
		s.NICErrors = &n
	}
	return s
}

// healthAlerts adds the alerts of a node's last health report: a drive
// past its wear threshold or failing SMART's own assessment, a sensor at
// its critical temperature (or past the configured one where the chip
// gives none), a clock the kernel says is not synchronised.
func healthAlerts(n NodeSummary, cfg AlertConfig, add func(kind, node, project, format string, args ...any)) {
	h := n.Health
	if h == nil {
		return
	}
	for _, d := range h.Disks {
		dev := strings.TrimPrefix(d.Device, "/dev/") // the alert's key: kind/node/dev
		if d.WearPercent != nil && *d.WearPercent >= cfg.SSDWearPercent {
			add("ssd-wear", n.Node, dev, "%s (%s) has used %.0f%% of its rated endurance", d.Device, d.Model, *d.WearPercent)
		}
		if d.Passed != nil && !*d.Passed {
			add("disk-failing", n.Node, dev, "%s (%s) fails SMART's overall health check", d.Device, d.Model)
		}
	}
	for _, t := range h.Temps {
		limit, why := cfg.TemperatureC, fmt.Sprintf("alerts.temperature_c %.0f °C", cfg.TemperatureC)
		if t.CritC != nil {
			limit, why = *t.CritC-5, fmt.Sprintf("5 °C below its critical %.0f °C", *t.CritC)
		}
		if t.C >= limit {
			add("too-hot", n.Node, t.Chip+"/"+t.Label, "%s %s at %.0f °C (%s)", t.Chip, t.Label, t.C, why)
		}
	}
	if h.Clock != nil && !h.Clock.Synced {
		add("clock-unsynced", n.Node, "", "the kernel says the clock is not synchronised (max error %.0f ms): is chrony or timesyncd running?", h.Clock.MaxErrorMS)
	}
}
