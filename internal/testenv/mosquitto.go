package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Mosquitto is a real Mosquitto broker on a loopback port, with
// persistence on so a restart keeps sessions and queued messages.
type Mosquitto struct {
	tb   testing.TB
	Port int
	conf string
	cmd  *exec.Cmd
}

// StartMosquitto starts the broker and stops it when the test ends.
func StartMosquitto(tb testing.TB) *Mosquitto {
	tb.Helper()
	RequireBinary(tb, "mosquitto")
	dir := tb.TempDir()
	os.Chmod(dir, 0o777) // mosquitto drops to its own user when started as root
	m := &Mosquitto{tb: tb, conf: filepath.Join(dir, "mosquitto.conf")}
	for attempt := 0; attempt < 5; attempt++ {
		m.Port = FreePort(tb)
		conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nautosave_interval 1\nuser root\nlog_dest stderr\nlog_type error\n", m.Port, dir)
		os.WriteFile(m.conf, []byte(conf), 0o644)
		if m.start() == nil {
			tb.Cleanup(m.Kill)
			return m
		}
	}
	tb.Fatal("mosquitto did not start")
	return nil
}

func (m *Mosquitto) start() error {
	m.cmd = exec.Command("mosquitto", "-c", m.conf)
	m.cmd.Stderr = os.Stderr
	if err := m.cmd.Start(); err != nil {
		return err
	}
	if err := waitListening(m.Addr()); err != nil {
		m.Kill()
		return fmt.Errorf("mosquitto: %w", err)
	}
	return nil
}

// Addr is host:port; URL the tcp:// broker URL.
func (m *Mosquitto) Addr() string { return fmt.Sprintf("127.0.0.1:%d", m.Port) }

// URL is the broker URL for clients.
func (m *Mosquitto) URL() string { return "tcp://" + m.Addr() }

// Stop shuts the broker down cleanly (it saves its persistence file).
func (m *Mosquitto) Stop() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	m.cmd.Wait()
	m.cmd = nil
}

// Kill ends the broker at once.
func (m *Mosquitto) Kill() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Kill()
	m.cmd.Wait()
	m.cmd = nil
}

// Restart starts the stopped broker again on the same port.
func (m *Mosquitto) Restart() {
	m.tb.Helper()
	var err error
	for i := 0; i < 50; i++ {
		if err = m.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.tb.Fatalf("restart mosquitto: %v", err)
}
