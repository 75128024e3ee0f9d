package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"micromirror/internal/watchtower"
	"micromirror/internal/watchtower/storetest"
)

func TestConformance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wt.db")
	storetest.Run(t, func(t *testing.T) watchtower.Store {
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
