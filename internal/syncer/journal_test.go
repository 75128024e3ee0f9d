package syncer_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"micromirror/internal/announce"
	"micromirror/internal/announcement"
	"micromirror/internal/journal"
	"micromirror/internal/nodeconfig"
	"micromirror/internal/status"
	"micromirror/internal/syncer"
	"micromirror/internal/testenv"
	"micromirror/internal/yamlconf"
)

// announcer runs the real announcer over the rig's upstream tree (module
// "proj"); serial waits for its n-th serial.
type announcer struct {
	t  *testing.T
	mu sync.Mutex
	at int64 // the last serial announced
}

func (a *announcer) Announce(m announcement.Announcement) error {
	n, _ := strconv.ParseInt(m.Serial, 10, 64)
	a.mu.Lock()
	a.at = max(a.at, n)
	a.mu.Unlock()
	return nil
}

func startAnnouncer(t *testing.T, tree, marker string) *announcer {
	a := &announcer{t: t}
	cfg := announce.Config{Upstream: "up", Poll: yamlconf.Dur(20 * time.Millisecond), Quiet: yamlconf.Dur(100 * time.Millisecond),
		Modules: []announce.Module{{Name: "proj", Path: tree, Marker: marker}}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go announce.NewAnnouncer(cfg, a, testenv.Logger(t)).Run(ctx)
	a.serial(1)
	return a
}

func (a *announcer) serial(n int64) {
	a.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		a.mu.Lock()
		at := a.at
		a.mu.Unlock()
		if at >= n {
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("serial %d never announced (at %d)", n, at)
		}
	}
}

// runOnce triggers a run and waits for it; it returns the project's status.
func (r *rig) runOnce(reason string) status.Project {
	r.t.Helper()
	n := r.status().Runs + r.status().Checks + r.status().Refusals
	r.engine.Trigger(r.cfg.Projects[0].Name, reason)
	s := r.waitFor("a run", 60*time.Second, func(s syncer.ProjectStatus) bool {
		return s.Runs+s.Checks+s.Refusals > n && s.State != status.Syncing
	})
	return s.Project
}

// sameAsUpstream compares the node's tree with the upstream's, whole;
// ours are files only the node has (its trace).
func (r *rig) sameAsUpstream(ours ...string) {
	r.t.Helper()
	testenv.SameTree(r.t, testenv.Tree(r.t, r.dir(), ours...), testenv.Tree(r.t, r.src, journal.Dir, ".~tmp~"))
}

