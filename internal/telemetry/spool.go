package telemetry

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"micromirror/internal/atomicfile"
)

// Spool is the on-disk queue of batches waiting for the watchtower. Every
// batch is written (gzip, temp+fsync+rename) before any push, so neither a
// watchtower outage nor a node restart loses one; past max files the oldest
// are dropped and counted.
type Spool struct {
	dir string
	max int

	mu      sync.Mutex // guards seq and dropped, and file creation
	seq     uint64
	dropped uint64
}

// OpenSpool opens (creates) a spool; the sequence continues from the
// highest batch ever written, kept in dir/seq.
func OpenSpool(dir string, max int) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{dir: dir, max: max}
	if b, err := os.ReadFile(filepath.Join(dir, "seq")); err == nil {
		fmt.Sscanf(string(b), "%d %d", &s.seq, &s.dropped)
	}
	for _, q := range s.list() {
		s.seq = max64(s.seq, q)
	}
	return s, nil
}

func max64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// Add assigns the next sequence number to b, writes it and returns it.
func (s *Spool) Add(b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	b.Seq = s.seq
	b.Dropped = s.dropped
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(b); err != nil {
		return err
	}
	zw.Close()
	if err := atomicfile.Write(s.path(b.Seq), buf.Bytes(), 0o644); err != nil {
		return err
	}
	queued := s.list()
	for len(queued) > s.max {
		os.Remove(s.path(queued[0]))
		queued = queued[1:]
		s.dropped++
	}
	return atomicfile.Write(filepath.Join(s.dir, "seq"), []byte(fmt.Sprintf("%d %d\n", s.seq, s.dropped)), 0o644)
}

func (s *Spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d.json.gz", seq))
}

// list returns the queued sequence numbers, oldest first.
func (s *Spool) list() []uint64 {
	ents, _ := os.ReadDir(s.dir)
	var out []uint64
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json.gz"); ok {
			if v, err := strconv.ParseUint(n, 10, 64); err == nil {
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Oldest returns the oldest queued batch (gzip bytes) and its sequence.
func (s *Spool) Oldest() (uint64, []byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.list()
	if len(q) == 0 {
		return 0, nil, false
	}
	b, err := os.ReadFile(s.path(q[0]))
	if err != nil {
		return 0, nil, false
	}
	return q[0], b, true
}

// Remove deletes an acknowledged batch.
func (s *Spool) Remove(seq uint64) { os.Remove(s.path(seq)) }

// Len is the number of queued batches.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.list())
}

// Dropped is how many batches the spool has discarded.
func (s *Spool) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}
