package announce

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"micromirror/internal/announcement"
	"micromirror/internal/journal"
	"micromirror/internal/yamlconf"
)

type recorder struct {
	mu  sync.Mutex
	got []announcement.Announcement
}

func (r *recorder) Announce(a announcement.Announcement) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, a)
	return nil
}

func (r *recorder) count(module string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.got {
		if a.Module == module {
			n++
		}
	}
	return n
}

func write(t *testing.T, p, s string) {
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAnnouncerQuietPeriod: each module is announced once at start
// (retained state), then once per change after it has been still for the
// quiet period: by inotify for a tree, by polling for a marker. Activity
// inside rsync's .~tmp~ alone announces nothing.
func TestAnnouncerQuietPeriod(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	dir := t.TempDir()
	tree, deb := filepath.Join(dir, "gimp"), filepath.Join(dir, "debian")
	write(t, filepath.Join(tree, "a/old.tar"), "old")
	write(t, filepath.Join(deb, "project/trace/master"), "v1")
	cfg := Config{Upstream: "up.example.net", Poll: yamlconf.Dur(50 * time.Millisecond), Quiet: yamlconf.Dur(400 * time.Millisecond),
		Modules: []Module{{Name: "gimp", Path: tree}, {Name: "debian", Path: deb, Marker: "project/trace/master"}}}
	rec := &recorder{}
	a := NewAnnouncer(cfg, rec, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	for deadline := time.Now().Add(5 * time.Second); rec.count("gimp") < 1 || rec.count("debian") < 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("start-up announcements: %+v", rec.got)
		}
	}
	if rec.count("gimp") != 1 || rec.count("debian") != 1 {
		t.Fatalf("start-up announcements: %+v", rec.got)
	}
	if !a.isWatched("gimp") {
		t.Errorf("tree module not followed by inotify")
	}

	write(t, filepath.Join(tree, ".~tmp~/half.iso"), "in flight")
	time.Sleep(700 * time.Millisecond)
	if n := rec.count("gimp"); n != 1 {
		t.Errorf(".~tmp~ activity announced (%d)", n)
	}

	// A sync writing for a while: announced once, after it went quiet.
	start := time.Now()
	for i := range 6 {
		write(t, filepath.Join(tree, "b/c", "f"+string(rune('0'+i))), "new")
		time.Sleep(100 * time.Millisecond)
	}
	for rec.count("gimp") < 2 && time.Since(start) < 5*time.Second {
		time.Sleep(20 * time.Millisecond)
	}
	if took := time.Since(start); rec.count("gimp") != 2 || took < 900*time.Millisecond {
		t.Errorf("gimp announcements %d after %v; want 2, after the writes and the quiet period", rec.count("gimp"), took)
	}
	write(t, filepath.Join(deb, "project/trace/master"), "v2")
	for deadline := time.Now().Add(3 * time.Second); rec.count("debian") < 2 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if rec.count("debian") != 2 {
		t.Errorf("marker change not announced")
	}
	time.Sleep(600 * time.Millisecond)
	if rec.count("gimp") != 2 || rec.count("debian") != 2 {
		t.Errorf("announced again without a change: %d %d", rec.count("gimp"), rec.count("debian"))
	}
}

func TestLoadConfigErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "announce.yaml")
	write(t, p, "broker: embedded\nmodules:\n  - {name: \"a/b\"}\n")
	_, err := Load(p)
	for _, want := range []string{"upstream: required", "modules[0].name", "modules[0].path: required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	write(t, p, "broker: embedded\nbogus: 1\n")
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("unknown key: %v", err)
	}
}