// TestJournalRunsMirrorExactly: with the real announcer's journal, runs
// after the first transfer only the paths it lists, and the tree is the
// upstream's after each, whole: contents, mtimes, permissions, symlinks,
// deletions of files and of directories, renames; a hard link (which a
// journal run cannot make) takes a full run, and so does the daily
// verifying run.
func TestJournalRunsMirrorExactly(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	r := newRig(t, "videolan", nil)
	for i := range 40 {
		write(t, r.src, fmt.Sprintf("vlc/%d/file%d.tar", i%4, i), randBytes(1000+i))
	}
	write(t, r.src, "gone/deep/x.bin", []byte("x"))
	write(t, r.src, "mv/sub/f.txt", []byte("f"))
	os.Symlink("vlc/0", filepath.Join(r.src, "current"))
	os.Chmod(filepath.Join(r.src, "vlc/1/file1.tar"), 0o600)
	a := startAnnouncer(t, r.src, "")
	r.start()
	s := r.waitFor("first sync", 30*time.Second, runs(1)).Project
	if s.LastRun.Kind != "full" || s.Journal == nil || s.Journal.Serial != 1 {
		t.Fatalf("first sync: kind %q, journal %+v", s.LastRun.Kind, s.Journal)
	}
	r.sameAsUpstream()

	rewrite(t, r.src, "vlc/2/file2.tar", randBytes(3000))
	write(t, r.src, "vlc/9/new/added.tar", randBytes(500))
	os.Remove(filepath.Join(r.src, "vlc/3/file3.tar"))
	os.RemoveAll(filepath.Join(r.src, "gone"))
	os.Rename(filepath.Join(r.src, "mv"), filepath.Join(r.src, "moved"))
	os.Chmod(filepath.Join(r.src, "vlc/0/file0.tar"), 0o640)
	os.Remove(filepath.Join(r.src, "current"))
	os.Symlink("vlc/9", filepath.Join(r.src, "current"))
	a.serial(2)
	s = r.runOnce("mqtt")
	if s.LastRun.Kind != "journal" || s.Journal.Serial != 2 || s.LastRun.FilesDeleted == 0 {
		t.Errorf("second run: kind %q, journal %+v, deleted %d", s.LastRun.Kind, s.Journal, s.LastRun.FilesDeleted)
	}
	if s.LastRun.FilesTransferred > 8 {
		t.Errorf("a journal run transferred %d files for 3 changed", s.LastRun.FilesTransferred)
	}
	r.sameAsUpstream()

	// Nothing new: the journal alone says so.
	if s = r.runOnce("schedule"); s.LastResult != "unchanged" {
		t.Errorf("an unchanged journal ran %q", s.LastResult)
	}

	os.Link(filepath.Join(r.src, "vlc/0/file0.tar"), filepath.Join(r.src, "vlc/9/hard.tar"))
	a.serial(3)
	if s = r.runOnce("mqtt"); s.LastRun.Kind != "full" || s.Journal.Serial != 3 {
		t.Errorf("after a hard link: kind %q, journal %+v", s.LastRun.Kind, s.Journal)
	}
	r.sameAsUpstream()

	// The verifying run comes when its day is up.
	rewrite(t, r.src, "vlc/1/file1.tar", randBytes(100))
	a.serial(4)
	r.setStatus(func(p *status.Project) { p.LastVerified = time.Now().Add(-25 * time.Hour) })
	if s = r.runOnce("schedule"); s.LastRun.Kind != "full" || time.Since(s.LastVerified) > time.Minute {
		t.Errorf("verifying run: kind %q, verified %s", s.LastRun.Kind, s.LastVerified)
	}
	r.sameAsUpstream()
}

// setStatus edits the project's stored status between runs.
func (r *rig) setStatus(edit func(*status.Project)) {
	r.t.Helper()
	p, err := r.store.Load(r.cfg.Projects[0].Name)
	if err != nil {
		r.t.Fatal(err)
	}
	edit(&p)
	if err := r.store.Save(p); err != nil {
		r.t.Fatal(err)
	}
}

// writeJournal puts a hand-made journal at the upstream's top.
func writeJournal(t *testing.T, root string, j *journal.Journal) {
	t.Helper()
	write(t, root, journal.File, j.Encode())
}

