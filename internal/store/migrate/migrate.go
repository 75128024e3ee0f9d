// Package migrate is the watchtower stores' migration policy: each
// migration is recorded by its file name when applied, so a migration is
// never skipped or applied twice because the list changed around it (as
// numbering by position in a sorted list allowed).
package migrate

import (
	"fmt"
	"io/fs"
	"slices"
)

// Table is the record of applied migrations, in both stores.
const Table = "schema_migrations"

// Plan says what to do with a database: adopt are the names to record as
// applied without running them (a database the position-numbered scheme
// migrated to version legacy: its first legacy files ran), run the names
// to apply, in order. applied are the names recorded already.
func Plan(files fs.FS, applied map[string]bool, legacy int) (adopt, run []string, err error) {
	names, err := fs.Glob(files, "migrations/*.sql")
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(names)
	if legacy > len(names) {
		return nil, nil, fmt.Errorf("the database is at schema version %d, this build knows %d migrations: a newer watchtower made it", legacy, len(names))
	}
	if len(applied) == 0 {
		adopt = names[:legacy]
	}
	for _, n := range names {
		if !applied[n] && !slices.Contains(adopt, n) {
			run = append(run, n)
		}
	}
	return adopt, run, nil
}
