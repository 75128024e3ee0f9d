package announcement

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseTopic(t *testing.T) {
	for topic, want := range map[string][2]string{
		"rsync/mirror.example.net/debian":          {"mirror.example.net", "debian"},
		"rsync/rsync.alpinelinux.org/alpine/v3.20": {"rsync.alpinelinux.org", "alpine"},
	} {
		h, m, ok := ParseTopic(topic)
		if !ok || h != want[0] || m != want[1] {
			t.Errorf("ParseTopic(%q) = %q %q %v", topic, h, m, ok)
		}
	}
	for _, bad := range []string{"", "rsync", "rsync/host", "rsync//debian", "rsync/host/", "other/host/debian", "rsync/+/debian", "rsync/host/#"} {
		if _, _, ok := ParseTopic(bad); ok {
			t.Errorf("ParseTopic(%q) accepted", bad)
		}
	}
}

func TestParsePayload(t *testing.T) {
	when := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	a, err := ParsePayload(Announcement{Module: "debian", Serial: "2026112501", Time: when}.Encode())
	if err != nil || a.Module != "debian" || a.Serial != "2026112501" || !a.Time.Equal(when) {
		t.Errorf("round trip: %+v %v", a, err)
	}
	if a, err := ParsePayload([]byte("dists/trixie\n")); err != nil || a.Text != "dists/trixie" {
		t.Errorf("free text: %+v %v", a, err)
	}
	if a, err := ParsePayload(nil); err != nil || a.Text != "" {
		t.Errorf("empty: %+v %v", a, err)
	}
	if _, err := ParsePayload([]byte(strings.Repeat("x", MaxPayload+1))); !errors.Is(err, ErrOversized) {
		t.Errorf("oversized: %v", err)
	}
	for _, bad := range []string{`{"v":2}`, `{"v":1,`, "\xff\xfe"} {
		if _, err := ParsePayload([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseTopic(f *testing.F) {
	f.Add("rsync/host/module/sub")
	f.Fuzz(func(t *testing.T, topic string) {
		h, m, ok := ParseTopic(topic)
		if ok && (h == "" || m == "" || strings.ContainsAny(h+m, "/+#")) {
			t.Fatalf("bad split of %q: %q %q", topic, h, m)
		}
	})
}

func FuzzParsePayload(f *testing.F) {
	f.Add([]byte(`{"v":1,"module":"debian","serial":"1"}`))
	f.Add([]byte("free text"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParsePayload(b)
		if err == nil && len(b) > MaxPayload {
			t.Fatalf("oversized accepted")
		}
		_ = a
	})
}
