package serve

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestETagSameAcrossNodes: two nodes hold the same file as rsync left it
// (same bytes, size and mtime, different inodes): its ETag is the same on
// both, so a client that moves between the fleet's nodes revalidates
// with a 304, as nginx's ETag (mtime and size) allows. A change of size or
// mtime changes it.
func TestETagSameAcrossNodes(t *testing.T) {
	dir := t.TempDir()
	mtime := time.Date(2026, 11, 30, 8, 15, 0, 123456789, time.UTC)
	write := func(name, body string, at time.Time) os.FileInfo {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	a, b := write("node-a", "InRelease\n", mtime), write("node-b", "InRelease\n", mtime)
	if etag(a) != etag(b) {
		t.Errorf("the same file on two nodes has ETags %s and %s", etag(a), etag(b))
	}
	if c := write("longer", "InRelease!\n", mtime); etag(c) == etag(a) {
		t.Errorf("a different size keeps ETag %s", etag(c))
	}
	if d := write("later", "InRelease\n", mtime.Add(time.Nanosecond)); etag(d) == etag(a) {
		t.Errorf("a different mtime keeps ETag %s", etag(d))
	}
}
