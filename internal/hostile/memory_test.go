package hostile_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// flood sends the requests over a few kept-alive connections at once,
// pipelined, and counts the answers by status class.
func flood(t *testing.T, addr string, paths []string) map[int]int {
	t.Helper()
	const conns = 8
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []string
			for i := w; i < len(paths); i += conns {
				mine = append(mine, paths[i])
			}
			for len(mine) > 0 {
				batch := mine[:min(len(mine), 500)] // under the 1,000 a connection serves
				mine = mine[len(batch):]
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Error(err)
					return
				}
				c.SetDeadline(time.Now().Add(60 * time.Second))
				go func() {
					bw := bufio.NewWriter(c)
					for _, p := range batch {
						fmt.Fprintf(bw, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", p)
					}
					bw.Flush()
				}()
				br := bufio.NewReader(c)
				for range batch {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Errorf("flood: %v", err)
						break
					}
					io.Copy(io.Discard, resp.Body)
					mu.Lock()
					counts[resp.StatusCode/100*100]++
					mu.Unlock()
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	return counts
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestDistinctPathsDoNotGrowMemory: what the node keeps per path (its
// file cache, the top paths it reports) is bounded in entries and bytes,
// whatever names clients ask for. 20,000 requests for distinct long
// paths took a node from 31 to 334 MiB resident, 40,000 more for one
// cached empty file under as many names to 941 MiB, and it kept them.
func TestDistinctPathsDoNotGrowMemory(t *testing.T) {
	tg := startTarget(t, nil)
	before := heapInUse()
	var paths []string
	for i := range 20000 {
		// One existing file under long, distinct names (200s count as
		// top paths).
		paths = append(paths, "/debian/"+strings.Repeat("/", 1000+i%6000)+fmt.Sprintf("kib?%d", i))
	}
	for i := range 40000 {
		// The empty file, cached, under 40,000 names.
		paths = append(paths, "/debian/"+strings.Repeat("./", 1+i%200)+strings.Repeat("/", i/200)+"empty")
	}
	counts := flood(t, tg.http, paths)
	if counts[200] != len(paths) {
		t.Fatalf("answers by class: %v", counts)
	}
	after := heapInUse()
	grown := (int64(after) - int64(before)) >> 20
	t.Logf("heap in use: %d MiB before, %d MiB after %d requests", before>>20, after>>20, len(paths))
	// The bounds: the cache's 32 MB, the top paths' 4 MiB, the
	// listings' 16 MiB; what is left is pools and runtime.
	if grown > 64 {
		t.Errorf("the heap grew by %d MiB", grown)
	}
}
