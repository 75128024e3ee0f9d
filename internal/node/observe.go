package node

import (
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"micromirror/internal/accesslog"
	"micromirror/internal/clientguard"
	"micromirror/internal/telemetry"
)

// recorder notes the status and body bytes of a response. It forwards
// ReadFrom so plain-HTTP file bodies still go out through sendfile(2).
//
// Bytes are what the connection accepted. Over HTTP/2, Go's server can
// report the last write as failed with nothing written ("client
// disconnected") when the client hung up the moment the body was complete,
// so such a response may be undercounted (seen with curl, which closes at
// once; clients that keep their connection are counted exactly).
type recorder struct {
	http.ResponseWriter
	status  int
	bytes   int64
	project string
	noted   bool // the handler named the project (serve.ProjectNoter)
}

// recorders are reused: a handler does not keep its writer past its return.
var recorders = sync.Pool{New: func() any { return new(recorder) }}

// NoteProject implements serve.ProjectNoter.
func (r *recorder) NoteProject(name string) { r.project, r.noted = name, true }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{r.ResponseWriter}, src)
	}
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type writerOnly struct{ io.Writer }

// current serves with the front of the config in force.
func (n *Node) current() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.serving.Load().handler.ServeHTTP(w, r) })
}

// observe wraps a listener's handler so every request, ACME challenges
// included, gets its access log line and counts in the traffic counters.
func (n *Node) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.serveObserved(next, w, r) })
}

func (n *Node) serveObserved(next http.Handler, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := n.serving.Load()
	rec := recorders.Get().(*recorder)
	*rec = recorder{ResponseWriter: w}
	defer func() { *rec = recorder{}; recorders.Put(rec) }()
	next.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	n.alog.Load().Write(accesslog.Entry{
		RemoteAddr: host, Time: start, Method: r.Method, URI: r.RequestURI, Proto: r.Proto,
		Status: rec.status, Bytes: rec.bytes, Referer: r.Referer(), UserAgent: r.UserAgent(),
		Duration: time.Since(start),
	})
	proto := telemetry.HTTP
	if r.TLS != nil {
		proto = telemetry.HTTPS
	}
	addr, _ := clientguard.RemoteAddr(r)
	project := rec.project
	if !rec.noted {
		project = st.content.ProjectOf(r.URL.Path)
	}
	n.traffic.Record(project, proto, rec.status, rec.bytes, addr.Is6())
	if n.usage != nil {
		n.usage.Record(project, r.URL.Path, rec.bytes, addr, st.guard.Checker(r.UserAgent()), rec.status, start)
	}
}
