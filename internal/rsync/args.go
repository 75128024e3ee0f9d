// Package rsync drives the system rsync binary as a client: it builds
// mirror-safe argument lists, runs transfers with progress and stall
// detection, classifies exit codes and parses --stats output. It never
// speaks the rsync protocol itself.
package rsync

import (
	"fmt"
	"strconv"

	"micromirror/internal/journal"
)

// Options describe one rsync pull.
type Options struct {
	Source string // rsync://host/module/path/ or host::module/path/
	Dest   string // local directory, with trailing slash
	// BytesPerSec paces the transfer (--bwlimit); 0 means unpaced.
	BytesPerSec int64
	TimeoutSec  int // --timeout: I/O silence before rsync gives up
	ConnTimeout int // --contimeout: daemon connection timeout
	Exclude     []string
	// Include are patterns always transferred, even when an exclude
	// matches (manifests the distros' checkers read).
	Include []string
	// Protect are receiver-side paths never deleted (markers the node writes).
	Protect []string
	Delete  bool // --delete-delay (and --delete-excluded when DeleteExcluded)
	// DeleteExcluded removes receiver files that excludes now hide.
	DeleteExcluded bool
	Progress       bool // --info=progress2 for live progress
	// MaxDelete is rsync's own cap on deletions (--max-delete) when
	// Capped; 0 then deletes nothing (rsync warns and exits 25).
	MaxDelete int
	Capped    bool
	// BackupDir receives what the run deletes or replaces (--backup
	// --backup-dir), so a refused run can be undone; empty: none.
	BackupDir string
	// FullList builds the whole file list before transferring, for a
	// progress total from the start (an initial sync's percent and ETA);
	// otherwise rsync recurses incrementally, which costs the upstream
	// less time and memory.
	FullList bool
	// FilesFrom names a file of NUL-separated paths, relative to the
	// source, to transfer instead of the whole tree (a journal run): each
	// listed path is made equal to the upstream's, without recursion. A
	// path the upstream lacks is skipped, or deleted when Delete is set
	// (a directory with what it holds).
	FilesFrom string
}

// Args returns the argv (without the program name) for a pull: recursive,
// links, permissions, times, hard links; unsafe symlinks dropped; new files
// moved into place at the end (--delay-updates) and deletions done after
// the transfer (--delete-delay), so the served tree changes in one short
// step and a failed run leaves it as it was.
func Args(o Options) []string {
	a := []string{"-rlptH"}
	if o.FilesFrom != "" {
		a = []string{"-lptH", "--dirs", "--files-from=" + o.FilesFrom, "--from0"}
	}
	a = append(a, "--safe-links", "--delay-updates", "--no-motd", "--stats",
		"--timeout="+strconv.Itoa(o.TimeoutSec),
		"--contimeout="+strconv.Itoa(o.ConnTimeout),
		// Never pull the upstream's own in-flight files, never delete ours;
		// the announcer's change journal is for nodes, not a mirrored file.
		"--filter=- .~tmp~/", "--filter=- .rsync-partial/", "--filter=- /"+journal.Dir+"/",
	)
	for _, p := range o.Protect {
		a = append(a, "--filter=P "+p)
	}
	for _, in := range o.Include {
		a = append(a, "--filter=+ "+in)
	}
	for _, e := range o.Exclude {
		a = append(a, "--filter=- "+e)
	}
	switch {
	case o.FilesFrom != "" && o.Delete:
		a = append(a, "--delete-missing-args", "--force")
	case o.FilesFrom != "":
		a = append(a, "--ignore-missing-args")
	case o.Delete:
		a = append(a, "--delete-delay")
		if o.DeleteExcluded {
			a = append(a, "--delete-excluded")
		}
	}
	if o.Delete {
		if o.Capped {
			a = append(a, fmt.Sprintf("--max-delete=%d", max(o.MaxDelete, 0)))
		}
		if o.BackupDir != "" {
			a = append(a, "--backup", "--backup-dir="+o.BackupDir)
		}
	}
	if o.BytesPerSec > 0 {
		// rsync's "KB" suffix is 1000 bytes; keep at least 1.
		a = append(a, fmt.Sprintf("--bwlimit=%dKB", max(o.BytesPerSec/1000, 1)))
	}
	if o.Progress {
		a = append(a, "--info=progress2")
		if o.FullList {
			// Without incremental recursion the total is known up front,
			// so progress2's percentage and the ETA mean something.
			a = append(a, "--no-inc-recursive")
		}
	}
	return append(a, o.Source, o.Dest)
}
