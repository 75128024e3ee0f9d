package telemetry

// Health is the node's hardware as its sensors tell it, sent with every
// batch. What could not be read is named in Missing, never sent as zero.
type Health struct {
	Disks []DiskHealth `json:"disks,omitempty"`
	// Temps are the hwmon sensors (CPU, board, NVMe and SATA drives).
	Temps []Temp      `json:"temps,omitempty"`
	Clock *ClockState `json:"clock,omitempty"`
	// NICs are the error and drop counters since boot, per interface.
	NICs []NICCounters `json:"nics,omitempty"`
	// Missing says what was not read and why ("smart: no report in
	// /run/micromirror/smart (micromirror-smart.timer)").
	Missing []string `json:"missing,omitempty"`
}

// DiskHealth is one drive's SMART report (smartctl --json).
type DiskHealth struct {
	Device string `json:"device"` // /dev/nvme0
	Model  string `json:"model,omitempty"`
	// Passed is SMART's overall assessment; nil when not reported.
	Passed *bool `json:"passed,omitempty"`
	// WearPercent is the share of rated endurance used (NVMe
	// percentage_used; ATA 100 minus the wear indicator's normalised
	// value); nil when the drive does not say.
	WearPercent  *float64 `json:"wear_percent,omitempty"`
	TempC        *float64 `json:"temp_c,omitempty"`
	PowerOnHours *uint64  `json:"power_on_hours,omitempty"`
	MediaErrors  *uint64  `json:"media_errors,omitempty"`
	// Age is how old the report is, in seconds (the timer writes it).
	AgeSec float64 `json:"age_sec"`
}

// Temp is one hwmon sensor.
type Temp struct {
	Chip  string  `json:"chip"`  // coretemp, k10temp, nvme, drivetemp, acpitz
	Label string  `json:"label"` // "Package id 0", "Composite", "temp1"
	C     float64 `json:"c"`
	// CritC is the chip's critical threshold, when it has one.
	CritC *float64 `json:"crit_c,omitempty"`
}

// ClockState is the kernel's view of time synchronisation (adjtimex).
type ClockState struct {
	Synced bool `json:"synced"`
	// MaxErrorMS is the kernel's bound on the clock's error.
	MaxErrorMS float64 `json:"max_error_ms"`
}

// NICCounters are one interface's error counters since boot.
type NICCounters struct {
	Name      string `json:"name"`
	RxErrors  uint64 `json:"rx_errors"`
	TxErrors  uint64 `json:"tx_errors"`
	RxDropped uint64 `json:"rx_dropped"`
	TxDropped uint64 `json:"tx_dropped"`
}

// Bounds of a batch's health section (checked by Plausible).
const (
	maxDisks   = 64
	maxTemps   = 256
	maxNICs    = 64
	maxMissing = 32
)
