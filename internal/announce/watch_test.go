package announce

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"micromirror/internal/config"
	"micromirror/internal/mqtt"
)

type recorder struct {
	mu  sync.Mutex
	got []mqtt.Announcement
}

func (r *recorder) Announce(a mqtt.Announcement) error {
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
	dir := t.TempDir()
	tree, deb := filepath.Join(dir, "gimp"), filepath.Join(dir, "debian")
	write(t, filepath.Join(tree, "a/old.tar"), "old")
	write(t, filepath.Join(deb, "project/trace/master"), "v1")
	cfg := Config{Upstream: "up.example.net", Poll: config.Dur(50 * time.Millisecond), Quiet: config.Dur(400 * time.Millisecond),
		Modules: []Module{{Name: "gimp", Path: tree}, {Name: "debian", Path: deb, Marker: "project/trace/master"}}}
	rec := &recorder{}
	a := NewAnnouncer(cfg, rec, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)
	time.Sleep(200 * time.Millisecond)
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
	cfg := Config{Upstream: "up.example.net", Poll: config.Dur(50 * time.Millisecond), Quiet: config.Dur(200 * time.Millisecond),
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
