// Package filelist reads the file lists Fedora's infrastructure publishes
// at the top of its trees (fullfiletimelist-fedora, -epel, Rocky's
// fullfiletimelist-rocky: quick-fedora-mirror's format) and compares two
// of them, so a node transfers only the paths that changed between the
// list its tree was synced to and the upstream's current one, instead of
// having the upstream list millions of files. A list is outside input: it
// is read within bounds, and a wrong one costs a transfer, never a wrong
// tree (rsync makes every path it is given equal to the upstream's).
package filelist

import (
	"bufio"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"micromirror/internal/journal"
)

// Bounds on a list.
const (
	MaxBytes   = 1 << 30
	MaxEntries = 20_000_000
	maxLine    = 16 << 10
)

// ErrMalformed wraps every reason a list is refused.
var ErrMalformed = errors.New("malformed file list")

// ErrTooMany is Diff's answer when more paths differ than it may return.
var ErrTooMany = errors.New("too many changed paths")

// Read streams the [Files] section of a list: each entry's path and the
// rest of its line (time, type, size: the time is the newer of mtime and
// ctime, so a chmod shows too). The section must end with its blank
// line: a list cut short inside it is refused.
//
//	[Version]
//	3
//
//	[Files]
//	1717564457	f	282	linux/extras/README
//	1717564457	d	4096	linux/extras
//
//	[Checksums SHA1]
//	...
func Read(r io.Reader, each func(path, entry string)) error {
	br := bufio.NewReaderSize(io.LimitReader(r, MaxBytes+1), 64<<10)
	var read int64
	line := 0
	next := func() (string, error) {
		s, err := br.ReadString('\n')
		read += int64(len(s))
		line++
		switch {
		case read > MaxBytes:
			return "", fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxBytes)
		case err == io.EOF:
			return "", fmt.Errorf("%w: cut short at line %d", ErrMalformed, line)
		case err != nil:
			return "", err
		case len(s) > maxLine:
			return "", fmt.Errorf("%w: line %d longer than %d bytes", ErrMalformed, line, maxLine)
		}
		return strings.TrimSuffix(s, "\n"), nil
	}
	for _, want := range []string{"[Version]", "2 or 3", "", "[Files]"} {
		s, err := next()
		if err != nil {
			return err
		}
		if s != want && (want != "2 or 3" || (s != "2" && s != "3")) {
			return fmt.Errorf("%w: line %d is %.40q, want %q", ErrMalformed, line, s, want)
		}
	}
	for n := 0; ; n++ {
		s, err := next()
		if err != nil {
			return err
		}
		if s == "" {
			return nil // the end of [Files]; checksums and the rest are not needed
		}
		if n >= MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrMalformed, MaxEntries)
		}
		f := strings.SplitN(s, "\t", 4)
		if len(f) != 4 || !digits(f[0]) || f[1] == "" || len(f[1]) > 4 || !digits(f[2]) || !journal.ValidPath(f[3]) {
			return fmt.Errorf("%w: line %d: want <time> TAB <type> TAB <size> TAB <path>, got %.80q", ErrMalformed, line, s)
		}
		each(f[3], s[:len(s)-len(f[3])])
	}
}

func digits(s string) bool {
	_, err := strconv.ParseUint(s, 10, 63)
	return err == nil
}

// Diff returns the paths whose entries differ between the lists in the
// files old and fresh: new, changed or gone, each once, at most limit of
// them (else ErrTooMany). It holds a few bytes per path of the fresh
// list, not the paths.
func Diff(old, fresh string, limit int) ([]string, error) {
	seed := maphash.MakeSeed()
	key := func(s string) uint64 { return maphash.String(seed, s) }
	type entry struct {
		sum   uint64
		inOld bool
	}
	entries := map[uint64]entry{}
	if err := readFile(fresh, func(p, e string) { entries[key(p)] = entry{sum: key(e)} }); err != nil {
		return nil, err
	}
	var out []string
	add := func(p string) {
		if len(out) <= limit {
			out = append(out, p)
		}
	}
	news := len(entries)
	err := readFile(old, func(p, e string) {
		k := key(p)
		now, ok := entries[k]
		if !ok || now.sum != key(e) {
			add(p) // gone, or changed
		}
		if ok && !now.inOld {
			now.inOld = true
			entries[k] = now
			news--
		}
	})
	if err != nil {
		return nil, err
	}
	if news > 0 {
		err = readFile(fresh, func(p, _ string) {
			if !entries[key(p)].inOld {
				add(p)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	if len(out) > limit {
		return nil, fmt.Errorf("%w: more than %d", ErrTooMany, limit)
	}
	slices.Sort(out)
	return slices.Compact(out), nil // a path listed twice is one path
}

func readFile(name string, each func(path, entry string)) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return Read(f, each)
}
