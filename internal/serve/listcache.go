package serve

import (
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// listingCache keeps rendered directory listings, so a large directory
// (5,000 entries cost about 65 ms of CPU to read and render) is rendered
// once while it is unchanged, not for every request, whatever its query
// string says: the variants are the few the query can choose (HTML or
// JSON, sort key, order), anything else reads as the default. A listing
// is reused while the directory is the same (device, inode, mtime, ctime:
// a sync renaming files into it changes them) and for at most
// listingTTL, which bounds how stale a size can look after a file was
// rewritten in place. The cache is bounded in bytes; concurrent requests
// for one listing wait for a single rendering.
type listingCache struct {
	maxBytes int // listingMaxBytes; smaller in tests

	mu      sync.Mutex // guards entries, bytes
	entries map[listingKey]*listing
	bytes   int
	renders atomic.Uint64
}

// Bounds of the listing cache.
const (
	listingTTL      = 10 * time.Second
	listingMaxBytes = 16 << 20 // renderings held at most
	listingMaxOne   = 4 << 20  // a larger rendering is not kept
)

type listingKey struct {
	tree    *tree
	rel     string
	variant listingVariant
}

// listingVariant is what the query and Accept header choose.
type listingVariant struct {
	json bool
	sort string // "", "size" or "time"
	desc bool
}

func variantOf(json bool, sort, order string) listingVariant {
	if sort != "size" && sort != "time" {
		sort = "" // by name, as any other value sorts
	}
	return listingVariant{json: json, sort: sort, desc: order == "desc"}
}

// listing is one rendering; body and err are set before ready closes.
type listing struct {
	dir   dirID
	made  time.Time
	ready chan struct{}
	body  []byte
	err   error
}

// dirID is what changes when a directory's entries change.
type dirID struct {
	dev, ino     uint64
	mtime, ctime unix.Timespec
}

func dirIDOf(f *os.File) (dirID, bool) {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return dirID{}, false
	}
	return dirID{dev: st.Dev, ino: st.Ino, mtime: st.Mtim, ctime: st.Ctim}, true
}

func newListingCache() *listingCache {
	return &listingCache{maxBytes: listingMaxBytes, entries: map[listingKey]*listing{}}
}

// get returns the rendering for key of the directory open as dir, made by
// render if there is none still valid.
func (c *listingCache) get(key listingKey, dir *os.File, render func() ([]byte, error)) ([]byte, error) {
	id, ok := dirIDOf(dir)
	if !ok {
		return render()
	}
	now := time.Now()
	c.mu.Lock()
	e := c.entries[key]
	if e != nil && (e.dir != id || now.Sub(e.made) > listingTTL) {
		select {
		case <-e.ready: // done and stale: replace it
			c.drop(key, e)
			e = nil
		default: // still being made: take it
		}
	}
	if e != nil {
		c.mu.Unlock()
		<-e.ready
		return e.body, e.err
	}
	e = &listing{dir: id, made: now, ready: make(chan struct{})}
	c.entries[key] = e
	c.mu.Unlock()

	c.renders.Add(1)
	e.body, e.err = render()
	close(e.ready)
	c.mu.Lock()
	if c.entries[key] == e {
		if e.err != nil || len(e.body) > listingMaxOne {
			delete(c.entries, key)
		} else {
			c.bytes += len(e.body)
			c.evict(key)
		}
	}
	c.mu.Unlock()
	return e.body, e.err
}

// drop removes a finished entry. Called with mu held.
func (c *listingCache) drop(key listingKey, e *listing) {
	delete(c.entries, key)
	c.bytes -= len(e.body)
}

// evict drops finished entries other than keep, oldest of a few sampled
// first, until the cache is within its bytes. Called with mu held.
func (c *listingCache) evict(keep listingKey) {
	for c.bytes > c.maxBytes {
		var victim *listing
		var victimKey listingKey
		n := 0
		for k, e := range c.entries {
			select {
			case <-e.ready:
			default:
				continue
			}
			if k == keep {
				continue
			}
			if victim == nil || e.made.Before(victim.made) {
				victim, victimKey = e, k
			}
			if n++; n == 8 {
				break
			}
		}
		if victim == nil {
			return
		}
		c.drop(victimKey, victim)
	}
}
