package postgres

import (
	"context"
	"testing"

	"micromirror/internal/testenv"
	"micromirror/internal/watchtower"
	"micromirror/internal/watchtower/storetest"
)

func TestConformance(t *testing.T) {
	url := testenv.StartPostgres(t)
	storetest.Run(t, func(t *testing.T) watchtower.Store {
		s, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
