package migrate

import (
	"slices"
	"testing"
	"testing/fstest"
)

func TestPlan(t *testing.T) {
	files := fstest.MapFS{}
	for _, n := range []string{"001_init.sql", "002_system.sql", "003_usage.sql"} {
		files["migrations/"+n] = &fstest.MapFile{Data: []byte("--")}
	}
	for _, c := range []struct {
		name       string
		applied    []string
		legacy     int
		adopt, run []string
	}{
		{"a new database", nil, 0, nil, []string{"migrations/001_init.sql", "migrations/002_system.sql", "migrations/003_usage.sql"}},
		{"numbered to 2", nil, 2, []string{"migrations/001_init.sql", "migrations/002_system.sql"}, []string{"migrations/003_usage.sql"}},
		{"recorded by name, one new", []string{"migrations/001_init.sql", "migrations/002_system.sql"}, 2, nil, []string{"migrations/003_usage.sql"}},
		// A migration added before the newest one recorded still runs:
		// by position it would have been skipped.
		{"one added in the middle", []string{"migrations/001_init.sql", "migrations/003_usage.sql"}, 0, nil, []string{"migrations/002_system.sql"}},
		{"up to date", []string{"migrations/001_init.sql", "migrations/002_system.sql", "migrations/003_usage.sql"}, 3, nil, nil},
	} {
		applied := map[string]bool{}
		for _, n := range c.applied {
			applied[n] = true
		}
		adopt, run, err := Plan(files, applied, c.legacy)
		if err != nil || !slices.Equal(adopt, c.adopt) || !slices.Equal(run, c.run) {
			t.Errorf("%s: adopt %q run %q (%v); want %q %q", c.name, adopt, run, err, c.adopt, c.run)
		}
	}
	if _, _, err := Plan(files, nil, 4); err == nil {
		t.Error("a database numbered past this build's migrations was taken")
	}
}