// TestJournalThatLies: a journal is outside input. One that lists paths
// the upstream lacks, omits a change, is cut short, is another module's,
// restarts its serials, runs behind the tree, is dated in the future,
// names a path outside the tree, or lists a mass deletion never leaves
// the tree wrong past the next verifying run, never deletes past the
// guard and never writes outside the tree.
func TestJournalThatLies(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	r := newRig(t, "videolan", nil)
	for i := range 50 {
		write(t, r.src, fmt.Sprintf("pool/f%02d", i), []byte(fmt.Sprintf("v1 %d", i)))
	}
	now := time.Now().UTC().Truncate(time.Second)
	jr := &journal.Journal{ID: "j1", Module: "proj"}
	jr.Append(journal.Serial{Time: now, Full: true}, 1000, 1000)
	writeJournal(t, r.src, jr)
	r.start()
	r.waitFor("first sync", 30*time.Second, runs(1))
	r.sameAsUpstream()
	next := func(paths ...string) {
		jr.Append(journal.Serial{Time: now, Paths: paths}, 1000, 1000)
		writeJournal(t, r.src, jr)
	}
	kind := func(want string) {
		t.Helper()
		if s := r.runOnce("mqtt"); s.LastRun.Kind != want || s.State != status.Idle {
			t.Errorf("kind %q (%s: %s), want %q", s.LastRun.Kind, s.State, s.LastError, want)
		}
	}

	// Paths that exist nowhere: nothing happens to the tree.
	rewrite(t, r.src, "pool/f01", []byte("v2"))
	next("pool/f01", "no/such/file", "pool/f99")
	kind("journal")
	r.sameAsUpstream()

	// An omitted change stays until the verifying run.
	rewrite(t, r.src, "pool/f02", []byte("v2, not journalled"))
	next("pool/f03")
	kind("journal")
	if b, _ := os.ReadFile(filepath.Join(r.dir(), "pool/f02")); string(b) == "v2, not journalled" {
		t.Fatal("the omitted change came anyway: the run was not a journal run")
	}
	r.setStatus(func(p *status.Project) { p.LastVerified = time.Time{} })
	kind("full")
	r.sameAsUpstream()

	outside := filepath.Join(filepath.Dir(r.dir()), "outside")
	os.WriteFile(outside, []byte("keep"), 0o644)
	for _, c := range []struct {
		name string
		edit func() []byte
	}{
		{"cut short", func() []byte { b := jr.Encode(); return b[:len(b)-8] }},
		{"another module's", func() []byte { o := *jr; o.Module = "other"; return o.Encode() }},
		{"restarted serials", func() []byte { o := *jr; o.ID = "j2"; return o.Encode() }},
		{"behind the tree", func() []byte { o := *jr; o.Serials = o.Serials[:1]; return o.Encode() }},
		{"dated in the future", func() []byte {
			o := *jr
			o.Serials = append(o.Serials[:len(o.Serials):len(o.Serials)], journal.Serial{N: jr.Head() + 1, Time: now.Add(48 * time.Hour), Paths: []string{"pool/f04"}})
			return o.Encode()
		}},
		{"a path outside the tree", func() []byte {
			return []byte(strings.Replace(string(jr.Encode()), "end ", "serial "+strconv.FormatInt(jr.Head()+1, 10)+" "+now.Format(time.RFC3339)+"\n\"../outside\"\nend ", 1))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			writeJournal(t, r.src, jr)
			r.runOnce("mqtt") // the tree stands at the journal's head
			rewrite(t, r.src, "pool/f05", []byte(c.name))
			write(t, r.src, journal.File, c.edit())
			if s := r.runOnce("mqtt"); s.LastRun.Kind != "full" || s.LastResult == "unchanged" {
				t.Errorf("a journal %s was followed: %s, kind %q", c.name, s.LastResult, s.LastRun.Kind)
			}
			r.sameAsUpstream()
		})
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "keep" {
		t.Errorf("a file outside the tree was touched: %q, %v", b, err)
	}

	// An upstream truncated under a journal listing it all: rsync's cap
	// stops the deletions and what it deleted comes back.
	writeJournal(t, r.src, jr)
	r.runOnce("mqtt") // back on this journal
	before := testenv.Tree(t, r.dir())
	var all []string
	for i := range 50 {
		p := fmt.Sprintf("pool/f%02d", i)
		os.Remove(filepath.Join(r.src, p))
		all = append(all, p)
	}
	next(all...)
	if s := r.runOnce("mqtt"); s.State != status.Refused || s.LastRun.Kind != "" {
		t.Errorf("a journal deleting the tree: state %s (%s), kind %q", s.State, s.LastError, s.LastRun.Kind)
	}
	testenv.SameTree(t, testenv.Tree(t, r.dir()), before)
}

// writeFileList writes the tree's list in quick-fedora-mirror's format,
// as Fedora's create-filelist does: the newer of mtime and ctime, type,
// size, path; then checksums, which nodes do not read.
func writeFileList(t testing.TB, root, name string) {
	t.Helper()
	var lines []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		if err != nil || rel == "." || rel == name {
			return err
		}
		if d.IsDir() && d.Name() == journal.Dir {
			return filepath.SkipDir
		}
		fi, _ := os.Lstat(p)
		st := fi.Sys().(*syscall.Stat_t)
		typ := map[bool]string{true: "d", false: "f"}[fi.IsDir()]
		if fi.Mode()&fs.ModeSymlink != 0 {
			typ = "l"
		}
		lines = append(lines, fmt.Sprintf("%d\t%s\t%d\t%s", max(fi.ModTime().Unix(), st.Ctim.Sec), typ, fi.Size(), rel))
		return nil
	})
	slices.Sort(lines)
	// Dated now, as a list written now is: rsync's quick check (size and
	// mtime) is what tells a node's fetch that the list changed.
	listed++
	testenv.WriteFile(t, filepath.Join(root, name), []byte("[Version]\n3\n\n[Files]\n"+strings.Join(lines, "\n")+"\n\n[Checksums SHA1]\n\n[End]\n"),
		time.Now().Add(time.Duration(listed)*time.Second))
}

