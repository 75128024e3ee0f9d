package serve

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestListingRenderedOnce: a large directory is read and rendered once
// while it is unchanged, whatever query strings the requests carry (a
// 5,000-entry listing cost about 65 ms of CPU on every request), and
// again once a sync changed it.
func TestListingRenderedOnce(t *testing.T) {
	h, dir := cacheHandler(t, 0, 0)
	big := filepath.Join(dir, "big")
	os.MkdirAll(big, 0o755)
	for i := range 2000 {
		os.WriteFile(filepath.Join(big, fmt.Sprintf("file-%04d.deb", i)), nil, 0o644)
	}
	first := get(h, "GET", "/debian/big/").Body.String()
	for i := range 100 {
		w := get(h, "GET", fmt.Sprintf("/debian/big/?junk=%d&sort=bogus%d&order=%d", i, i, i))
		if w.Code != http.StatusOK || w.Body.String() != first {
			t.Fatalf("request %d: %d, %d bytes (first %d)", i, w.Code, w.Body.Len(), len(first))
		}
	}
	if head := get(h, "HEAD", "/debian/big/?x=1"); head.Header().Get("Content-Length") != fmt.Sprint(len(first)) {
		t.Errorf("HEAD Content-Length %s, GET %d", head.Header().Get("Content-Length"), len(first))
	}
	get(h, "GET", "/debian/big/?format=json")
	get(h, "GET", "/debian/big/?format=json&x=2")
	if n := h.listings.renders.Load(); n != 2 {
		t.Errorf("%d renderings for one directory in two formats, want 2", n)
	}
	// A sync adds a file: the directory changed, the listing follows.
	time.Sleep(10 * time.Millisecond) // a new mtime
	replace(t, big, "new.deb", []byte("x"), time.Now())
	if page := get(h, "GET", "/debian/big/?y").Body.String(); !strings.Contains(page, "new.deb") {
		t.Error("the new file is not listed")
	}
}

// TestListingCacheBounded: renderings past the cache's bytes are
// dropped, oldest first.
func TestListingCacheBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: the full suite (no -short) runs it")
	}
	h, dir := cacheHandler(t, 0, 0)
	h.listings.maxBytes = 256 << 10
	for d := range 12 {
		sub := filepath.Join(dir, fmt.Sprint(d))
		os.MkdirAll(sub, 0o755)
		for i := range 200 {
			os.WriteFile(filepath.Join(sub, fmt.Sprintf("a-rather-long-file-name-%04d.deb", i)), nil, 0o644)
		}
		get(h, "GET", fmt.Sprintf("/debian/%d/", d))
	}
	h.listings.mu.Lock()
	defer h.listings.mu.Unlock()
	if h.listings.bytes > h.listings.maxBytes || len(h.listings.entries) == 12 {
		t.Errorf("%d bytes in %d listings held, bound %d", h.listings.bytes, len(h.listings.entries), h.listings.maxBytes)
	}
}
