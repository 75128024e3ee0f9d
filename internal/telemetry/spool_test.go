package telemetry

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
	"time"
)

func TestSpoolBoundedAndSequenced(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b := Batch{Version: 1, Node: "n", Start: time.Now(), End: time.Now()}
		if err := s.Add(&b); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 3 || s.Dropped() != 2 {
		t.Fatalf("len %d dropped %d, want 3 and 2", s.Len(), s.Dropped())
	}
	seq, gz, ok := s.Oldest()
	if !ok || seq != 3 {
		t.Fatalf("oldest = %d", seq)
	}
	zr, _ := gzip.NewReader(bytes.NewReader(gz))
	raw, _ := io.ReadAll(zr)
	b, err := DecodeBatch(raw)
	if err != nil || b.Seq != 3 {
		t.Errorf("spooled batch = %+v %v", b, err)
	}
	s.Remove(seq)
	// A restarted node continues the sequence: no resend is mistaken for new.
	s2, _ := OpenSpool(dir, 3)
	b2 := Batch{Version: 1, Node: "n", Start: time.Now(), End: time.Now()}
	s2.Add(&b2)
	if b2.Seq != 6 || s2.Dropped() != 2 || b2.Dropped != 2 { // the next batch tells the watchtower
		t.Errorf("after reopen seq %d dropped %d", b2.Seq, s2.Dropped())
	}
}

func TestParseNetDev(t *testing.T) {
	src := `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 5000      50    0    0    0     0          0         0     7000      70    0    0    0     0       0          0
  eth1: 1         1    0    0    0     0          0         0     2         1    0    0    0     0       0          0
`
	if rx, tx := ParseNetDev(src); rx != 5001 || tx != 7002 {
		t.Errorf("rx %d tx %d", rx, tx)
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"v":1,"node":"n","seq":1,"start":"2026-11-25T00:00:00Z","end":"2026-11-25T00:01:00Z"}`))
	f.Add([]byte(`{"v":1,"node":"n","seq":1,"start":"2026-11-25T00:00:00Z","end":"2026-11-25T00:01:00Z",` +
		`"projects":[{"project":"debian","requests":{"http":18446744073709551615},"bytes":{}}]}`))
	now := time.Date(2026, 11, 25, 0, 2, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := DecodeBatch(b)
		if err != nil {
			return
		}
		if x.Node == "" || x.Seq == 0 || x.Version != 1 {
			t.Fatalf("invalid batch accepted: %+v", x)
		}
		if x.Plausible(now) != nil {
			return
		}
		// What passes fits the store: no value, nor a sum of a batch's
		// values, past 2^62.
		for _, p := range x.Projects {
			var sum uint64
			for _, v := range p.Bytes {
				sum += v
			}
			if sum > 1<<62 || x.Seq > 1<<62 || x.End.After(now.Add(MaxClockSkew)) {
				t.Fatalf("implausible batch passed: %+v", x)
			}
		}
	})
}
