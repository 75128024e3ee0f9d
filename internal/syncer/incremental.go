package syncer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"micromirror/internal/atomicfile"
	"micromirror/internal/journal"
	"micromirror/internal/rsync"
	"micromirror/internal/status"
)

// maxJournalSkew is how far in the future a journal's newest serial may
// be dated (clocks differ) before the journal is refused.
const maxJournalSkew = 10 * time.Minute

// journalURL is where the upstream's announcer keeps the change journal
// of the module the source is in.
func (p Plan) journalURL() string {
	return "rsync://" + hostOf(p.Source) + "/" + moduleOf(p.Source) + "/" + journal.File
}

// subPath is the source's directory inside its module ("" at the top).
func (p Plan) subPath() string {
	rest := strings.TrimPrefix(p.Source, "rsync://")
	_, rest, _ = strings.Cut(rest, "/")
	_, sub, _ := strings.Cut(rest, "/")
	return strings.Trim(sub, "/")
}

// readJournal fetches and checks the upstream's change journal. It
// returns nil, with the reason in the run log, when there is none or it
// is refused: the run is then a full one.
func (j *job) readJournal(ctx context.Context, timeout, contimeout int) *journal.Journal {
	if !j.plan.Journal {
		return nil
	}
	dir := filepath.Join(j.e.set.StateDir, "markers")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		j.log.printf("change journal: %v", err)
		return nil
	}
	dest := filepath.Join(dir, j.plan.Name+".journal")
	os.Remove(dest) // never read an earlier fetch's journal the upstream no longer has
	err := j.e.runner.Fetch(ctx, j.plan.journalURL(), dest, timeout, contimeout, fmt.Sprintf("--max-size=%d", journal.MaxBytes))
	if err != nil {
		j.log.printf("no change journal: %v", err)
		return nil
	}
	b, err := os.ReadFile(dest) // absent when --max-size skipped it
	if err != nil {
		j.log.printf("no change journal: %v", err)
		return nil
	}
	jr, err := journal.Parse(bytes.NewReader(b))
	switch {
	case err != nil:
		j.log.printf("change journal refused: %v", err)
		return nil
	case jr.Module != moduleOf(j.plan.Source):
		j.log.printf("change journal refused: it is module %q's, the source is in %q", jr.Module, moduleOf(j.plan.Source))
		return nil
	case len(jr.Serials) > 0 && jr.Serials[len(jr.Serials)-1].Time.After(time.Now().Add(maxJournalSkew)):
		j.log.printf("change journal refused: its newest serial is dated %s, in the future", jr.Serials[len(jr.Serials)-1].Time)
		return nil
	}
	return jr
}

// changedPaths says whether this run can go by the journal or the file
// list: the paths to transfer (none: nothing changed since the tree's
// last success), or why the run must be a full one.
func (j *job) changedPaths(jr *journal.Journal, fl *fileList, local int64) ([]string, string) {
	verify := j.e.set.Sync.VerifyEvery.D()
	limit := max(1000, int(local/2)) // beyond, a full run costs no more
	switch {
	case jr == nil && fl == nil:
		return nil, "no change journal"
	case j.reason == "force":
		return nil, "a forced run"
	case local <= 1:
		return nil, "an initial sync"
	case time.Since(j.st.LastVerified) >= verify:
		return nil, fmt.Sprintf("the verifying run (every %s)", verify)
	case jr == nil:
		return fl.paths(j.plan.FileList, limit)
	case j.st.Journal == nil:
		return nil, "no journal serial recorded yet"
	}
	paths, why := jr.Since(j.st.Journal.ID, j.st.Journal.Serial)
	if why != "" {
		return nil, why
	}
	paths = journal.Under(paths, j.plan.subPath())
	if len(paths) > limit {
		return nil, fmt.Sprintf("the journal lists %d paths, a full run costs less", len(paths))
	}
	return paths, ""
}

// listedStages are the plan's stages over the listed paths alone, each
// transferring without deleting, then one pass that deletes the listed
// paths the upstream no longer has: as in a full run, indices land after
// packages and deletions after both.
func (j *job) listedStages(list string) []rsync.Options {
	var out []rsync.Options
	for _, o := range j.stages() {
		o.Delete, o.DeleteExcluded, o.FilesFrom = false, false, list
		out = append(out, o)
	}
	last := out[len(out)-1]
	last.Delete = true
	return append(out, last)
}

// writePathList writes paths NUL-separated, for rsync's --files-from
// --from0: any byte of a name but NUL survives.
func (j *job) writePathList(paths []string) (string, error) {
	p := filepath.Join(j.e.set.StateDir, "markers", j.plan.Name+".files")
	var b bytes.Buffer
	for _, x := range paths {
		b.WriteString(x)
		b.WriteByte(0)
	}
	return p, atomicfile.Write(p, b.Bytes(), 0o644)
}

// markJournal records where the tree now stands in the journal.
func (j *job) markJournal(jr *journal.Journal) {
	if jr == nil {
		j.st.Journal = nil
		return
	}
	j.st.Journal = &status.JournalMark{ID: jr.ID, Serial: jr.Head()}
}
