package serve

import (
	"hash/maphash"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// fileCache keeps what it takes to answer for often requested files
// without opening them: the response headers, and either the body (small
// files: the answer is one write) or the open file (larger ones: its body
// goes out with sendfile(2) at an offset, so every request shares the one
// descriptor). A hit costs one stat(2) of the path instead of the openat,
// fstat and close of every component of it. Every hit is checked against
// the file as it is now (device, inode, size, mtime, ctime): rsync
// replaces files by rename, and a changed file is never served from the
// cache, not even for the instant between a sync's rename and its end.
type fileCache struct {
	limit    int64 // bytes of bodies held at most
	maxBody  int64 // larger files are kept open, not in memory
	maxOpen  int   // open files held at most
	maxEntry int64 // larger files are not cached at all

	mu      sync.Mutex // guards entries, seen, size, open
	entries map[string]*cached
	// seen admits a file on its second request, so one pass of a crawler
	// over a tree does not churn the cache; it is cleared when full. It
	// holds hashes of the paths, not the paths: a client chooses them.
	seen     map[uint64]struct{}
	seenSeed maphash.Seed
	size     int64 // bytes held: bodies, keys and each entry's own
	open     int

	hits, misses, evictions atomic.Uint64
}

// Bounds that hold whatever paths clients ask for: the admission set's
// entries, and what an entry costs beyond its body (its key and its
// headers), so even empty files fill the cache's memory.
const (
	maxSeen       = 1 << 16
	entryOverhead = 512
)

// cached is a file in the cache. Immutable once stored; the header
// slices are shared by every response and never modified. file is held
// by reference count: the cache's own reference and one per response
// using it, so eviction never closes a file a response still reads.
type cached struct {
	tree *tree
	rel  string
	id   fileID
	body []byte   // small files
	file *os.File // larger files
	head fileHead

	used atomic.Int64 // unix seconds of the last hit, for eviction
	refs atomic.Int32
}

// serve answers a request from the entry, as from the file.
func (e *cached) serve(w http.ResponseWriter, r *http.Request) {
	serveFile(w, r, &e.head, e.file, e.body)
}

// acquire takes a reference; false once the entry's file is closed.
func (e *cached) acquire() bool {
	for {
		n := e.refs.Load()
		if n <= 0 {
			return false
		}
		if e.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference; the last one closes the file.
func (e *cached) release() {
	if e.refs.Add(-1) == 0 && e.file != nil {
		e.file.Close()
	}
}

// fileID is what changes whenever a file's bytes can have changed.
type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime unix.Timespec
}

func idOf(st *unix.Stat_t) fileID {
	return fileID{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim, ctime: st.Ctim}
}

// Header values shared by every cached response.
var (
	acceptRanges = []string{"bytes"}
	noSniff      = []string{"nosniff"}
)

// Defaults for what the configuration leaves open.
const (
	defaultMaxBody = 16 << 10  // past this a copy costs more than sendfile's extra call
	defaultMaxOpen = 512       // open files the cache may hold
	defaultEntry   = 256 << 20 // files larger than this are streamed as they come
)

func newFileCache(limit, maxBody int64) *fileCache {
	if limit <= 0 {
		return nil
	}
	if maxBody <= 0 {
		maxBody = defaultMaxBody
	}
	return &fileCache{limit: limit, maxBody: min(maxBody, limit), maxOpen: defaultMaxOpen, maxEntry: defaultEntry,
		entries: map[string]*cached{}, seen: map[uint64]struct{}{}, seenSeed: maphash.MakeSeed()}
}

// get returns the entry for a URL path, with a reference the caller must
// release, if the file there is still the one cached; a changed or
// vanished file's entry is dropped.
func (c *fileCache) get(urlPath string) *cached {
	c.mu.Lock()
	e := c.entries[urlPath]
	c.mu.Unlock()
	if e == nil || !e.acquire() {
		c.misses.Add(1)
		return nil
	}
	var st unix.Stat_t
	// Following symlinks is safe here: the entry was opened through the
	// project's os.Root, and only that same inode counts as a hit.
	if unix.Fstatat(e.tree.dirfd, e.rel, &st, 0) != nil || idOf(&st) != e.id {
		e.release()
		c.drop(urlPath, e)
		c.misses.Add(1)
		return nil
	}
	c.hits.Add(1)
	e.used.Store(coarseNow())
	return e
}

// admit says whether a file is worth caching: not too large, and
// requested before.
func (c *fileCache) admit(urlPath string, size int64) bool {
	if size > c.maxEntry {
		return false
	}
	h := maphash.String(c.seenSeed, urlPath)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.seen[h]; ok {
		return true
	}
	if len(c.seen) >= maxSeen {
		clear(c.seen)
	}
	c.seen[h] = struct{}{}
	return false
}

// load caches an open regular file and returns its entry with a
// reference for the caller. A small file is read into memory (the caller
// still closes f); a larger one is kept open, and f then belongs to the
// entry (kept reports it). It gives up (nil) if the file changed while it
// was read.
func (c *fileCache) load(urlPath string, t *tree, rel string, f *os.File, fi os.FileInfo) (e *cached, kept bool) {
	var before, after unix.Stat_t
	if unix.Fstat(int(f.Fd()), &before) != nil || before.Size != fi.Size() {
		return nil, false
	}
	e = &cached{tree: t, rel: rel, id: idOf(&before), head: headOf(fi)}
	if before.Size <= c.maxBody {
		e.body = make([]byte, before.Size)
		if n, _ := f.ReadAt(e.body, 0); int64(n) != before.Size {
			return nil, false
		}
		if unix.Fstat(int(f.Fd()), &after) != nil || idOf(&after) != idOf(&before) {
			return nil, false
		}
	} else {
		e.file = f
	}
	e.refs.Store(2) // the cache's and the caller's
	e.used.Store(coarseNow())
	c.mu.Lock()
	if old := c.entries[urlPath]; old != nil {
		c.forget(urlPath, old)
	}
	c.entries[urlPath] = e
	c.size += e.cost(urlPath)
	if e.file != nil {
		c.open++
	}
	c.evict(urlPath)
	c.mu.Unlock()
	return e, e.file != nil
}

// evict drops entries until the cache is within its limits: of a few
// sampled entries (map order is random), the one used longest ago, never
// the one just loaded (keep), which would otherwise lose ties with
// entries used in the same second. Called with mu held.
func (c *fileCache) evict(keep string) {
	for (c.size > c.limit || c.open > c.maxOpen) && len(c.entries) > 1 {
		var victimKey string
		var victim *cached
		n := 0
		for k, e := range c.entries {
			if k == keep {
				continue
			}
			if victim == nil || e.used.Load() < victim.used.Load() {
				victimKey, victim = k, e
			}
			if n++; n == 8 {
				break
			}
		}
		delete(c.entries, victimKey)
		c.forget(victimKey, victim)
		c.evictions.Add(1)
	}
}

// cost is what an entry stored under key takes of the cache's memory.
func (e *cached) cost(key string) int64 {
	return int64(len(e.body) + len(key) + len(e.rel) + entryOverhead)
}

// forget accounts for an entry leaving the map and drops the cache's
// reference. Called with mu held.
func (c *fileCache) forget(key string, e *cached) {
	c.size -= e.cost(key)
	if e.file != nil {
		c.open--
	}
	e.release()
}

func (c *fileCache) drop(urlPath string, e *cached) {
	c.mu.Lock()
	if c.entries[urlPath] == e {
		delete(c.entries, urlPath)
		c.forget(urlPath, e)
	}
	c.mu.Unlock()
}

// close drops every entry; files in use close when their responses end.
func (c *fileCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		delete(c.entries, k)
		c.forget(k, e)
	}
}

// CacheStats are the file cache's counters.
type CacheStats struct {
	Hits, Misses, Evictions uint64
	Entries, Open           int
	Bytes                   int64
}

func (c *fileCache) stats() CacheStats {
	if c == nil {
		return CacheStats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load(),
		Entries: len(c.entries), Open: c.open, Bytes: c.size}
}

// coarseNow is the time in seconds, enough to tell recent use from old.
func coarseNow() int64 { return time.Now().Unix() }
