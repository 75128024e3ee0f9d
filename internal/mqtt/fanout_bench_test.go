package mqtt_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"micromirror/internal/announcement"
	"micromirror/internal/mqtt"
	"micromirror/internal/testenv"
)

// BenchmarkFanout: one announcement to 200 subscribed nodes. Reports the
// publish -> receive latency (median, p99) and the spread between the
// first and the last node, for Mosquitto and for the embedded broker in
// the same run, each in a process of its own as deployed (the embedded
// one inside `micromirror announce`), so neither shares a runtime with
// the 200 clients. `make bench` prints it.
func BenchmarkFanout(b *testing.B) {
	const subscribers = 200
	mosq := testenv.StartMosquitto(b)
	emb := startAnnouncerBroker(b)
	for _, br := range []struct{ name, url string }{{"mosquitto", mosq.URL()}, {"embedded", emb}} {
		b.Run(br.name, func(b *testing.B) {
			var mu sync.Mutex
			var got []time.Time
			var wg sync.WaitGroup
			var clients []paho.Client
			for i := range subscribers {
				c := paho.NewClient(paho.NewClientOptions().AddBroker(br.url).SetClientID(fmt.Sprintf("%s-sub-%d", br.name, i)))
				if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
					b.Fatalf("connect: %v", tok.Error())
				}
				tok := c.Subscribe("rsync/up.example.net/#", 1, func(_ paho.Client, m paho.Message) {
					if m.Retained() {
						return
					}
					mu.Lock()
					got = append(got, time.Now())
					mu.Unlock()
					wg.Done()
				})
				tok.Wait()
				clients = append(clients, c)
			}
			defer func() {
				for _, c := range clients {
					c.Disconnect(50)
				}
			}()
			pub, err := mqtt.NewPublisher(mqtt.ClientConfig{Broker: br.url, ClientID: br.name + "-pub"}, "up.example.net")
			if err != nil {
				b.Fatal(err)
			}
			defer pub.Close()
			var lat, spread []time.Duration
			b.ResetTimer()
			for range b.N {
				got = got[:0]
				wg.Add(subscribers)
				sent := time.Now()
				if err := pub.Announce(announcement.Announcement{Module: "debian"}); err != nil {
					b.Fatal(err)
				}
				wg.Wait()
				mu.Lock()
				sort.Slice(got, func(i, j int) bool { return got[i].Before(got[j]) })
				for _, g := range got {
					lat = append(lat, g.Sub(sent))
				}
				spread = append(spread, got[len(got)-1].Sub(got[0]))
				mu.Unlock()
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			sort.Slice(spread, func(i, j int) bool { return spread[i] < spread[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "µs-median-latency")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "µs-p99-latency")
			b.ReportMetric(float64(spread[len(spread)/2].Microseconds()), "µs-median-spread")
		})
	}
}

// startAnnouncerBroker builds micromirror and runs `announce` with the
// embedded broker on a free loopback port; it returns the broker's URL.
func startAnnouncerBroker(b *testing.B) string {
	b.Helper()
	dir, bin := b.TempDir(), testenv.Binary(b)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
	os.Mkdir(filepath.Join(dir, "tree"), 0o755)
	// The announcer's own module is on another upstream's topic, which the
	// subscribers do not follow.
	conf := fmt.Sprintf("broker: embedded\nlisten: %s\nupstream: bench.invalid\nmodules:\n  - {name: tree, path: %s}\n",
		addr, filepath.Join(dir, "tree"))
	if err := os.WriteFile(filepath.Join(dir, "announce.yaml"), []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "announce", "-config", filepath.Join(dir, "announce.yaml"), "-log-level", "error")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "tcp://" + addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("the announcer's broker did not listen on %s", addr)
	return ""
}
