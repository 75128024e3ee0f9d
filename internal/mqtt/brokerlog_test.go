package mqtt

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"micromirror/internal/testenv/logbuf"
)

// TestBrokerLogsOnlyWhatMatters: clients that hang up, and the broker's
// own shutdown, leave nothing in an info-level log; a malformed packet
// is a warning that says what ended.
func TestBrokerLogsOnlyWhatMatters(t *testing.T) {
	var out logbuf.Buffer
	b, err := StartBroker("127.0.0.1:0", nil, slog.New(slog.NewTextHandler(&out, nil)))
	if err != nil {
		t.Fatal(err)
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	hangUp := dial()
	hangUp.Close()
	junk := dial()
	junk.Write([]byte("\x10\xff\xff\xff\xff\xff")) // a CONNECT with a remaining length past 4 bytes
	idle := dial()                                 // still connected when the broker closes
	defer idle.Close()
	for i := 0; i < 100 && !strings.Contains(out.String(), "mqtt client connection ended"); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	junk.Close()
	time.Sleep(100 * time.Millisecond) // let the hang-up be logged, if it were
	b.Close()
	time.Sleep(100 * time.Millisecond)

	log := out.String()
	if n := strings.Count(log, "level=WARN"); n != 1 || !strings.Contains(log, `level=WARN msg="mqtt client connection ended"`) {
		t.Errorf("want one warning, for the malformed packet; got %d:\n%s", n, log)
	}
	if strings.Contains(log, `msg=""`) {
		t.Errorf("a record without a message:\n%s", log)
	}
}

// TestBrokerDropsSilentSockets: a socket that never sends CONNECT is
// closed after connectTimeout; a client that connected keeps its
// connection past it (its keepalive rules from then on).
func TestBrokerDropsSilentSockets(t *testing.T) {
	defer func(d time.Duration) { connectTimeout = d }(connectTimeout)
	connectTimeout = 300 * time.Millisecond
	b, err := StartBroker("127.0.0.1:0", nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	silent, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	client, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	// MQTT 3.1.1 CONNECT, clean session, keepalive 60 s, client id "x".
	client.Write([]byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 1, 'x'})
	client.SetDeadline(time.Now().Add(5 * time.Second))
	ack := make([]byte, 4)
	if _, err := io.ReadFull(client, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("CONNACK: % x, %v", ack, err)
	}

	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if n, err := silent.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("silent socket: read %d, %v; want EOF (closed by the broker)", n, err)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("silent socket closed after %v", waited)
	}

	time.Sleep(connectTimeout)    // well past the CONNECT deadline
	client.Write([]byte{0xc0, 0}) // PINGREQ
	pong := make([]byte, 2)
	if _, err := io.ReadFull(client, pong); err != nil || pong[0] != 0xd0 {
		t.Fatalf("PINGRESP after the CONNECT deadline: % x, %v", pong, err)
	}
}
