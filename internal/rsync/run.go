package rsync

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Run is the outcome of one rsync invocation.
type Run struct {
	Args     []string
	Code     int
	Result   Result
	Stats    Stats
	Output   string // stdout and stderr without progress lines
	Duration time.Duration
	Stalled  bool // killed by us for making no progress
}

// Runner starts rsync processes.
type Runner struct {
	// Binary is the rsync program ("rsync" from PATH by default).
	Binary string
	// StallTimeout kills a transfer whose progress has not moved for this
	// long; 0 disables the watch (rsync's own --timeout still applies).
	StallTimeout time.Duration
}

// bin is the rsync program to run.
func (r *Runner) bin() string {
	if r.Binary == "" {
		return "rsync"
	}
	return r.Binary
}

// Fetch copies one file (a marker) from src to dest, keeping its mtime;
// rsync writes a temp file and renames it, so dest is never half-written.
// extra are more rsync options (--max-size).
func (r *Runner) Fetch(ctx context.Context, src, dest string, timeoutSec, connTimeout int, extra ...string) error {
	// -I: always copy. A marker rewritten within the same second with the
	// same length would pass rsync's size+mtime quick check unseen.
	return r.fetch(ctx, src, dest, timeoutSec, connTimeout, append([]string{"-I"}, extra...))
}

// FetchDelta updates dest, an earlier copy of a large file (a file
// list), from src: nothing moves when size and mtime match, and only the
// changed blocks otherwise (rsync's delta transfer).
func (r *Runner) FetchDelta(ctx context.Context, src, dest string, timeoutSec, connTimeout int, extra ...string) error {
	return r.fetch(ctx, src, dest, timeoutSec, connTimeout, extra)
}

func (r *Runner) fetch(ctx context.Context, src, dest string, timeoutSec, connTimeout int, extra []string) error {
	bin := r.bin()
	args := append([]string{"-t", "--no-motd", "--timeout=" + strconv.Itoa(timeoutSec), "--contimeout=" + strconv.Itoa(connTimeout)}, extra...)
	args = append(args, src, dest)
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("fetch %s: %v: %s", src, err, LastLines(string(out), 2))
	}
	return nil
}

// ListTop counts the entries at the top of src (a directory URL ending
// in '/'), one directory listed without recursion: the cheap look at an
// upstream before a run. "." itself is not counted.
func (r *Runner) ListTop(ctx context.Context, src string, timeoutSec, connTimeout int) (int, error) {
	bin := r.bin()
	args := []string{"--no-motd", "--timeout=" + strconv.Itoa(timeoutSec), "--contimeout=" + strconv.Itoa(connTimeout), src}
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		return 0, fmt.Errorf("list %s: %v", src, err)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 5 && f[len(f)-1] != "." {
			n++
		}
	}
	return n, nil
}

// Pull runs one transfer. onProgress, if set, gets every progress2 update.
// Cancelling ctx kills rsync; the result is then Transient.
func (r *Runner) Pull(ctx context.Context, o Options, onProgress func(Progress)) (*Run, error) {
	bin := r.bin()
	args := Args(o)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start rsync: %w", err)
	}

	var (
		mu       sync.Mutex // guards lastMove
		lastMove = time.Now()
		out      bytes.Buffer
		stalled  bool
		done     = make(chan struct{})
	)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sc.Split(scanCRLF)
		var last int64 = -1
		for sc.Scan() {
			line := sc.Text()
			if p, ok := ParseProgress(line); ok {
				if p.Bytes != last {
					last = p.Bytes
					mu.Lock()
					lastMove = time.Now()
					mu.Unlock()
				}
				if onProgress != nil {
					onProgress(p)
				}
				continue
			}
			if strings.TrimSpace(line) != "" && out.Len() < 1<<20 {
				out.WriteString(line)
				out.WriteByte('\n')
				// Any output (file list building, names) is a sign of life.
				mu.Lock()
				lastMove = time.Now()
				mu.Unlock()
			}
		}
	}()
	if r.StallTimeout > 0 {
		go func() {
			t := time.NewTicker(min(r.StallTimeout/4, time.Second))
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-ctx.Done():
					return
				case <-t.C:
					mu.Lock()
					idle := time.Since(lastMove)
					mu.Unlock()
					if idle > r.StallTimeout {
						mu.Lock()
						stalled = true
						mu.Unlock()
						cancel()
						return
					}
				}
			}
		}()
	}
	werr := cmd.Wait()
	pw.Close()
	<-done
	run := &Run{Args: args, Duration: time.Since(start), Output: out.String()}
	run.Stats = ParseStats(run.Output)
	mu.Lock()
	run.Stalled = stalled
	mu.Unlock()
	var ee *exec.ExitError
	switch {
	case werr == nil:
		run.Code = 0
	case errors.As(werr, &ee):
		run.Code = ee.ExitCode()
		if run.Code < 0 { // killed by a signal
			run.Code = 20
		}
	default:
		return run, fmt.Errorf("rsync: %w", werr)
	}
	run.Result = Classify(run.Code)
	if run.Stalled || ctx.Err() != nil {
		run.Result = Transient
	}
	return run, nil
}

// scanCRLF splits on \r or \n: progress2 rewrites its line with \r.
func scanCRLF(data []byte, atEOF bool) (int, []byte, error) {
	for i, b := range data {
		if b == '\n' || b == '\r' {
			return i + 1, data[:i], nil
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// LastLines returns the last n non-empty lines of rsync output, for a
// status message.
func LastLines(out string, n int) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