var listed int // lists written: each is dated a second after the one before

// TestFileListRuns: where the upstream publishes a quick-fedora-mirror
// file list and no journal, runs after the first transfer only what
// changed between the list of the last success and the fresh one; an
// unchanged list skips the run; a list cut short takes a full run; a list
// that omits a change is caught by the verifying run.
func TestFileListRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	const name = "fullfiletimelist-test"
	r := newRig(t, "testdistro", func(c *nodeconfig.Config) { c.Projects[0].FileList = ptr(name) })
	for i := range 30 {
		write(t, r.src, fmt.Sprintf("linux/%d/p%d.rpm", i%3, i), randBytes(500+i))
	}
	write(t, r.src, "linux/old/x.rpm", []byte("x"))
	writeFileList(t, r.src, name)
	r.start()
	if s := r.waitFor("first sync", 30*time.Second, runs(1)).Project; s.LastRun.Kind != "full" {
		t.Fatalf("first sync: kind %q", s.LastRun.Kind)
	}

	rewrite(t, r.src, "linux/1/p1.rpm", randBytes(900))
	write(t, r.src, "linux/3/new.rpm", randBytes(100))
	os.RemoveAll(filepath.Join(r.src, "linux/old"))
	os.Chmod(filepath.Join(r.src, "linux/2/p2.rpm"), 0o600)
	time.Sleep(1100 * time.Millisecond) // a new second, so the chmod's ctime shows in the list
	os.Chmod(filepath.Join(r.src, "linux/2/p2.rpm"), 0o640)
	writeFileList(t, r.src, name)
	s := r.runOnce("mqtt")
	if s.LastRun.Kind != "filelist" || s.LastRun.FilesTransferred > 4 || s.LastRun.FilesDeleted == 0 {
		t.Errorf("a file-list run: kind %q, %d transferred, %d deleted", s.LastRun.Kind, s.LastRun.FilesTransferred, s.LastRun.FilesDeleted)
	}
	r.sameAsUpstream()
	if s = r.runOnce("schedule"); s.LastResult != "unchanged" {
		t.Errorf("an unchanged list ran: %s", s.LastResult)
	}

	rewrite(t, r.src, "linux/0/p0.rpm", randBytes(901))
	writeFileList(t, r.src, name)
	b, _ := os.ReadFile(filepath.Join(r.src, name))
	testenv.WriteFile(t, filepath.Join(r.src, name), b[:len(b)*2/3], time.Now().Add(time.Hour))
	if s = r.runOnce("mqtt"); s.LastRun.Kind != "full" || s.LastResult == "unchanged" {
		t.Errorf("a list cut short: %s, kind %q", s.LastResult, s.LastRun.Kind)
	}
	r.sameAsUpstream()

	write(t, r.src, "linux/9/listed.rpm", randBytes(10))
	writeFileList(t, r.src, name)
	testenv.WriteFile(t, filepath.Join(r.src, "linux/0/p3.rpm"), randBytes(78), t0.Add(2*time.Hour)) // after the list
	if s = r.runOnce("mqtt"); s.LastRun.Kind != "filelist" {
		t.Errorf("kind %q", s.LastRun.Kind)
	}
	if got, _ := os.ReadFile(filepath.Join(r.dir(), "linux/0/p3.rpm")); len(got) == 78 {
		t.Error("the change the list omitted came anyway")
	}
	r.setStatus(func(p *status.Project) { p.LastVerified = time.Time{} })
	if s = r.runOnce("schedule"); s.LastRun.Kind != "full" {
		t.Errorf("verifying run: kind %q", s.LastRun.Kind)
	}
	r.sameAsUpstream()
}

func ptr[T any](v T) *T { return &v }