// TestSetModules: a module added by a reread config is announced and
// followed, one removed is no longer, one unchanged is left alone (no
// second start-up announcement).
func TestSetModules(t *testing.T) {
	dir := t.TempDir()
	gimp, vlc := filepath.Join(dir, "gimp"), filepath.Join(dir, "videolan")
	write(t, filepath.Join(gimp, "a.tar"), "1")
	write(t, filepath.Join(vlc, "b.tar"), "1")
	cfg := Config{Upstream: "up.example.net", Poll: yamlconf.Dur(50 * time.Millisecond), Quiet: yamlconf.Dur(200 * time.Millisecond),
		Modules: []Module{{Name: "gimp", Path: gimp}}}
	rec := &recorder{}
	a := NewAnnouncer(cfg, rec, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for i := 0; i < 100 && !ok(); i++ {
			time.Sleep(20 * time.Millisecond)
		}
		if !ok() {
			t.Fatalf("%s: announcements %+v", what, rec.got)
		}
	}
	eventually("start", func() bool { return rec.count("gimp") == 1 })

	a.SetModules([]Module{{Name: "gimp", Path: gimp}, {Name: "videolan", Path: vlc}})
	eventually("videolan added", func() bool { return rec.count("videolan") == 1 && a.isWatched("videolan") })
	if rec.count("gimp") != 1 {
		t.Errorf("an unchanged module was announced again: %d", rec.count("gimp"))
	}

	a.SetModules([]Module{{Name: "videolan", Path: vlc}})
	eventually("gimp removed", func() bool { return !a.isWatched("gimp") })
	write(t, filepath.Join(gimp, "c.tar"), "2")
	write(t, filepath.Join(vlc, "c.tar"), "2")
	eventually("videolan changed", func() bool { return rec.count("videolan") == 2 })
	time.Sleep(400 * time.Millisecond) // past gimp's quiet period, were it still followed
	if n := rec.count("gimp"); n != 1 {
		t.Errorf("a removed module was announced after it changed: %d", n)
	}
}

// readJournal parses the module's journal in its tree.
func readJournal(t *testing.T, tree string) *journal.Journal {
	t.Helper()
	f, err := os.Open(filepath.Join(tree, journal.File))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	j, err := journal.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (r *recorder) last(module string) announcement.Announcement {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.got) - 1; i >= 0; i-- {
		if r.got[i].Module == module {
			return r.got[i]
		}
	}
	return announcement.Announcement{}
}

// TestJournalListsChanges: every announcement appends a serial to the
// module's journal in its tree, listing the paths changed since the one
// before: written, created (a new directory with all it holds), deleted,
// renamed (a directory's later changes under its new name), chmod-ed,
// symlinked; never rsync's .~tmp~ or the journal itself. The first
// serial, a hard link and a restart are full serials; a restart keeps
// the journal's id and numbering.
func TestJournalListsChanges(t *testing.T) {
	tree := t.TempDir()
	write(t, filepath.Join(tree, "keep.txt"), "1")
	write(t, filepath.Join(tree, "old/a.txt"), "1")
	write(t, filepath.Join(tree, "gone/x/y.txt"), "1")
	write(t, filepath.Join(tree, "mv/sub/f.txt"), "1")
	cfg := Config{Upstream: "up.example.net", Poll: yamlconf.Dur(20 * time.Millisecond), Quiet: yamlconf.Dur(150 * time.Millisecond),
		Modules: []Module{{Name: "proj", Path: tree}}}
	rec := &recorder{}
	start := func() context.CancelFunc {
		a := NewAnnouncer(cfg, rec, testLog())
		ctx, cancel := context.WithCancel(context.Background())
		go a.Run(ctx)
		return cancel
	}
	stop := start()
	announced := func(n int) announcement.Announcement {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); rec.count("proj") < n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("announcement %d never came: %+v", n, rec.got)
			}
		}
		return rec.last("proj")
	}
	serial := func(j *journal.Journal, n int64) journal.Serial {
		t.Helper()
		for _, s := range j.Serials {
			if s.N == n {
				return s
			}
		}
		t.Fatalf("serial %d missing from %+v", n, j)
		return journal.Serial{}
	}
	if a := announced(1); a.Serial != "1" {
		t.Fatalf("first announcement's serial %q", a.Serial)
	}
	j := readJournal(t, tree)
	if j.Module != "proj" || !serial(j, 1).Full {
		t.Fatalf("first journal: %+v", j)
	}
	id := j.ID

	write(t, filepath.Join(tree, "old/a.txt"), "2")
	write(t, filepath.Join(tree, "new/deep/b.txt"), "new")
	os.Remove(filepath.Join(tree, "keep.txt"))
	os.RemoveAll(filepath.Join(tree, "gone"))
	os.Rename(filepath.Join(tree, "mv"), filepath.Join(tree, "moved"))
	os.Chmod(filepath.Join(tree, "old"), 0o700)
	os.Symlink("old/a.txt", filepath.Join(tree, "link"))
	write(t, filepath.Join(tree, ".~tmp~/half"), "in flight")
	if a := announced(2); a.Serial != "2" {
		t.Fatalf("second serial %q", a.Serial)
	}
	got := serial(readJournal(t, tree), 2)
	want := []string{"gone", "gone/x", "gone/x/y.txt", "keep.txt", "link", "moved", "moved/sub", "moved/sub/f.txt", "mv",
		"new", "new/deep", "new/deep/b.txt", "old", "old/a.txt"}
	if got.Full || !sameSet(got.Paths, want) {
		t.Errorf("serial 2 lists %q; want %q", got.Paths, want)
	}

	write(t, filepath.Join(tree, "moved/sub/f.txt"), "after the move")
	announced(3)
	if got := serial(readJournal(t, tree), 3); got.Full || !sameSet(got.Paths, []string{"moved/sub/f.txt"}) {
		t.Errorf("a change inside a renamed directory: %q (full %v)", got.Paths, got.Full)
	}

	os.Link(filepath.Join(tree, "old/a.txt"), filepath.Join(tree, "hard.txt"))
	announced(4)
	if got := serial(readJournal(t, tree), 4); !got.Full {
		t.Errorf("a hard link is listed path by path: %q", got.Paths)
	}

	stop()
	stop = start()
	defer stop()
	if a := announced(5); a.Serial != "5" {
		t.Errorf("after a restart: serial %q, want 5", a.Serial)
	}
	j = readJournal(t, tree)
	if j.ID != id || !serial(j, 5).Full || serial(j, 2).Full {
		t.Errorf("after a restart: id %s (was %s), %+v", j.ID, id, j.Serials)
	}
}

