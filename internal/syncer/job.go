package syncer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"micromirror/internal/atomicfile"
	"micromirror/internal/catalog"
	"micromirror/internal/rsync"
	"micromirror/internal/status"
)

// run performs one sync of a project: lock, markers, guard, stages,
// freshness markers, status. It returns the result class so the loop can
// decide on a retry.
func (e *Engine) run(ctx context.Context, w *worker, reason string) rsync.Result {
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return rsync.Transient
	}
	defer func() { <-e.sem }()
	lock, err := lockFile(filepath.Join(e.set.StateDir, "locks"), w.plan.Name)
	if errors.Is(err, errLocked) {
		w.log.Info("skipped: " + err.Error())
		return rsync.Success
	}
	if err != nil {
		w.log.Error("sync", "err", err)
		return rsync.Transient
	}
	defer unlock(lock)
	j := &job{e: e, w: w, plan: w.plan, reason: reason, start: time.Now()}
	j.log, err = openRunLog(e.set.StateDir, w.plan.Name, j.start, e.set.Sync.KeepLogs)
	if err != nil {
		w.log.Warn("run log", "err", err)
	}
	defer j.log.close()
	defer w.progress.Store(nil)
	return j.do(ctx)
}

type job struct {
	e      *Engine
	w      *worker
	plan   Plan
	reason string
	start  time.Time
	log    *runLog
	st     status.Project
}

func (j *job) save() {
	j.w.mu.Lock()
	defer j.w.mu.Unlock()
	if err := j.e.store.Save(j.st); err != nil {
		j.w.log.Error("save status", "err", err)
	}
}

