package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as "10s", "5m", "24h" in YAML. A bad
// value is kept, not failed, while decoding: Validate reports it with its
// key and line, which the YAML decoder cannot do for custom types.
type Duration struct {
	v   time.Duration
	bad string
}

// Dur makes a Duration.
func Dur(d time.Duration) Duration { return Duration{v: d} }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil || v < 0 {
		*d = Duration{bad: string(b)}
		return nil
	}
	*d = Duration{v: v}
	return nil
}

// MarshalText writes the duration back in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.v.String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return d.v }

// Err says what is wrong with a value that did not parse.
func (d Duration) Err() error {
	if d.bad == "" {
		return nil
	}
	return fmt.Errorf("not a duration (want e.g. 30s, 5m, 24h): %q", d.bad)
}

// Bitrate is a transfer rate in bits per second, written "200Mbit",
// "1Gbit", "800kbit" or in bytes as "25MB" (decimal units, like rsync).
// Like Duration, a bad value is reported by Validate.
type Bitrate struct {
	bits int64
	bad  string
}

// Bits makes a Bitrate.
func Bits(n int64) Bitrate { return Bitrate{bits: n} }

// UnmarshalText parses a rate with a unit.
func (r *Bitrate) UnmarshalText(b []byte) error {
	v, err := ParseBitrate(string(b))
	if err != nil {
		*r = Bitrate{bad: string(b)}
		return nil
	}
	*r = v
	return nil
}

// MarshalText writes the rate in Mbit.
func (r Bitrate) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(r.bits)/1e6, 'f', -1, 64) + "Mbit"), nil
}

// BitsPerSecond is the rate; 0 means unset.
func (r Bitrate) BitsPerSecond() int64 { return r.bits }

// BytesPerSecond converts the rate for rsync's --bwlimit.
func (r Bitrate) BytesPerSecond() int64 { return r.bits / 8 }

// Err says what is wrong with a value that did not parse.
func (r Bitrate) Err() error {
	if r.bad == "" {
		return nil
	}
	return fmt.Errorf("not a rate (want e.g. 200Mbit, 1Gbit, 25MB): %q", r.bad)
}

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
			if err != nil || f < 0 || f*u.mult > 1e15 {
				break
			}
			return Bitrate{bits: int64(f * u.mult)}, nil
		}
	}
	return Bitrate{}, fmt.Errorf("not a rate (want e.g. 200Mbit, 1Gbit, 25MB): %q", s)
}
