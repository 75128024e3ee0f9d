package node

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// HTTP/2 lets one connection carry many streams, and a stream the client
// gives no flow-control window blocks its handler, with its buffers,
// while the connection itself stays busy and healthy: 5,000 such streams
// held 200 MiB and were never reset. So, beside net/http's own limits
// (streams per connection, its handler cap against rapid resets):
//   - every write of a stream's body has a deadline, counted from the
//     stream's last progress (limits.send_timeout); past it net/http
//     resets the stream;
//   - body copies use a pooled buffer of one frame, not io.Copy's own;
//   - the streams being answered at once, over all connections, are
//     capped; past the cap a stream is answered 503 at once.
const (
	h2StreamsPerConn = 128 // as nginx's http2_max_concurrent_streams
	h2MaxStreams     = 2048
	h2CopyBuffer     = 16 << 10 // one DATA frame
)

// http2Streams bounds the HTTP/2 streams next answers.
type http2Streams struct {
	next    http.Handler
	timeout time.Duration
	// Shared by every HTTPS listener of the node.
	active  *atomic.Int64
	refused *atomic.Uint64
}

var h2Bufs = sync.Pool{New: func() any { b := make([]byte, h2CopyBuffer); return &b }}

func (s *http2Streams) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 2 {
		s.next.ServeHTTP(w, r)
		return
	}
	if s.active.Add(1) > h2MaxStreams {
		s.active.Add(-1)
		s.refused.Add(1)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy: too many HTTP/2 streams at once", http.StatusServiceUnavailable)
		return
	}
	defer s.active.Add(-1)
	pw := &progressWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: s.timeout}
	s.next.ServeHTTP(pw, r)
}

// progressWriter sets a stream's write deadline before each write, so a
// stream stalls no longer than the timeout without progress.
type progressWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (p *progressWriter) Write(b []byte) (int, error) {
	if p.timeout > 0 {
		p.rc.SetWriteDeadline(time.Now().Add(p.timeout))
	}
	return p.ResponseWriter.Write(b)
}

// ReadFrom copies a body through a pooled frame-sized buffer, a write,
// and so a deadline, at a time.
func (p *progressWriter) ReadFrom(src io.Reader) (int64, error) {
	bp := h2Bufs.Get().(*[]byte)
	defer h2Bufs.Put(bp)
	return io.CopyBuffer(writerOnly{p}, src, *bp)
}

// Unwrap lets http.ResponseController reach the stream's writer.
func (p *progressWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
