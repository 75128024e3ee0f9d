// Package status keeps each project's sync status on disk in state_dir, so
// the serving side, the admin API and a restarted node all read one truth.
package status

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"micromirror/internal/atomicfile"
)

// States of a project.
const (
	Idle        = "idle"
	Syncing     = "syncing"
	Failed      = "failed"  // last run failed; a retry is scheduled
	Refused     = "refused" // a guard refused the last run
	Interrupted = "interrupted"
)

// Project is the durable sync status of one project.
type Project struct {
	Name        string    `json:"name"`
	State       string    `json:"state"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastCheck   time.Time `json:"last_check,omitzero"`
	LastResult  string    `json:"last_result,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	Trigger     string    `json:"trigger,omitempty"` // what started the last run
	LastRun     *Run      `json:"last_run,omitempty"`
	// Marker is the upstream change marker's content at the last success.
	Marker string `json:"marker,omitempty"`
	// TreeEntries is the tree's entries after the last success (rsync's
	// "Number of files"): what the deletion guard's share is of.
	TreeEntries int64 `json:"tree_entries,omitempty"`
	// Journal is where the tree stands in the upstream's change journal
	// after the last success; nil: unknown, the next run is a full one.
	Journal *JournalMark `json:"journal,omitempty"`
	// LastVerified is the last success of a full run, which compares the
	// whole tree (a journal run looks only at the paths listed).
	LastVerified time.Time `json:"last_verified,omitzero"`
	// Counters since the project was first synced here.
	Runs     uint64 `json:"runs"`
	Checks   uint64 `json:"checks"` // runs skipped because nothing changed
	Failures uint64 `json:"failures"`
	Refusals uint64 `json:"refusals"`
}

// JournalMark is a serial of one change journal.
type JournalMark struct {
	ID     string `json:"id"`
	Serial int64  `json:"serial"`
}

// Run is the record of one sync run.
type Run struct {
	Started          time.Time `json:"started"`
	Seconds          float64   `json:"seconds"`
	BytesReceived    int64     `json:"bytes_received"`
	FilesTransferred int64     `json:"files_transferred"`
	FilesDeleted     int64     `json:"files_deleted"`
	RateBytesPerSec  float64   `json:"rate_bytes_per_sec"`
	Result           string    `json:"result"`
	// TreeBytes is the size of the mirrored tree after the run (rsync's
	// "Total file size").
	TreeBytes int64 `json:"tree_bytes,omitempty"`
	// Serial is the upstream change marker's content the run synced to.
	Serial string `json:"serial,omitempty"`
	// Kind is "journal" for a run of the journal's paths, "full" for a
	// run over the whole tree.
	Kind string `json:"kind,omitempty"`
}

// Store reads and writes status files under a directory. Each Save is
// atomic (temp, fsync, rename), so readers never see half a file; callers
// serialise writers of one project themselves.
type Store struct {
	dir string
}

// NewStore returns a store under dir (created on first Save).
func NewStore(dir string) *Store { return &Store{dir: dir} }

func (s *Store) path(name string) string { return filepath.Join(s.dir, name+".json") }

// Load returns the status of a project; a project never synced has a zero
// status and no error.
func (s *Store) Load(name string) (Project, error) {
	b, err := os.ReadFile(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return Project{Name: name, State: Idle}, nil
	}
	if err != nil {
		return Project{}, fmt.Errorf("read status %s: %w", name, err)
	}
	var p Project
	if err := json.Unmarshal(b, &p); err != nil {
		return Project{}, fmt.Errorf("decode status %s: %w", name, err)
	}
	p.Name = name
	return p, nil
}

// Save writes a project's status durably.
func (s *Store) Save(p Project) error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("create status dir: %w", err)
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(s.path(p.Name), append(b, '\n'), 0o644)
}
