package watchtower

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The dashboard's pages: the public status overview and sponsor pages
// (overview.go, sponsor.go), the operator's overview and node pages
// (nodepage.go). This file holds what they share.

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"human":  func(n uint64) string { return humanRate(float64(n), "B") },
	"humanI": func(n int64) string { return humanRate(float64(n), "B") },
	"ago":    agoShort,
	"count":  count,
	"deref":  func(b *bool) bool { return b != nil && *b },
	"dur":    func(sec float64) string { return (time.Duration(sec) * time.Second).String() },
	"temp": func(c *float64) string {
		if c == nil {
			return "missing"
		}
		return fmt.Sprintf("%.0f °C", *c)
	},
	"pct": func(p *float64) string {
		if p == nil {
			return "missing"
		}
		return fmt.Sprintf("%.0f%%", *p)
	},
}).ParseFS(templateFS, "templates/*.html"))

// publicPages keeps the public pages' renderings for a while: anyone may
// ask for them as often as they like, and each rendering reads the
// database. Its keys are of a fixed set (a range, a known node), so it
// holds at most one page per range and node.
type publicPages struct {
	mu    sync.Mutex
	pages map[string]publicPage
}

type publicPage struct {
	at   time.Time
	body []byte
}

// servePublic answers a public page from the cache, rendering it when
// older than maxAge; one rendering at a time, the other askers wait for it.
func (s *Server) servePublic(w http.ResponseWriter, r *http.Request, key string, maxAge time.Duration, render func(http.ResponseWriter, *http.Request)) {
	s.public.mu.Lock()
	defer s.public.mu.Unlock()
	p, ok := s.public.pages[key]
	if !ok || time.Since(p.at) > maxAge {
		// Not the first asker's context: its going away must not fail
		// the page for those waiting.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Minute)
		defer cancel()
		rec := &pageRecorder{header: http.Header{}}
		render(rec, r.WithContext(ctx))
		if rec.status != 0 && rec.status != http.StatusOK {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if s.public.pages == nil {
			s.public.pages = map[string]publicPage{}
		}
		p = publicPage{at: time.Now(), body: rec.body.Bytes()}
		s.public.pages[key] = p
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", csp)
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(maxAge.Seconds())))
	w.Write(p.body)
}

// pageRecorder takes a rendering for the public cache.
type pageRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (p *pageRecorder) Header() http.Header         { return p.header }
func (p *pageRecorder) WriteHeader(code int)        { p.status = code }
func (p *pageRecorder) Write(b []byte) (int, error) { return p.body.Write(b) }

// bitsPerSecond spreads points into fixed buckets as bit/s; the bucket
// holding now is divided by its time so far, not its whole step, so the
// current hour does not read as a drop.
func bitsPerSecond(pts []Point, from time.Time, buckets int, step time.Duration, now time.Time) []float64 {
	out := make([]float64, buckets)
	for _, p := range pts {
		i := int(p.T.Sub(from) / step)
		if i < 0 || i >= buckets {
			continue
		}
		start := from.Add(time.Duration(i) * step)
		span := min(step, max(now.Sub(start), time.Minute))
		out[i] += float64(p.Bytes) * 8 / span.Seconds()
	}
	return out
}

// count writes n with thousands separators: 1,234,567.
func count(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// nicRates turns cumulative NIC counters into bit/s per bucket; a counter
// that went down (reboot) starts afresh.
func nicRates(ns []NetSample, from time.Time, buckets int, step time.Duration) (rx, tx []float64) {
	rx, tx = make([]float64, buckets), make([]float64, buckets)
	for i := range rx {
		rx[i], tx[i] = math.NaN(), math.NaN()
	}
	for i := 1; i < len(ns); i++ {
		a, b := ns[i-1], ns[i]
		dt := b.T.Sub(a.T).Seconds()
		if dt <= 0 || b.Rx < a.Rx || b.Tx < a.Tx {
			continue
		}
		k := int(b.T.Sub(from) / step)
		if k < 0 || k >= buckets {
			continue
		}
		rx[k] = float64(b.Rx-a.Rx) * 8 / dt
		tx[k] = float64(b.Tx-a.Tx) * 8 / dt
	}
	return rx, tx
}

// csp allows the pages nothing but their own inline styles and images.
const csp = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"

func (s *Server) render(w http.ResponseWriter, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", csp)
	w.Write(buf.Bytes())
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	s.log.Error("dashboard", "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

func agoShort(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
}
