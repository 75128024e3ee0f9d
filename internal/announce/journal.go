package announce

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"micromirror/internal/atomicfile"
	"micromirror/internal/journal"
)

// What the announcer keeps of a module's history: nodes further behind
// than this run a full sync, which costs no more than such a list.
const (
	keepPaths   = 200_000
	keepSerials = 1000
)

// changes are the paths of a module changed since its last serial, as
// inotify reported them; lost says why they are not the whole story (the
// next serial is then a full one).
type changes struct {
	paths map[string]struct{}
	lost  string
}

func (c *changes) add(rel string) {
	if c.lost != "" {
		return
	}
	if !journal.ValidPath(rel) {
		return // the top itself, or the journal's own directory
	}
	if len(c.paths) >= keepPaths {
		c.lose(fmt.Sprintf("more than %d paths changed", keepPaths))
		return
	}
	c.paths[rel] = struct{}{}
}

func (c *changes) lose(why string) {
	if c.lost == "" {
		c.lost = why
	}
	c.paths = map[string]struct{}{}
}

// take empties c and returns what it held as a serial.
func (c *changes) take(when time.Time) journal.Serial {
	s := journal.Serial{Time: when.UTC(), Full: c.lost != ""}
	if !s.Full {
		for p := range c.paths {
			s.Paths = append(s.Paths, p)
		}
	}
	c.paths, c.lost = map[string]struct{}{}, ""
	return s
}

// nextSerial appends the module's changes as a serial to its journal in
// the tree (written whole, by rename) and returns the serial's number for
// the announcement. A journal that cannot be written is reported and the
// announcement goes without one: nodes then run full syncs, as before.
func (a *Announcer) nextSerial(m Module, when time.Time) string {
	if !a.cfg.JournalOn() {
		return ""
	}
	a.mu.Lock()
	st := a.state[m.Name]
	if st == nil {
		a.mu.Unlock()
		return ""
	}
	if !a.watched[m.Name] {
		st.changes.lose("the tree is not watched path by path")
	}
	s := st.changes.take(when)
	a.mu.Unlock()
	j := a.journals[m.Name]
	if j == nil {
		j = loadJournal(m)
		a.journals[m.Name] = j
	}
	j.Append(s, keepPaths, keepSerials)
	if err := writeJournal(m, j); err != nil {
		if !a.journalErr[m.Name] {
			a.log.Warn("no change journal for this module: nodes run full syncs", "module", m.Name, "err", err,
				"fix", "make "+filepath.Join(m.Path, journal.Dir)+" writable by the announcer")
		}
		a.journalErr[m.Name] = true
		return ""
	}
	if a.journalErr[m.Name] {
		a.log.Info("change journal written again", "module", m.Name)
		delete(a.journalErr, m.Name)
	}
	return strconv.FormatInt(j.Head(), 10)
}

// loadJournal continues the journal already in the tree (its id and
// serials), or starts one with a new id.
func loadJournal(m Module) *journal.Journal {
	if f, err := os.Open(filepath.Join(m.Path, journal.File)); err == nil {
		defer f.Close()
		if j, err := journal.Parse(f); err == nil && j.Module == m.Name {
			return j
		}
	}
	id := make([]byte, 8)
	rand.Read(id)
	return &journal.Journal{ID: hex.EncodeToString(id), Module: m.Name}
}

func writeJournal(m Module, j *journal.Journal) error {
	dir := filepath.Join(m.Path, journal.Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(m.Path, journal.File), j.Encode(), 0o644)
}

// recordTree adds every entry under root (a directory that appeared) to
// the module's changes: what it held before its watch was set up.
func recordTree(c *changes, top, root string) {
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && skipDir(d) {
			return filepath.SkipDir
		}
		if rel, err := filepath.Rel(top, p); err == nil {
			c.add(filepath.ToSlash(rel))
		}
		return nil
	})
}

// skipDir: rsync's in-flight files and the journal's own directory are
// not the tree's content.
func skipDir(d fs.DirEntry) bool {
	return d.IsDir() && (d.Name() == ".~tmp~" || d.Name() == journal.Dir)
}

// hardLinked says whether a new file shares its inode: rsync can only
// keep hard links among the files it is given, so a journal run cannot
// make this one right.
func hardLinked(p string) bool {
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink > 1
}
