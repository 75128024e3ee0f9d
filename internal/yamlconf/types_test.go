package yamlconf

import "testing"

func TestBitrate(t *testing.T) {
	for in, want := range map[string]int64{"200Mbit": 200e6, "1Gbit": 1e9, "1.5gbit": 1.5e9, "25MB": 200e6, "800kbit": 800e3} {
		r, err := ParseBitrate(in)
		if got := r.BitsPerSecond(); err != nil || got != want {
			t.Errorf("ParseBitrate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fast", "-5Mbit", "10"} {
		if _, err := ParseBitrate(in); err == nil {
			t.Errorf("ParseBitrate(%q) accepted", in)
		}
	}
}

// FuzzParse: no config text makes Parse panic, and what it accepts
// validates.
