package query

import (
	"encoding/json"
	"time"

	"micromirror/internal/watchtower"
)

// ProjectStates reads each node's projects: node, project,
// last_success_unix, last_result, last_run_unix, tree_bytes, serial,
// failures, triggers.
const ProjectStates = `SELECT node, project, last_success_unix, last_result, last_run_unix, tree_bytes, serial, failures, triggers
	FROM project_state ORDER BY node, project`

// ScanProject reads a row of ProjectStates.
func ScanProject(r Scanner) (node string, p watchtower.ProjectSummary, err error) {
	var ok, run, failures int64
	var triggers string
	err = r.Scan(&node, &p.Project, &ok, &p.LastResult, &run, &p.TreeBytes, &p.Serial, &failures, &triggers)
	p.LastSuccess, p.LastRun, p.Failures = Time(ok), time.Unix(run, 0).UTC(), int(failures)
	if triggers != "" && json.Unmarshal([]byte(triggers), &p.Triggers) != nil {
		p.Triggers = nil // written by Ingest only; unreadable, the catalog's count
	}
	return node, p, err
}

// triggersColumn is a run's triggers as the column keeps them: "" for
// none reported (the stored ones stay).
func triggersColumn(t []string) string {
	if len(t) == 0 {
		return ""
	}
	b, _ := json.Marshal(t)
	return string(b)
}