func (j *job) do(ctx context.Context) rsync.Result {
	st, err := j.e.store.Load(j.plan.Name)
	if err != nil {
		st = status.Project{Name: j.plan.Name}
	}
	j.st = st
	j.st.State, j.st.LastAttempt, j.st.Trigger = status.Syncing, j.start, j.reason
	j.save()
	j.log.printf("sync %s from %s (trigger: %s)", j.plan.Name, j.plan.Source, j.reason)
	if err := os.MkdirAll(j.plan.Dir, 0o755); err != nil {
		return j.fail(rsync.Fatal, err.Error())
	}
	s := j.e.set.Sync
	timeout, contimeout := int(s.Timeout.D().Seconds()), int(s.ConnectTimeout.D().Seconds())

	// Markers the upstream writes (Arch lastsync) are pulled on every run,
	// also a skipped one, so the checker's delay score never drifts.
	for _, m := range j.plan.UpstreamMarkers {
		if err := j.e.runner.Fetch(ctx, j.plan.markerURL(m), filepath.Join(j.plan.Dir, m), timeout, contimeout); err != nil {
			j.log.printf("upstream marker %s: %v", m, err)
			return j.fail(rsync.Transient, err.Error())
		}
	}
	marker := ""
	if j.plan.ChangeMarker != "" {
		j.w.stage.Store("checking")
		marker, err = j.fetchMarker(ctx, timeout, contimeout)
		if err != nil {
			j.log.printf("change marker: %v (running a full sync)", err)
		} else if marker == j.st.Marker && !j.st.LastSuccess.IsZero() && j.reason != "force" {
			return j.unchanged(fmt.Sprintf("upstream %s unchanged", j.plan.ChangeMarker))
		}
	}

	// The journal first: when it says nothing changed, the run costs the
	// upstream one small file.
	local := j.st.TreeEntries
	if local == 0 {
		local = countEntries(j.plan.Dir) // first run here, or status from before
	}
	jr := j.readJournal(ctx, timeout, contimeout)
	var fl *fileList
	if jr == nil {
		fl = j.readFileList(ctx, timeout, contimeout)
	}
	paths, full := j.changedPaths(jr, fl, local)
	if full == "" && len(paths) == 0 {
		if jr != nil {
			j.markJournal(jr)
			return j.unchanged(fmt.Sprintf("change journal at serial %d lists nothing new", jr.Head()))
		}
		fl.keep()
		return j.unchanged(fmt.Sprintf("file list %s unchanged", j.plan.FileList))
	}

	// The guards, without a dry run (a second file list from the upstream
	// on every run): cheap checks first, then rsync's own deletion cap and
	// a disk watch hold during the run itself.
	j.w.stage.Store("checking")
	if why := j.cheapChecks(ctx, local, full != "", timeout, contimeout); why != "" && j.reason != "force" {
		return j.refuse(why)
	}
	stages := j.stages()
	if full == "" {
		list, err := j.writePathList(paths)
		if err != nil {
			return j.fail(rsync.Fatal, err.Error())
		}
		if jr != nil {
			j.log.printf("change journal: %d paths up to serial %d", len(paths), jr.Head())
		} else {
			j.log.printf("file list %s: %d paths changed", j.plan.FileList, len(paths))
		}
		stages = j.listedStages(list)
	} else {
		j.log.printf("full run: %s", full)
		for i := range stages {
			// An initial sync (hours, where people watch the bar) lists
			// the whole tree first for a true percent and ETA; later
			// runs, short, recurse incrementally.
			stages[i].FullList = local <= 1
		}
	}
	runs, res, ok := j.transfer(ctx, stages, local)
	if !ok {
		return res
	}
	// Extra files after the tree: one that marks a change (KDE's
	// last-updated) never claims more than the tree holds.
	for _, f := range j.plan.Extra {
		if err := j.e.runner.Fetch(ctx, f.URL, f.Dest, timeout, contimeout); err != nil {
			j.log.printf("extra file %s: %v", f.URL, err)
			j.recordRun(runs, string(rsync.Transient))
			return j.fail(rsync.Transient, "extra file: "+err.Error())
		}
	}
	if err := j.writeTrace(runs); err != nil {
		j.log.printf("trace: %v", err)
	}
	treeBytes := int64(0)
	if j.st.LastRun != nil {
		treeBytes = j.st.LastRun.TreeBytes
	}
	j.recordRun(runs, string(res))
	j.st.State, j.st.LastResult, j.st.LastError = status.Idle, string(res), ""
	j.st.LastSuccess = time.Now()
	j.st.Runs++
	j.markJournal(jr)
	if fl != nil {
		if err := fl.keep(); err != nil {
			j.log.printf("file list: %v", err)
		}
	}
	switch {
	case full == "" && jr != nil:
		// A listed run's figures are of the listed paths, not the tree.
		j.st.LastRun.Kind, j.st.LastRun.TreeBytes = "journal", treeBytes
	case full == "":
		j.st.LastRun.Kind, j.st.LastRun.TreeBytes = "filelist", treeBytes
	default:
		j.st.LastRun.Kind, j.st.LastVerified = "full", j.st.LastSuccess
		if f := runs[len(runs)-1].Stats.Files; f > 0 {
			j.st.TreeEntries = f
		}
	}
	if marker != "" {
		j.st.Marker = marker
		j.st.LastRun.Serial = marker
	}
	j.save()
	lr := j.st.LastRun
	j.w.log.Info("synced", "bytes", lr.BytesReceived, "files", lr.FilesTransferred, "deleted", lr.FilesDeleted,
		"seconds", fmt.Sprintf("%.1f", lr.Seconds), "trigger", j.reason)
	return res
}

// opts are the rsync options of a pass over the whole tree, deleting or not.
func (j *job) opts(deleting bool) rsync.Options {
	s := j.e.set.Sync
	o := rsync.Options{
		Source: j.plan.Source, Dest: j.plan.Dir + "/",
		BytesPerSec: j.plan.BytesPerSec,
		TimeoutSec:  int(s.Timeout.D().Seconds()), ConnTimeout: int(s.ConnectTimeout.D().Seconds()),
		Exclude: j.plan.Exclude, Include: manifestIncludes(j.plan.Manifests),
		Protect: j.protected(), Delete: deleting, DeleteExcluded: deleting && j.plan.DeleteExcluded,
		Progress: true,
	}
	return o
}

// stages: apt-style repositories get packages first without deleting,
// then indices and deletions, so no index names a missing file.
func (j *job) stages() []rsync.Options {
	if j.plan.Stages != catalog.TwoStage {
		return []rsync.Options{j.opts(true)}
	}
	first := j.opts(false)
	first.Exclude = append(append([]string{}, first.Exclude...), j.plan.FirstStageExclude...)
	return []rsync.Options{first, j.opts(true)}
}

