package watchtower

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"micromirror/internal/announcement"
	"micromirror/internal/catalog"
	"micromirror/internal/mqtt"
	"micromirror/internal/telemetry"
)

// Server answers ingest and API requests.
type Server struct {
	store  Store
	log    *slog.Logger
	roster atomic.Pointer[roster] // the nodes allowed to push; SetNodes swaps it
	srv    *http.Server
	ln     net.Listener
	// Alerts holds the open alerts; Run it to evaluate.
	Alerts *Alerter

	Accepted, Duplicates, Rejected atomic.Uint64
	// UnknownProjects counts the entries of batches dropped because they
	// named a project neither the catalog nor the node's list knows.
	UnknownProjects atomic.Uint64

	told   sync.Mutex // guards toldOf
	toldOf map[string]struct{}

	operatorHash []byte // sha256 of the operator's token; nil: none
	public       publicPages
}

// roster is the nodes a server knows, as one value so that a reload
// replaces all of it at once.
type roster struct {
	tokens   map[[32]byte]string        // token hash -> node
	about    map[string]NodeConfig      // node -> its configuration (sponsor, country)
	projects map[string]map[string]bool // node -> its own projects beyond the catalog
}

// NewServer builds the server for the configured nodes.
func NewServer(cfg Config, store Store, log *slog.Logger) *Server {
	s := &Server{store: store, log: log, Alerts: NewAlerter(store, cfg.Alerts, log.With("part", "alerts")),
		toldOf: map[string]struct{}{}, operatorHash: parseOperatorHash(cfg.OperatorTokenSHA256)}
	s.SetNodes(cfg.Nodes)
	mux := http.NewServeMux()
	// Public: ingest (node tokens), the status and sponsor pages, health.
	mux.HandleFunc("POST /api/v1/ingest", s.ingest)
	mux.HandleFunc("GET /{$}", s.overview)
	mux.HandleFunc("GET /sponsors/{node}", s.sponsorPage)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	// The operator's (operator.go).
	mux.HandleFunc("GET /api/v1/nodes", s.operatorOnly(s.apiNodes))
	mux.HandleFunc("GET /api/v1/usage", s.operatorOnly(s.apiUsage))
	mux.HandleFunc("GET /api/v1/top", s.operatorOnly(s.apiTop))
	mux.HandleFunc("GET /api/v1/demand", s.operatorOnly(s.apiDemand))
	mux.HandleFunc("GET /api/v1/syncs", s.operatorOnly(s.apiSyncs))
	mux.HandleFunc("GET /metrics", s.operatorOnly(s.metricsHandler().ServeHTTP))
	mux.HandleFunc("GET /api/v1/alerts", s.operatorOnly(func(w http.ResponseWriter, r *http.Request) {
		deliveries, err := s.store.Deliveries(r.Context(), 50)
		if err != nil {
			s.log.Error("api alerts", "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "storage failed"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"version": 1, "alerts": s.Alerts.Open(), "deliveries": deliveries})
	}))
	mux.HandleFunc("GET /nodes/{name}", s.operatorOnly(s.nodePage))
	// The overview as the operator sees it, at a path of its own: "/"
	// answers the public without a challenge, so a browser would never
	// send the operator's password there.
	mux.HandleFunc("GET /fleet", s.operatorOnly(s.operatorOverview))
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
	return s
}

// SetNodes replaces the nodes allowed to push (validated config, as
// LoadConfig returns it). Requests in flight finish with the old list;
// a node taken out is refused from its next push on.
func (s *Server) SetNodes(nodes []NodeConfig) {
	r := &roster{tokens: map[[32]byte]string{}, about: map[string]NodeConfig{}, projects: map[string]map[string]bool{}}
	for _, n := range nodes {
		r.about[n.Name] = n
		if len(n.Projects) > 0 {
			own := map[string]bool{}
			for _, p := range n.Projects {
				own[p] = true
			}
			r.projects[n.Name] = own
		}
		var h [32]byte
		b, _ := hex.DecodeString(n.TokenSHA256)
		copy(h[:], b)
		r.tokens[h] = n.Name
	}
	s.roster.Store(r)
}

// Open listens on addr; Serve starts.
func (s *Server) Open(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	s.ln = ln
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until Close; with cert and key, over TLS.
func (s *Server) Serve(certFile, keyFile string) error {
	var err error
	if certFile != "" {
		err = s.srv.ServeTLS(s.ln, certFile, keyFile)
	} else {
		err = s.srv.Serve(s.ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ListenAnnouncements records the upstream's change announcements, so node
// lag can be measured against them; stop ends it.
func (s *Server) ListenAnnouncements(c mqtt.ClientConfig, topics []string) (stop func(), err error) {
	if len(topics) == 0 {
		topics = []string{announcement.TopicPrefix + "/+/#"}
	}
	return mqtt.Listen(c, topics, func(module string, a announcement.Announcement) {
		if err := s.store.SaveAnnouncement(context.Background(), module, a.Serial, a.Time); err != nil {
			s.log.Error("save announcement", "module", module, "err", err)
		}
	})
}

// Close stops serving, letting requests finish until ctx ends.
func (s *Server) Close(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// authenticate maps the bearer token to its node; constant-time compare.
func (s *Server) authenticate(r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	for h, node := range s.roster.Load().tokens {
		if subtle.ConstantTimeCompare(h[:], sum[:]) == 1 {
			return node, true
		}
	}
	return "", false
}

const maxCompressed = 1 << 20

func (s *Server) ingest(w http.ResponseWriter, r *http.Request) {
	node, ok := s.authenticate(r)
	if !ok {
		s.reject(w, http.StatusUnauthorized, "unknown node or bad token")
		return
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, maxCompressed)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			s.reject(w, http.StatusBadRequest, "body is not gzip")
			return
		}
		defer zr.Close()
		body = zr
	}
	raw, err := io.ReadAll(io.LimitReader(body, telemetry.MaxBatchBytes+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) || len(raw) > telemetry.MaxBatchBytes:
		s.reject(w, http.StatusRequestEntityTooLarge, "batch too large")
		return
	case err != nil:
		s.reject(w, http.StatusBadRequest, "unreadable body")
		return
	}
	b, err := telemetry.DecodeBatch(raw)
	if err != nil {
		s.reject(w, http.StatusBadRequest, err.Error())
		return
	}
	if b.Node != node {
		s.reject(w, http.StatusForbidden, "token belongs to another node")
		return
	}
	now := time.Now()
	if err := b.Plausible(now); err != nil {
		// A 4xx: the node drops the batch (and says so) rather than
		// resend, for ever, what no store can hold.
		s.reject(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	s.knownProjectsOnly(&b)
	dup, err := s.store.Ingest(r.Context(), b, now)
	if err != nil {
		s.log.Error("ingest", "node", node, "seq", b.Seq, "err", err)
		http.Error(w, `{"error":"storage failed"}`, http.StatusServiceUnavailable)
		return
	}
	if dup {
		s.Duplicates.Add(1)
		writeJSON(w, http.StatusOK, map[string]any{"seq": b.Seq, "duplicate": true})
		return
	}
	s.Accepted.Add(1)
	writeJSON(w, http.StatusAccepted, map[string]any{"seq": b.Seq})
}

// knownProjectsOnly drops the entries of a batch that name a project no
// catalog recipe and no entry of the node's list (projects:) has, so no
// node can fill the store and the dashboard with names; each such name
// is logged once per node.
func (s *Server) knownProjectsOnly(b *telemetry.Batch) {
	own := s.roster.Load().projects[b.Node]
	known := func(p string) bool {
		if _, ok := catalog.Lookup(p); ok {
			return true
		}
		return p == telemetry.Other || own[p]
	}
	dropped := 0
	b.Projects = slices.DeleteFunc(b.Projects, func(p telemetry.ProjectTraffic) bool {
		if known(p.Project) {
			return false
		}
		dropped++
		s.tellUnknown(b.Node, p.Project)
		return true
	})
	b.Top = slices.DeleteFunc(b.Top, func(p telemetry.PathCount) bool {
		if known(p.Project) {
			return false
		}
		dropped++
		return true
	})
	b.Syncs = slices.DeleteFunc(b.Syncs, func(e telemetry.SyncEvent) bool {
		if known(e.Project) {
			return false
		}
		dropped++
		s.tellUnknown(b.Node, e.Project)
		return true
	})
	s.UnknownProjects.Add(uint64(dropped))
}

// maxTold bounds the (node, project) pairs reported as unknown.
const maxTold = 1024

func (s *Server) tellUnknown(node, project string) {
	key := node + "\x00" + project
	s.told.Lock()
	_, done := s.toldOf[key]
	if !done && len(s.toldOf) < maxTold {
		s.toldOf[key] = struct{}{}
	}
	s.told.Unlock()
	if !done {
		s.log.Warn("ignoring telemetry for a project neither the catalog nor the node list knows (add it to the node's projects:)",
			"node", node, "project", fmt.Sprintf("%.64q", project))
	}
}

func (s *Server) reject(w http.ResponseWriter, status int, msg string) {
	s.Rejected.Add(1)
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) apiNodes(w http.ResponseWriter, r *http.Request) {
	nodes, err := s.store.Nodes(r.Context())
	if err != nil {
		s.log.Error("api nodes", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "storage failed"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": 1, "nodes": s.enrich(r.Context(), nodes, time.Now())})
}

// apiUsage: ?group=project|node|sponsor&from=&to=[&step=] (RFC 3339 or
// unix seconds; default the last 24 hours). With step (a duration, at
// least 1m) each group also gets its series.
func (s *Server) apiUsage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to, err1 := parseTime(q.Get("to"), time.Now())
	from, err2 := parseTime(q.Get("from"), to.Add(-24*time.Hour))
	group := q.Get("group")
	if group == "" {
		group = "project"
	}
	var step time.Duration
	var err3 error
	if v := q.Get("step"); v != "" {
		step, err3 = time.ParseDuration(v)
		if err3 == nil && (step < time.Minute || to.Sub(from)/step > 10000) {
			err3 = errors.New("step")
		}
	}
	if err := errors.Join(err1, err2, err3); err != nil || !from.Before(to) || (group != "project" && group != "node" && group != "sponsor") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want group=project|node|sponsor, from < to (RFC 3339 or unix seconds), step >= 1m and at most 10000 buckets"})
		return
	}
	storeGroup, keyOf := group, func(k string) string { return k }
	if group == "sponsor" {
		storeGroup = "node"
		about := s.roster.Load().about
		keyOf = func(node string) string {
			if sp := about[node].Sponsor; sp != "" {
				return sp
			}
			return "(unknown)"
		}
	}
	var rows []UsageRow
	var series []SeriesRow
	var err error
	if step > 0 {
		// Whole buckets: the first and last are complete, and the
		// roll-ups answer all of it (no minute rows at the edges).
		from, to = alignDown(from, step), alignUp(to, step)
		series, err = s.store.Series(r.Context(), storeGroup, from, to, step)
		rows = seriesTotals(series)
	} else {
		rows, err = s.store.Usage(r.Context(), storeGroup, from, to)
	}
	if err != nil {
		s.log.Error("api usage", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "storage failed"})
		return
	}
	totals := map[string]*UsageRow{}
	var order []string
	for _, u := range rows {
		k := keyOf(u.Key)
		if totals[k] == nil {
			totals[k] = &UsageRow{Key: k}
			order = append(order, k)
		}
		totals[k].Requests += u.Requests
		totals[k].Bytes += u.Bytes
	}
	sort.Strings(order)
	out := make([]UsageRow, 0, len(order))
	for _, k := range order {
		out = append(out, *totals[k])
	}
	resp := map[string]any{"version": 1, "group": group, "from": from.UTC(), "to": to.UTC(), "rows": out}
	if step > 0 {
		resp["series"] = groupSeries(series, keyOf)
		resp["step"] = step.String()
	}
	writeJSON(w, http.StatusOK, resp)
}

// maxSyncRuns bounds an answer of /api/v1/syncs.
const maxSyncRuns = 10000

// apiSyncs: ?node=&from=&to=&limit= (default the last 7 days, 1000 runs):
// a node's sync runs, newest first.
func (s *Server) apiSyncs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to, err1 := parseTime(q.Get("to"), time.Now())
	from, err2 := parseTime(q.Get("from"), to.Add(-7*24*time.Hour))
	limit := 1000
	var err3 error
	if v := q.Get("limit"); v != "" {
		if limit, err3 = strconv.Atoi(v); err3 == nil && (limit < 1 || limit > maxSyncRuns) {
			err3 = errors.New("limit")
		}
	}
	node := q.Get("node")
	if err := errors.Join(err1, err2, err3); err != nil || !from.Before(to) || node == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("want node, from < to (RFC 3339 or unix seconds), 1 <= limit <= %d", maxSyncRuns)})
		return
	}
	runs, err := s.store.Syncs(r.Context(), node, from, to, limit)
	if err != nil {
		s.log.Error("api syncs", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "storage failed"})
		return
	}
	if runs == nil {
		runs = []SyncRun{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": 1, "node": node, "from": from.UTC(), "to": to.UTC(), "runs": runs})
}

// apiDemand: bytes served per day, node and project (default the last 30
// days): the input for fleet planning.
func (s *Server) apiDemand(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to, err1 := parseTime(q.Get("to"), time.Now())
	from, err2 := parseTime(q.Get("from"), to.Add(-30*24*time.Hour))
	if err := errors.Join(err1, err2); err != nil || !from.Before(to) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want from < to (RFC 3339 or unix seconds)"})
		return
	}
	from, to = alignDown(from, 24*time.Hour), alignUp(to, 24*time.Hour) // whole days
	rows, err := s.store.Demand(r.Context(), from, to)
	if err != nil {
		s.log.Error("api demand", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "storage failed"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": 1, "from": from.UTC(), "to": to.UTC(), "days": rows})
}

// apiTop: ?project=&from=&to=&limit= (default all projects, the last 24
// hours, 50 paths).
func (s *Server) apiTop(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to, err1 := parseTime(q.Get("to"), time.Now())
	from, err2 := parseTime(q.Get("from"), to.Add(-24*time.Hour))
	limit := 50
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be 1..1000"})
			return
		}
		limit = n
	}
	if err := errors.Join(err1, err2); err != nil || !from.Before(to) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want from < to (RFC 3339 or unix seconds)"})
		return
	}
	top, err := s.store.Top(r.Context(), q.Get("project"), from, to, limit)
	if err != nil {
		s.log.Error("api top", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "storage failed"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": 1, "project": q.Get("project"), "from": from.UTC(), "to": to.UTC(), "paths": top})
}

// alignDown and alignUp move t to a boundary of d-long buckets counted
// from the epoch, as the stores bucket series.
func alignDown(t time.Time, d time.Duration) time.Time {
	n := int64(d / time.Second)
	u := t.Unix()
	if u < 0 {
		u -= n - 1
	}
	return time.Unix(u/n*n, 0).UTC()
}

func alignUp(t time.Time, d time.Duration) time.Time {
	if down := alignDown(t, d); down.Before(t) {
		return down.Add(d)
	}
	return t.UTC()
}

// seriesTotals sums a series per key: the totals of the same range.
// keySeries is one group's points in a usage answer.
type keySeries struct {
	Key    string  `json:"key"`
	Points []Point `json:"points"`
}

// MarshalJSON writes what encoding/json would (TestKeySeriesJSON holds it
// to that) without reflection per point: a week of a thousand nodes by
// the hour is 168,000 points.
func (k keySeries) MarshalJSON() ([]byte, error) {
	key, err := json.Marshal(k.Key)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 32+len(key)+len(k.Points)*72)
	b = append(append(append(b, `{"key":`...), key...), `,"points":`...)
	if k.Points == nil {
		return append(b, "null}"...), nil
	}
	b = append(b, '[')
	for i, p := range k.Points {
		if i > 0 {
			b = append(b, ',')
		}
		t, err := p.T.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b = append(append(b, `{"t":`...), t...)
		b = strconv.AppendUint(append(b, `,"requests":`...), p.Requests, 10)
		b = strconv.AppendUint(append(b, `,"bytes":`...), p.Bytes, 10)
		b = append(b, '}')
	}
	return append(b, "]}"...), nil
}

// groupSeries gathers the store's rows (ordered by key, then time) into a
// series per group, by name; groups of several keys (the nodes of a
// sponsor) have their points summed per bucket. A week of a thousand
// nodes by the hour is 168,000 rows: no map per point.
func groupSeries(rows []SeriesRow, keyOf func(string) string) []keySeries {
	index := map[string]int{}
	var out []keySeries
	merged := map[int]bool{} // groups that got more than one key's rows
	last := map[int]string{}
	for _, r := range rows {
		k := keyOf(r.Key)
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, keySeries{Key: k})
		} else if last[i] != r.Key {
			merged[i] = true
		}
		last[i] = r.Key
		out[i].Points = append(out[i].Points, r.Point)
	}
	for i := range merged {
		pts := out[i].Points
		sort.SliceStable(pts, func(a, b int) bool { return pts[a].T.Before(pts[b].T) })
		n := 0
		for _, p := range pts {
			if n > 0 && pts[n-1].T.Equal(p.T) {
				pts[n-1].Requests += p.Requests
				pts[n-1].Bytes += p.Bytes
				continue
			}
			pts[n] = p
			n++
		}
		out[i].Points = pts[:n]
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Key < out[b].Key })
	return out
}

func seriesTotals(series []SeriesRow) []UsageRow {
	var out []UsageRow
	index := map[string]int{}
	for _, p := range series {
		i, ok := index[p.Key]
		if !ok {
			i = len(out)
			index[p.Key] = i
			out = append(out, UsageRow{Key: p.Key})
		}
		out[i].Requests += p.Requests
		out[i].Bytes += p.Bytes
	}
	return out
}

func parseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Parse(time.RFC3339, s)
}
