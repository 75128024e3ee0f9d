package serve

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func cacheHandler(t *testing.T, memory, maxBody int64) (*Handler, string) {
	t.Helper()
	dir := t.TempDir()
	h, err := New(Site{Name: "n.example.net"}, []Project{{Name: "debian", Path: "debian", Dir: dir}}, nil,
		Options{CacheBytes: memory, CacheMaxFile: maxBody}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h, dir
}

func get(h http.Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// replace writes a file as rsync does: a temp file renamed over the old.
func replace(t *testing.T, dir, name string, body []byte, mtime time.Time) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".XXXXXX")
	if err := os.WriteFile(tmp, body, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(tmp, mtime, mtime)
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// TestCacheAnswersAsTheFile: small files from memory, larger ones from
// the kept file, answer exactly as the uncached path (headers, ranges,
// conditions, HEAD).
func TestCacheAnswersAsTheFile(t *testing.T) {
	for _, size := range []int{100, 100 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			cached, dir := cacheHandler(t, 1<<20, 16<<10)
			plain, _ := New(Site{Name: "n.example.net"}, []Project{{Name: "debian", Path: "debian", Dir: dir}}, nil,
				Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			defer plain.Close()
			body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
			replace(t, dir, "InRelease", body, time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
			etag := get(plain, "GET", "/debian/InRelease").Header().Get("Etag")
			for i := 0; i < 3; i++ { // miss, admit, hit
				get(cached, "GET", "/debian/InRelease")
			}
			if st := cached.CacheStats(); st.Entries != 1 || st.Hits == 0 || (size > 16<<10) != (st.Open == 1) {
				t.Fatalf("cache stats %+v", st)
			}
			for _, req := range [][]string{
				{"GET"}, {"HEAD"},
				{"GET", "Range", "bytes=10-19"},
				{"GET", "Range", "bytes=0-1,5-6"},
				{"GET", "If-None-Match", etag},
				{"GET", "If-Modified-Since", "Wed, 04 Mar 2026 05:06:07 GMT"},
				{"GET", "If-Range", `"other"`, "Range", "bytes=0-1"},
			} {
				want := get(plain, req[0], "/debian/InRelease", req[1:]...)
				got := get(cached, req[0], "/debian/InRelease", req[1:]...)
				strip := regexp.MustCompile(`boundary=\w+|--\w+`)
				if got.Code != want.Code || strip.ReplaceAllString(got.Body.String(), "") != strip.ReplaceAllString(want.Body.String(), "") ||
					fmt.Sprint(headerOf(got)) != fmt.Sprint(headerOf(want)) {
					t.Errorf("%v: cached %d %v, file %d %v", req, got.Code, headerOf(got), want.Code, headerOf(want))
				}
			}
		})
	}
}

func headerOf(w *httptest.ResponseRecorder) http.Header {
	h := w.Header().Clone()
	if ct := h.Get("Content-Type"); strings.HasPrefix(ct, "multipart/") {
		h.Set("Content-Type", "multipart/byteranges")
	}
	h.Del("Content-Length") // multipart lengths differ with the boundary
	return h
}

// TestCacheNeverServesAReplacedFile: after rsync renames a new version in,
// the very next request gets it, for small and kept-open files alike.
func TestCacheNeverServesAReplacedFile(t *testing.T) {
	h, dir := cacheHandler(t, 1<<20, 1<<10)
	mt := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, name := range []string{"small", "large"} {
		size := 100
		if name == "large" {
			size = 4 << 10
		}
		for v := 0; v < 5; v++ {
			body := bytes.Repeat([]byte{byte('a' + v)}, size)
			replace(t, dir, name, body, mt) // same size and mtime: only the inode tells
			for i := 0; i < 3; i++ {
				if got := get(h, "GET", "/debian/"+name).Body.Bytes(); !bytes.Equal(got, body) {
					t.Fatalf("%s version %d request %d: served %q...", name, v, i, got[:4])
				}
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "gone")); err == nil {
		t.Fatal("fixture")
	}
	replace(t, dir, "gone", []byte("x"), mt)
	get(h, "GET", "/debian/gone")
	get(h, "GET", "/debian/gone")
	os.Remove(filepath.Join(dir, "gone"))
	if code := get(h, "GET", "/debian/gone").Code; code != http.StatusNotFound {
		t.Errorf("a deleted file answers %d", code)
	}
}

// TestCacheEvictionKeepsFilesInUse: a kept file evicted while a response
// reads it stays open until that response is done.
func TestCacheEvictionKeepsFilesInUse(t *testing.T) {
	h, dir := cacheHandler(t, 1<<20, 16)
	h.cache.maxOpen = 1
	body := bytes.Repeat([]byte("x"), 1000)
	replace(t, dir, "a", body, time.Now())
	replace(t, dir, "b", body, time.Now())
	get(h, "GET", "/debian/a")
	get(h, "GET", "/debian/a")
	e := h.cache.get("/debian/a") // a response using a's file
	if e == nil {
		t.Fatal("a not cached")
	}
	get(h, "GET", "/debian/b")
	get(h, "GET", "/debian/b") // evicts a
	if st := h.cache.stats(); st.Open != 1 || st.Evictions != 1 {
		t.Fatalf("stats %+v", st)
	}
	got := make([]byte, len(body))
	if n, err := e.file.ReadAt(got, 0); n != len(body) || err != nil {
		t.Fatalf("the evicted file was closed under its reader: %d %v", n, err)
	}
	e.release()
	if _, err := e.file.ReadAt(got, 0); err == nil {
		t.Error("the evicted file stays open after its last reader")
	}
}

// TestCacheUnderConcurrentReplacement: while a file is replaced again and
// again, every response is one whole version, never a mix or an error.
func TestCacheUnderConcurrentReplacement(t *testing.T) {
	h, dir := cacheHandler(t, 1<<20, 16<<10)
	versions := [][]byte{bytes.Repeat([]byte("A"), 50<<10), bytes.Repeat([]byte("B"), 50<<10),
		bytes.Repeat([]byte("C"), 3<<10), bytes.Repeat([]byte("D"), 3<<10)}
	replace(t, dir, "f", versions[0], time.Now())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp := get(h, "GET", "/debian/f")
				b := resp.Body.Bytes()
				ok := resp.Code == 200
				if ok {
					ok = false
					for _, v := range versions {
						ok = ok || bytes.Equal(b, v)
					}
				}
				if !ok {
					t.Errorf("response %d of %d bytes is no version", resp.Code, len(b))
					return
				}
			}
		}()
	}
	for i := 0; i < 300; i++ {
		replace(t, dir, "f", versions[i%len(versions)], time.Now())
	}
	close(stop)
	wg.Wait()
}
