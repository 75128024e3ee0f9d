// Package journal is the change journal: the paths an upstream changed or
// deleted, by serial, which `micromirror announce` keeps in each module's
// tree and nodes read to transfer only those paths instead of listing the
// whole tree. It is a wire format between the announcer and the nodes;
// a node treats it as outside input and never trusts it further than
// rsync can check (a listed path is made equal to the upstream's, so a
// lie costs a transfer, never a wrong tree).
package journal

import (
	"slices"
	"strings"
	"time"
)

// Dir is the journal's directory at the top of a module's tree; File the
// journal itself. Nodes leave Dir out of what they mirror.
const (
	Dir  = ".micromirror"
	File = Dir + "/journal"
)

// Bounds on a journal a node reads (and the announcer writes well under).
const (
	MaxBytes   = 64 << 20  // the whole file
	MaxPaths   = 1_000_000 // all serials together
	MaxSerials = 10_000
	MaxLine    = 16 << 10 // one line: a quoted path of rsync's 4096 bytes fits
)

// Journal is one module's recent history.
type Journal struct {
	// ID names this journal's run of serials: a new ID (the journal was
	// lost and started again) means serials are not comparable.
	ID     string
	Module string
	// Serials are consecutive, oldest first.
	Serials []Serial
}

// Serial is one announced change.
type Serial struct {
	N    int64
	Time time.Time
	// Full means the change is not known path by path (events were lost,
	// a hard link was made, the announcer was not watching): a node
	// crossing this serial runs a full sync.
	Full bool
	// Paths changed or were deleted (relative to the module's top).
	Paths []string
}

// Head is the newest serial, 0 for an empty journal.
func (j *Journal) Head() int64 {
	if len(j.Serials) == 0 {
		return 0
	}
	return j.Serials[len(j.Serials)-1].N
}

// oldest is the first serial the journal lists.
func (j *Journal) oldest() int64 {
	if len(j.Serials) == 0 {
		return 0
	}
	return j.Serials[0].N
}

// Since returns the paths changed after serial from of journal id, up to
// the head, sorted and each once. A non-empty why says a node at that
// serial cannot catch up from this journal and must run a full sync.
func (j *Journal) Since(id string, from int64) (paths []string, why string) {
	head := j.Head()
	switch {
	case id == "" || from <= 0:
		return nil, "no journal serial recorded yet"
	case id != j.ID:
		return nil, "the journal was restarted (new id)"
	case from > head:
		return nil, "the journal is behind the tree (serial from the future?)"
	case from == head:
		return nil, ""
	case from < j.oldest()-1:
		return nil, "the journal no longer reaches back to the tree's serial"
	}
	seen := map[string]bool{}
	for _, s := range j.Serials {
		if s.N <= from {
			continue
		}
		if s.Full {
			return nil, "a serial since the last run is not listed path by path"
		}
		for _, p := range s.Paths {
			if !seen[p] {
				seen[p] = true
				paths = append(paths, p)
			}
		}
	}
	slices.Sort(paths)
	return paths, ""
}

// Under keeps the paths inside dir (a directory relative to the module's
// top, "" for the top itself) and makes them relative to it: a node
// syncing a part of a module reads the module's journal.
func Under(paths []string, dir string) []string {
	dir = strings.Trim(dir, "/")
	if dir == "" {
		return paths
	}
	var out []string
	for _, p := range paths {
		if rest, ok := strings.CutPrefix(p, dir+"/"); ok {
			out = append(out, rest)
		}
	}
	return out
}

// ValidPath says whether p may appear in a journal: relative, clean, no
// "..", no NUL, inside the module and never the journal's own directory.
func ValidPath(p string) bool {
	if p == "" || len(p) > 4096 || strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0) {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return p != Dir && !strings.HasPrefix(p, Dir+"/")
}

// Append adds a serial after the head and drops the oldest serials
// beyond keepPaths paths or keepSerials serials in all. A serial with more
// paths than keepPaths on its own is kept as Full: a full run costs no
// more than such a list.
func (j *Journal) Append(s Serial, keepPaths, keepSerials int) {
	s.N = j.Head() + 1
	if len(s.Paths) > keepPaths {
		s.Full, s.Paths = true, nil
	}
	j.Serials = append(j.Serials, s)
	total := 0
	for _, x := range j.Serials {
		total += len(x.Paths)
	}
	drop := 0
	for len(j.Serials)-drop > keepSerials || (total > keepPaths && drop < len(j.Serials)-1) {
		total -= len(j.Serials[drop].Paths)
		drop++
	}
	j.Serials = slices.Delete(j.Serials, 0, drop)
}
