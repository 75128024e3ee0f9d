package journal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The file is text, one item per line:
//
//	micromirror-journal 1
//	id 5f0c3a9e2b7d4c11
//	module debian
//	serial 41 2026-12-02T06:00:00Z
//	"pool/main/h/hello/hello_2.10-3_amd64.deb"
//	serial 42 2026-12-02T07:00:00Z full
//	end 42 1
//
// Paths are Go-quoted, so any byte but NUL survives. The end line repeats
// the head and counts the paths: a journal cut short is caught.
const magic = "micromirror-journal 1"

// ErrMalformed wraps every reason a journal is refused.
var ErrMalformed = errors.New("malformed journal")

// Encode renders the journal.
func (j *Journal) Encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nid %s\nmodule %s\n", magic, j.ID, j.Module)
	n := 0
	for _, s := range j.Serials {
		fmt.Fprintf(&b, "serial %d %s", s.N, s.Time.UTC().Format(time.RFC3339))
		if s.Full {
			b.WriteString(" full")
		}
		b.WriteByte('\n')
		for _, p := range s.Paths {
			b.WriteString(strconv.Quote(p))
			b.WriteByte('\n')
			n++
		}
	}
	fmt.Fprintf(&b, "end %d %d\n", j.Head(), n)
	return b.Bytes()
}

// Parse reads a journal within the package's bounds; anything else is an
// error wrapping ErrMalformed that names the line.
func Parse(r io.Reader) (*Journal, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, MaxBytes+1), 64<<10)
	var (
		j     Journal
		read  int64
		paths int
		line  int
		ended bool
	)
	bad := func(f string, a ...any) error {
		return fmt.Errorf("%w: line %d: %s", ErrMalformed, line, fmt.Sprintf(f, a...))
	}
	for {
		s, err := br.ReadString('\n')
		read += int64(len(s))
		if read > MaxBytes {
			return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxBytes)
		}
		if err == io.EOF && s == "" {
			break
		}
		line++
		if err != nil && err != io.EOF {
			return nil, err
		}
		if !strings.HasSuffix(s, "\n") {
			return nil, bad("cut short")
		}
		if len(s) > MaxLine {
			return nil, bad("longer than %d bytes", MaxLine)
		}
		s = strings.TrimSuffix(s, "\n")
		if ended {
			return nil, bad("text after the end line")
		}
		switch {
		case line == 1:
			if s != magic {
				return nil, bad("not a micromirror journal (want %q)", magic)
			}
		case line == 2:
			id, ok := strings.CutPrefix(s, "id ")
			if !ok || !plainWord(id) {
				return nil, bad("want \"id <word>\"")
			}
			j.ID = id
		case line == 3:
			m, ok := strings.CutPrefix(s, "module ")
			if !ok || !plainWord(m) {
				return nil, bad("want \"module <name>\"")
			}
			j.Module = m
		case strings.HasPrefix(s, "\""):
			if len(j.Serials) == 0 {
				return nil, bad("a path before any serial")
			}
			p, err := strconv.Unquote(s)
			if err != nil || !ValidPath(p) {
				return nil, bad("bad path %.80s", s)
			}
			if paths++; paths > MaxPaths {
				return nil, bad("more than %d paths", MaxPaths)
			}
			last := &j.Serials[len(j.Serials)-1]
			if last.Full {
				return nil, bad("a path under a full serial")
			}
			last.Paths = append(last.Paths, p)
		case strings.HasPrefix(s, "serial "):
			ser, err := parseSerial(strings.TrimPrefix(s, "serial "))
			if err != nil {
				return nil, bad("%v", err)
			}
			if len(j.Serials) > 0 && ser.N != j.Head()+1 {
				return nil, bad("serial %d after %d: serials must follow each other", ser.N, j.Head())
			}
			if len(j.Serials) >= MaxSerials {
				return nil, bad("more than %d serials", MaxSerials)
			}
			j.Serials = append(j.Serials, ser)
		case strings.HasPrefix(s, "end "):
			f := strings.Fields(s)
			if len(f) != 3 || f[1] != strconv.FormatInt(j.Head(), 10) || f[2] != strconv.Itoa(paths) {
				return nil, bad("end line %q does not match the journal (head %d, %d paths)", s, j.Head(), paths)
			}
			ended = true
		default:
			return nil, bad("unknown line %.80q", s)
		}
	}
	if line < 3 {
		return nil, fmt.Errorf("%w: no header", ErrMalformed)
	}
	if !ended {
		return nil, fmt.Errorf("%w: no end line (cut short?)", ErrMalformed)
	}
	return &j, nil
}

func parseSerial(s string) (Serial, error) {
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 || (len(f) == 3 && f[2] != "full") {
		return Serial{}, fmt.Errorf("want \"serial <n> <time> [full]\"")
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || n <= 0 {
		return Serial{}, fmt.Errorf("bad serial number %.40q", f[0])
	}
	t, err := time.Parse(time.RFC3339, f[1])
	if err != nil {
		return Serial{}, fmt.Errorf("bad time %.40q", f[1])
	}
	// In UTC to the second, as Encode writes it.
	return Serial{N: n, Time: t.UTC().Truncate(time.Second), Full: len(f) == 3}, nil
}

// plainWord is an id or module name: printable, no spaces, bounded.
func plainWord(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r > '~' {
			return false
		}
	}
	return true
}
