package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"micromirror/internal/mqtt"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/testenv"
	"micromirror/internal/testenv/logbuf"
)

// TestAnnounceDaemonWithEmbeddedBroker: the upstream side runs `announce`
// with the embedded broker and credentials; a node subscribes with its
// password file; a change in the upstream tree, once still for the quiet
// period, makes the node sync.
func TestAnnounceDaemonWithEmbeddedBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "gimp")
	testenv.WriteFile(t, filepath.Join(src, "gimp-3.0.tar.xz"), []byte("v1"), time.Now().Add(-time.Hour))
	up := testenv.StartUpstream(t, map[string]string{"gimp": src})
	os.WriteFile(filepath.Join(dir, "node.pass"), []byte("node-secret\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "up.pass"), []byte("up-secret\n"), 0o600)
	brokerPort := testenv.FreePort(t)
	conf := fmt.Sprintf(`broker: embedded
listen: 127.0.0.1:%d
users:
  - {username: upstream, password_file: up.pass}
  - {username: node, password_file: node.pass}
upstream: up.example.net
poll: 100ms
quiet: 400ms
modules:
  - {name: gimp, path: gimp}
`, brokerPort)
	os.WriteFile(filepath.Join(dir, "announce.yaml"), []byte(conf), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr logbuf.Buffer
	hup := make(chan os.Signal, 1)
	go func() {
		done <- (&Main{Stdout: os.Stdout, Stderr: &stderr, HUP: hup}).Run(ctx, []string{"announce", "-config", filepath.Join(dir, "announce.yaml")})
	}()
	defer func() { cancel(); <-done }()
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", brokerPort)); err == nil {
			c.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Wrong password: refused.
	if _, err := mqtt.NewPublisher(mqtt.ClientConfig{Broker: fmt.Sprintf("tcp://127.0.0.1:%d", brokerPort), ClientID: "intruder",
		Username: "node", PasswordFile: filepath.Join(dir, "up.pass")}, "x"); err == nil {
		t.Errorf("broker accepted a wrong password")
	}

	cfg := testenv.NodeConfig(t)
	cfg.Projects = []nodeconfig.Project{{Name: "gimp", Source: up.URL("gimp")}}
	cfg.MQTT = nodeconfig.MQTT{Broker: fmt.Sprintf("tcp://127.0.0.1:%d", brokerPort), Topics: []string{"rsync/up.example.net/#"},
		ClientID: "node-1", Username: "node", PasswordFile: filepath.Join(dir, "node.pass")}
	n := testenv.StartNode(t, cfg)
	waitRuns := func(want uint64) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if st := n.Engine().Status()[0]; st.Runs >= want && st.State == "idle" {
				return
			}
		}
		t.Fatalf("no run %d: %+v\n%s", want, n.Engine().Status()[0].Project, stderr.String())
	}
	// Start-up: the catch-up run, and possibly one more from the retained
	// message if it arrived before that run finished. Let it settle.
	waitRuns(1)
	var settled uint64
	for prev := uint64(0); ; prev = settled {
		time.Sleep(700 * time.Millisecond)
		st := n.Engine().Status()[0]
		if settled = st.Runs; settled == prev && st.State == "idle" {
			break
		}
	}
	testenv.WriteFile(t, filepath.Join(src, "gimp-3.1.tar.xz"), []byte("new release"), time.Time{})
	waitRuns(settled + 1)
	st := n.Engine().Status()[0]
	if st.Trigger != "mqtt" {
		t.Errorf("second run trigger = %q", st.Trigger)
	}
	if b, err := os.ReadFile(filepath.Join(cfg.DataDir, "gimp/gimp-3.1.tar.xz")); err != nil || string(b) != "new release" {
		t.Errorf("announced change not synced: %v", err)
	}
	if strings.Contains(stderr.String(), "secret") {
		t.Errorf("a password reached the log")
	}

	// SIGHUP: a broken config keeps the running modules; a module added
	// (as fleet render's modules_file brings them) is announced.
	os.WriteFile(filepath.Join(dir, "announce.yaml"), []byte(conf+"  - {name: tdf}\n"), 0o644)
	hup <- syscall.SIGHUP
	waitLog := func(what string) {
		t.Helper()
		for i := 0; i < 100 && !strings.Contains(stderr.String(), what); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.Contains(stderr.String(), what) {
			t.Fatalf("no %q in the log:\n%s", what, stderr.String())
		}
	}
	waitLog("keeping the running modules")
	os.MkdirAll(filepath.Join(dir, "tdf"), 0o755)
	os.WriteFile(filepath.Join(dir, "announce.yaml"), []byte(conf+"  - {name: tdf, path: tdf}\n"), 0o644)
	hup <- syscall.SIGHUP
	waitLog("module=tdf topic=rsync/up.example.net/tdf")
}

func TestAnnounceOneShot(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	code, out, stderr := runCLI(t, "announce", "-broker", broker.URL(), "-upstream", "up.example.net", "debian", "archlinux")
	if code != 0 || !strings.Contains(out, "announced rsync/up.example.net/debian") || !strings.Contains(out, "rsync/up.example.net/archlinux") {
		t.Errorf("announce: %d %q %q", code, out, stderr)
	}
	code, _, stderr = runCLI(t, "announce", "-broker", fmt.Sprintf("tcp://127.0.0.1:%d", testenv.FreePort(t)), "debian")
	if code != 1 || !strings.Contains(stderr, "connect") {
		t.Errorf("announce to no broker: %d %q", code, stderr)
	}
	if code, _, _ := runCLI(t, "announce", "-broker", broker.URL(), "bad/module"); code != 2 {
		t.Errorf("bad module name accepted: %d", code)
	}
}
