package testenv

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Capture is a running tcpdump on the loopback interface.
type Capture struct {
	cmd   *exec.Cmd
	mu    sync.Mutex // guards lines
	lines []string
	done  chan struct{}
}

// StartCapture runs `tcpdump -i lo -n -v` with a filter and returns once
// tcpdump is listening. It needs root.
func StartCapture(tb testing.TB, filter string) *Capture {
	tb.Helper()
	RequireRoot(tb)
	RequireBinary(tb, "tcpdump")
	c := &Capture{done: make(chan struct{})}
	c.cmd = exec.Command("tcpdump", "-i", "lo", "-n", "-v", "-l", "-U", filter)
	stdout, _ := c.cmd.StdoutPipe()
	var stderr bytes.Buffer
	ready := make(chan struct{})
	c.cmd.Stderr = &signalWriter{buf: &stderr, want: "listening on", ready: ready}
	if err := c.cmd.Start(); err != nil {
		tb.Fatalf("tcpdump: %v", err)
	}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.mu.Unlock()
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		tb.Fatalf("tcpdump did not start: %s", stderr.String())
	}
	tb.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	return c
}

// Stop ends the capture and returns the header lines of every packet
// (tcpdump -v prints the IP header on the packet's first line).
func (c *Capture) Stop() []string {
	time.Sleep(200 * time.Millisecond) // let the last packets through -U
	c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
	}
	c.cmd.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, l := range c.lines {
		if strings.Contains(l, " IP (") || strings.Contains(l, " IP6 (") {
			out = append(out, l)
		}
	}
	return out
}

type signalWriter struct {
	mu    sync.Mutex
	buf   *bytes.Buffer
	want  string
	ready chan struct{}
	once  sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}
