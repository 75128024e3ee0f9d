package hosthealth

import (
	"syscall"

	"micromirror/internal/telemetry"
)

// staUnsync is adjtimex's "clock not synchronised" status bit, which the
// kernel keeps set until an NTP daemon (chrony, systemd-timesyncd,
// ntpd) disciplines the clock: what timedatectl shows as "System clock
// synchronized".
const staUnsync = 0x0040

// kernelClock asks the kernel (adjtimex with no change requested).
func kernelClock() (telemetry.ClockState, error) {
	var tx syscall.Timex
	if _, err := syscall.Adjtimex(&tx); err != nil {
		return telemetry.ClockState{}, err
	}
	return clockState(tx.Status, tx.Maxerror), nil
}

// clockState reads adjtimex's status and maximum error (microseconds).
func clockState(status int32, maxErrorUS int64) telemetry.ClockState {
	return telemetry.ClockState{Synced: status&staUnsync == 0, MaxErrorMS: float64(maxErrorUS) / 1000}
}
