package yamlconf

import (
	"encoding"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// UnmarshalScalar decodes a YAML scalar into a text-unmarshalling value.
// Value types implement goccy/go-yaml's node unmarshaler with it because
// the library's text path re-formats the whole document for every value,
// which made a thousand-node inventory take seconds to load. A null leaves
// the value unset; a map or list is passed as text, so it is reported as a
// bad value like any other.
func UnmarshalScalar(n ast.Node, v encoding.TextUnmarshaler) error {
	switch n := n.(type) {
	case nil, *ast.NullNode:
		return nil
	case ast.ScalarNode:
		if tok := n.GetToken(); tok != nil {
			return v.UnmarshalText([]byte(tok.Value))
		}
	}
	return v.UnmarshalText([]byte(n.String()))
}

// UnmarshalYAML decodes the YAML scalar (see UnmarshalScalar).
func (d *Duration) UnmarshalYAML(n ast.Node) error { return UnmarshalScalar(n, d) }

// UnmarshalYAML decodes the YAML scalar (see UnmarshalScalar).
func (r *Bitrate) UnmarshalYAML(n ast.Node) error { return UnmarshalScalar(n, r) }

// UnmarshalYAML decodes the YAML scalar (see UnmarshalScalar).
func (s *ByteSize) UnmarshalYAML(n ast.Node) error { return UnmarshalScalar(n, s) }

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

// ParseBitrate parses "200Mbit", "1.5Gbit", "25MB", "25MiB", "800kbit".
func ParseBitrate(s string) (Bitrate, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{
		{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1},
		// Binary bytes, as rsync's own --bwlimit=25M means 25 MiB/s.
		{"gib", 8 << 30}, {"mib", 8 << 20}, {"kib", 8 << 10},
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

// ByteSize is an amount of storage or traffic, written "2TB", "450GB",
// "1.5TiB" or "800MiB": decimal units (kB, MB, GB, TB, PB: powers of 1000,
// as disks are sold) or binary ones (KiB ... PiB). Like Duration, a bad
// value is kept and reported by validation with its key and line.
type ByteSize struct {
	n   int64
	bad string
}

// Bytes makes a ByteSize.
func Bytes(n int64) ByteSize { return ByteSize{n: n} }

// UnmarshalText parses a size with a unit.
func (s *ByteSize) UnmarshalText(b []byte) error {
	v, err := ParseByteSize(string(b))
	if err != nil {
		*s = ByteSize{bad: string(b)}
		return nil
	}
	*s = v
	return nil
}

// MarshalText writes the size in the largest decimal unit that keeps it
// exact enough to read back (3 significant decimals).
func (s ByteSize) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Int is the size in bytes; 0 means unset.
func (s ByteSize) Int() int64 { return s.n }

// Err says what is wrong with a value that did not parse.
func (s ByteSize) Err() error {
	if s.bad == "" {
		return nil
	}
	return fmt.Errorf("not a size (want e.g. 2TB, 450GB, 1.5TiB): %q", s.bad)
}

// String renders the size for people: "1.82 TB", "450 GB", "12 kB".
func (s ByteSize) String() string { return HumanBytes(float64(s.n)) }

// HumanBytes renders a byte count in decimal units with three significant
// digits, as disk and traffic figures are read.
func HumanBytes(n float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	i := 0
	neg := n < 0
	if neg {
		n = -n
	}
	for n >= 999.5 && i < len(units)-1 {
		n /= 1000
		i++
	}
	sign := ""
	if neg {
		sign = "-"
	}
	switch {
	case i == 0 || n >= 99.95:
		return fmt.Sprintf("%s%.0f %s", sign, n, units[i])
	case n >= 9.995:
		return fmt.Sprintf("%s%.1f %s", sign, n, units[i])
	default:
		return fmt.Sprintf("%s%.2f %s", sign, n, units[i])
	}
}

// ParseByteSize parses "2TB", "450 GB", "1.5TiB", "800MiB", "1024" (bytes).
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40}, {"pib", 1 << 50},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12}, {"pb", 1e15}, {"b", 1}, {"", 1},
	}
	low := strings.ToLower(s)
	for _, u := range units {
		num, ok := strings.CutSuffix(low, u.suffix)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || f < 0 || f*u.mult > 1e18 || math.IsNaN(f) {
			break
		}
		return ByteSize{n: int64(f * u.mult)}, nil
	}
	return ByteSize{}, fmt.Errorf("not a size (want e.g. 2TB, 450GB, 1.5TiB): %q", s)
}
