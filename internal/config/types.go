package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as "10s", "5m", "24h" in YAML.
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("not a duration (want e.g. 30s, 5m, 24h): %q", b)
	}
	if v < 0 {
		return fmt.Errorf("negative duration %q", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration back in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Bitrate is a transfer rate in bits per second, written "200Mbit",
// "1Gbit", "800kbit" or in bytes as "25MB" (decimal units, like rsync).
type Bitrate int64

// UnmarshalText parses a rate with a unit.
func (r *Bitrate) UnmarshalText(b []byte) error {
	v, err := ParseBitrate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalText writes the rate in Mbit.
func (r Bitrate) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(r)/1e6, 'f', -1, 64) + "Mbit"), nil
}

// BytesPerSecond converts the rate for rsync's --bwlimit.
func (r Bitrate) BytesPerSecond() int64 { return int64(r) / 8 }

// ParseBitrate parses "200Mbit", "1.5Gbit", "25MB", "800kbit".
func ParseBitrate(s string) (Bitrate, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{
		{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1},
		{"gb", 8e9}, {"mb", 8e6}, {"kb", 8e3}, {"b", 8},
	}
	low := strings.ToLower(s)
	for _, u := range units {
		if num, ok := strings.CutSuffix(low, u.suffix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || f < 0 {
				break
			}
			return Bitrate(f * u.mult), nil
		}
	}
	return 0, fmt.Errorf("not a rate (want e.g. 200Mbit, 1Gbit, 25MB): %q", s)
}
