package syncer

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestLockFile: a project's lock is held by one holder at a time (flock
// is per open file, so a second lockFile in one process stands in for
// another process); once released it can be taken again; projects lock
// apart.
func TestLockFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "locks") // made on first use
	first, err := lockFile(dir, "debian")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockFile(dir, "debian"); !errors.Is(err, errLocked) {
		t.Fatalf("second lock of a held project: %v, want errLocked", err)
	}
	other, err := lockFile(dir, "ubuntu")
	if err != nil {
		t.Fatalf("another project is not held: %v", err)
	}
	unlock(other)
	unlock(first)
	again, err := lockFile(dir, "debian")
	if err != nil {
		t.Fatalf("the lock after its release: %v", err)
	}
	unlock(again)
}
