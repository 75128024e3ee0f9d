package syncer

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// runLog is the per-run log file: state_dir/logs/<project>/<start>.log,
// with a "latest" link and only the newest keep files kept.
type runLog struct {
	f *os.File
}

func openRunLog(stateDir, project string, start time.Time, keep int) (*runLog, error) {
	dir := filepath.Join(stateDir, "logs", project)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	name := start.UTC().Format("20060102T150405.000Z") + ".log"
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	latest := filepath.Join(dir, "latest")
	tmp := latest + ".tmp"
	os.Remove(tmp)
	if err := os.Symlink(name, tmp); err == nil {
		os.Rename(tmp, latest)
	}
	prune(dir, keep)
	return &runLog{f: f}, nil
}

func (l *runLog) printf(format string, args ...any) {
	if l == nil {
		return
	}
	fmt.Fprintf(l.f, "%s %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

func (l *runLog) close() {
	if l != nil {
		l.f.Close()
	}
}

func prune(dir string, keep int) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var logs []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".log") {
			logs = append(logs, e.Name())
		}
	}
	sort.Strings(logs) // names are timestamps
	for len(logs) > keep {
		os.Remove(filepath.Join(dir, logs[0]))
		logs = logs[1:]
	}
}