// protected are the files this node writes into the tree, which the
// upstream does not have and a deleting pass must keep.
func (j *job) protected() []string {
	if j.plan.TraceDir == "" {
		return nil
	}
	return []string{"/" + path.Join(j.plan.TraceDir, j.e.set.NodeName)}
}

func manifestIncludes(globs []string) []string {
	var out []string
	for _, g := range globs {
		out = append(out, path.Base(g))
	}
	return out
}

func (j *job) fetchMarker(ctx context.Context, timeout, contimeout int) (string, error) {
	dir := filepath.Join(j.e.set.StateDir, "markers")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dest := filepath.Join(dir, j.plan.Name)
	if err := j.e.runner.Fetch(ctx, j.plan.markerURL(j.plan.ChangeMarker), dest, timeout, contimeout); err != nil {
		return "", err
	}
	b, err := os.ReadFile(dest)
	return strings.TrimSpace(string(b)), err
}

// writeTrace writes the Debian-style trace file the mirror checkers read,
// project/trace/<node name>, atomically.
func (j *job) writeTrace(runs []*rsync.Run) error {
	if j.plan.TraceDir == "" {
		return nil
	}
	var b strings.Builder
	now := time.Now().UTC()
	fmt.Fprintf(&b, "%s\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Date: %s\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Date-Started: %s\n", j.start.UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Used ftpsync version: micromirror\n")
	fmt.Fprintf(&b, "Creator: micromirror\n")
	fmt.Fprintf(&b, "Running on host: %s\n", j.e.set.NodeName)
	fmt.Fprintf(&b, "Maintainer: %s\n", j.e.set.Contact)
	fmt.Fprintf(&b, "Sponsor: %s\n", j.e.set.Sponsor)
	fmt.Fprintf(&b, "Upstream-mirror: %s\n", hostOf(j.plan.Source))
	fmt.Fprintf(&b, "Trigger: %s\n", j.reason)
	var bytes int64
	for i, r := range runs {
		bytes += r.Stats.BytesReceived
		fmt.Fprintf(&b, "Total time spent in stage%d rsync: %d\n", i+1, int(r.Duration.Seconds()))
	}
	fmt.Fprintf(&b, "Total bytes received in rsync: %d\n", bytes)
	dir := filepath.Join(j.plan.Dir, j.plan.TraceDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, j.e.set.NodeName), []byte(b.String()), 0o644)
}

func hostOf(src string) string {
	s := strings.TrimPrefix(src, "rsync://")
	h, _, _ := strings.Cut(s, "/")
	return h
}

func (j *job) recordRun(runs []*rsync.Run, result string) {
	r := &status.Run{Started: j.start, Seconds: time.Since(j.start).Seconds(), Result: result}
	if len(runs) > 0 {
		r.TreeBytes = runs[len(runs)-1].Stats.TotalSize
	}
	for _, x := range runs {
		r.BytesReceived += x.Stats.BytesReceived
		r.FilesTransferred += x.Stats.Transferred
		r.FilesDeleted += x.Stats.Deleted
	}
	if r.Seconds > 0 {
		r.RateBytesPerSec = float64(r.BytesReceived) / r.Seconds
	}
	j.st.LastRun = r
}

// unchanged ends a run that found nothing to do.
func (j *job) unchanged(why string) rsync.Result {
	j.st.State, j.st.LastResult, j.st.LastError = status.Idle, "unchanged", ""
	j.st.Checks++
	j.st.LastCheck = time.Now()
	j.save()
	j.log.printf("%s: nothing to do", why)
	j.w.log.Info("upstream unchanged, run skipped", "why", why)
	return rsync.Success
}

func (j *job) fail(res rsync.Result, msg string) rsync.Result {
	j.st.State, j.st.LastResult, j.st.LastError = status.Failed, string(res), msg
	j.st.Failures++
	j.save()
	j.log.printf("failed (%s): %s", res, msg)
	j.w.log.Warn("sync failed", "result", res, "err", msg)
	return res
}

func (j *job) refuse(why string) rsync.Result {
	j.st.State, j.st.LastResult, j.st.LastError = status.Refused, "refused", why
	j.st.Refusals++
	j.save()
	j.log.printf("refused: %s", why)
	j.w.log.Error("sync refused", "why", why)
	return rsync.Fatal
}
