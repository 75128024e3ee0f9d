package rsync

// Result classifies how an rsync run ended.
type Result string

// Results, from rsync's exit codes.
const (
	Success  Result = "success"
	Vanished Result = "success-vanished" // 24: files vanished upstream mid-run
	Partial  Result = "partial"          // 23: some files not transferred
	// Transient failures are retried with backoff: connection refused or
	// lost, timeouts, the daemon's connection cap, a stall we killed.
	Transient Result = "transient"
	Fatal     Result = "fatal" // bad options, protocol mismatch, disk errors
)

// MaxDeleteExit is rsync's exit when --max-delete stopped deletions: the
// run is refused, not retried.
const MaxDeleteExit = 25

// Classify maps an rsync exit code to a Result.
func Classify(code int) Result {
	switch code {
	case 0:
		return Success
	case 24:
		return Vanished
	case 23:
		return Partial
	case 5, 10, 12, 20, 30, 35:
		// 5 start of protocol (e.g. "max connections reached"),
		// 10 socket I/O, 12 data stream, 20 signal (stall kill),
		// 30 I/O timeout, 35 daemon connection timeout.
		return Transient
	default:
		return Fatal
	}
}

// OK reports whether the tree is complete after the run.
func (r Result) OK() bool { return r == Success || r == Vanished }