// TestJournalOfAMarkerModule: a module announced by its marker still has
// its paths journalled; a journal that cannot be written leaves the
// announcement without a serial (nodes run full syncs).
func TestJournalOfAMarkerModule(t *testing.T) {
	deb, broken := t.TempDir(), t.TempDir()
	write(t, filepath.Join(deb, "project/trace/master"), "v1")
	write(t, filepath.Join(broken, journal.Dir), "a file where the journal's directory goes")
	cfg := Config{Upstream: "up.example.net", Poll: yamlconf.Dur(20 * time.Millisecond), Quiet: yamlconf.Dur(100 * time.Millisecond),
		Modules: []Module{{Name: "debian", Path: deb, Marker: "project/trace/master"}, {Name: "broken", Path: broken}}}
	rec := &recorder{}
	a := NewAnnouncer(cfg, rec, testLog())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	for deadline := time.Now().Add(5 * time.Second); rec.count("debian") < 1 || rec.count("broken") < 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no start-up announcements: %+v", rec.got)
		}
	}
	if s := rec.last("broken").Serial; s != "" {
		t.Errorf("an unwritable journal announced serial %q", s)
	}
	write(t, filepath.Join(deb, "pool/main/h/hello.deb"), "deb")
	time.Sleep(300 * time.Millisecond)
	if n := rec.count("debian"); n != 1 {
		t.Errorf("a marker module was announced without its marker changing (%d)", n)
	}
	write(t, filepath.Join(deb, "project/trace/master"), "v2")
	for deadline := time.Now().Add(5 * time.Second); rec.count("debian") < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("marker change not announced")
		}
	}
	j := readJournal(t, deb)
	want := []string{"pool", "pool/main", "pool/main/h", "pool/main/h/hello.deb", "project/trace/master"}
	if s := j.Serials[len(j.Serials)-1]; s.Full || !sameSet(s.Paths, want) || rec.last("debian").Serial != "2" {
		t.Errorf("marker module's serial %d: %q, want %q", s.N, s.Paths, want)
	}
}

func sameSet(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

func testLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
