package hostile_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"micromirror/internal/nodeconfig"
	"micromirror/internal/testenv"
)

// TestMQTTJunkIgnored: a broken or hostile announcer (bad topics, huge,
// binary or malformed payloads, floods of repeats) triggers nothing, is
// counted, and a genuine announcement among it still syncs the node at
// once, which serves throughout.
func TestMQTTJunkIgnored(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	broker := testenv.StartMosquitto(t)
	src := t.TempDir()
	up := testenv.StartUpstream(t, map[string]string{"gimp": src})
	testenv.WriteFile(t, filepath.Join(src, "gimp-3.0.tar.xz"), []byte("v1"), syncedAt)
	const host = "up.example.net"
	tg := startTarget(t, func(c *nodeconfig.Config) {
		c.Projects = append(c.Projects, nodeconfig.Project{Name: "gimp", Source: up.URL("gimp")})
		c.MQTT = nodeconfig.MQTT{Broker: broker.URL(), Topics: []string{"rsync/" + host + "/#"}, ClientID: "hostile-node"}
	})
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	runs := func() uint64 {
		for _, s := range tg.n.Engine().Status() {
			if s.Name == "gimp" && s.State == "idle" {
				return s.Runs
			}
		}
		return 0
	}
	waitFor("the first sync", func() bool { return runs() == 1 })
	waitFor("the subscription", func() bool { s, _ := tg.n.MQTTStats(); return s.Connected })

	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL()).SetClientID("hostile-announcer"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	junk := []struct {
		topic   string
		payload []byte
	}{
		{"rsync/" + host + "/gimp", make([]byte, 64<<10)},                  // oversized
		{"rsync/" + host + "/gimp", []byte("\xff\xfe\x00")},                // not UTF-8
		{"rsync/" + host + "/gimp", []byte(`{"v":7,"module":"gimp"}`)},     // an unknown version
		{"rsync/" + host + "/gimp", []byte(`{"v":1,"module":`)},            // broken JSON
		{"rsync/" + host + "/debian", nil},                                 // not hosted here
		{"rsync/" + host + "/" + strings.Repeat("m", 1000), nil},           // no such module
		{"rsync/" + host, nil},                                             // no module at all
		{"rsync/" + host + "/gimp/" + strings.Repeat("x/", 100), []byte{}}, // a deep sub-path: still gimp
	}
	var last paho.Token
	for i := range 200 {
		j := junk[i%len(junk)]
		last = c.Publish(j.topic, 1, false, j.payload)
	}
	last.WaitTimeout(20 * time.Second)
	time.Sleep(3 * time.Second)
	ms, _ := tg.n.MQTTStats()
	if ms.Received != 200 || ms.Oversized != 25 || ms.Malformed != 75 || ms.NotHosted != 50 || ms.UnknownTopic != 25 || ms.Triggered != 25 {
		t.Errorf("mqtt after the junk: %+v", ms)
	}
	// The genuine announcement syncs, junk or not.
	testenv.WriteFile(t, filepath.Join(src, "gimp-3.0.tar.xz"), []byte("v2"), syncedAt.Add(time.Hour))
	time.Sleep(1500 * time.Millisecond) // past the burst window of the deep sub-paths
	before := runs()
	payload := fmt.Sprintf(`{"v":1,"module":"gimp","serial":"%d"}`, time.Now().UnixNano())
	c.Publish("rsync/"+host+"/gimp", 1, false, payload).WaitTimeout(10 * time.Second)
	waitFor("the genuine sync", func() bool { return runs() > before })
	if got := body(t, get(t, tg.http, "GET", "/gimp/gimp-3.0.tar.xz")); got != "v2" {
		t.Errorf("served %q after the announcement", got)
	}
}
