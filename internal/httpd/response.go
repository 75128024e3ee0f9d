package httpd

import (
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// serveRequest runs the handler for one request and finishes its
// response; it reports whether the connection stays open for another,
// and when not, whether the client may still be sending (then the close
// lingers).
func (c *conn) serveRequest(req *http.Request, wk *worker) (keep, linger bool) {
	req.RemoteAddr = c.remote
	req.TLS = c.tlsState
	c.requests++
	closeAfter := wantsClose(req) || c.s.closing.Load() || c.requests >= c.s.maxConnRequests()
	refuse := func(status int) (bool, bool) {
		err := c.writeAll([][]byte{plainResponse(status)}, false, wk)
		return false, err == nil
	}
	if req.ProtoMajor != 1 {
		return refuse(http.StatusHTTPVersionNotSupported)
	}
	if e := req.Header.Get("Expect"); e != "" && !hasToken(e, "100-continue") {
		return refuse(http.StatusExpectationFailed)
	}
	body := req.ContentLength != 0 || len(req.TransferEncoding) > 0
	if body {
		// No handler here reads a body: answer, then close rather than
		// read what may be a smuggled request.
		closeAfter = true
		req.Body = http.NoBody
	}
	w := newResponse(c, req, closeAfter, wk)
	defer w.release()
	if req.Method == http.MethodOptions && req.RequestURI == "*" {
		w.Header()["Content-Length"] = []string{"0"}
		w.WriteHeader(http.StatusOK)
	} else {
		c.s.Handler.ServeHTTP(w, req)
	}
	w.finish()
	if w.err != nil {
		return false, false
	}
	return !w.closeAfter, body
}

// wantsClose reads the request's Connection field as net/http's server
// does: HTTP/1.0 keeps the connection only when asked to ("keep-alive"
// as a word of the field), HTTP/1.1 unless asked not to ("close").
func wantsClose(req *http.Request) bool {
	conn := req.Header.Get("Connection")
	if req.ProtoMajor == 1 && req.ProtoMinor == 0 {
		return !hasToken(conn, "keep-alive")
	}
	return req.Close || hasToken(conn, "close")
}

// hasToken reports whether v holds token as a word of its own, set off
// by spaces, tabs or commas, in any case: how net/http reads Expect.
func hasToken(v, token string) bool {
	for i := 0; i+len(token) <= len(v); i++ {
		if !strings.EqualFold(v[i:i+len(token)], token) {
			continue
		}
		before := i == 0 || tokenSep(v[i-1])
		after := i+len(token) == len(v) || tokenSep(v[i+len(token)])
		if before && after {
			return true
		}
	}
	return false
}

func tokenSep(c byte) bool { return c == ' ' || c == ',' || c == '\t' }

// response is an http.ResponseWriter that sends the head and body in as
// few system calls as it can: everything a handler writes before it
// returns, up to a buffer's worth, leaves with the head in one writev(2).
type response struct {
	c      *conn
	wk     *worker
	req    *http.Request
	header http.Header
	status int

	wroteHeader bool // the handler chose a status
	headSent    bool
	clen        int64 // the body's length as declared, -1 if unknown
	written     int64 // body bytes the handler wrote
	chunked     bool
	noBody      bool // HEAD, 204, 304: the body is not sent
	closeAfter  bool

	bp          *[]byte // pooled; buf is its pending part
	buf         []byte
	pendingHead []byte // rendered, not yet written
	err         error

	// Kept with the pooled response, so a response allocates neither:
	// the head's buffer, and the pieces of one write.
	headBuf []byte
	iov     [6][]byte
	hex     [2][16]byte // chunk sizes
	fileAt  int64       // where sendfile reads a file section
}

// maxKeptHead bounds the head buffer a pooled response keeps.
const maxKeptHead = 4 << 10

var responses = sync.Pool{New: func() any { return &response{header: make(http.Header, 8)} }}

func newResponse(c *conn, req *http.Request, closeAfter bool, wk *worker) *response {
	w := responses.Get().(*response)
	w.c, w.wk, w.req, w.status, w.clen, w.closeAfter = c, wk, req, 0, -1, closeAfter
	w.noBody = req.Method == http.MethodHead
	w.bp = bufPool.Get().(*[]byte)
	w.buf = (*w.bp)[:0]
	return w
}

func (w *response) release() {
	bufPool.Put(w.bp)
	clear(w.header)
	head := w.headBuf[:0]
	if cap(head) > maxKeptHead {
		head = nil // a rare giant head is not kept for every response
	}
	*w = response{header: w.header, headBuf: head}
	responses.Put(w)
}

// Header implements http.ResponseWriter.
func (w *response) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter. Informational codes are not
// sent (no handler here uses them).
func (w *response) WriteHeader(code int) {
	if w.wroteHeader || code < 200 || code > 999 {
		return
	}
	w.wroteHeader, w.status = true, code
	if code == http.StatusNoContent || code == http.StatusNotModified {
		w.noBody = true
	}
	if v := w.header["Content-Length"]; len(v) == 1 {
		if n, err := strconv.ParseInt(v[0], 10, 64); err == nil && n >= 0 {
			w.clen = n
		}
	}
	if v := w.header["Connection"]; len(v) > 0 && strings.EqualFold(v[0], "close") {
		w.closeAfter = true
	}
}

var errTooLong = errors.New("httpd: wrote more than the declared Content-Length")

// Write implements http.ResponseWriter.
func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.clen >= 0 && w.written+int64(len(p)) > w.clen {
		return 0, errTooLong
	}
	w.written += int64(len(p))
	if w.noBody {
		return len(p), nil
	}
	if len(w.buf)+len(p) <= cap(w.buf) {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	if !w.headSent {
		w.sendHead(false)
	}
	w.flush(p)
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// ReadFrom sends a body from src; a file (an *os.File, or a section of
// one) goes out with sendfile(2) right behind the head. The node's file
// handler gets here through io.Copy and io.CopyN.
func (w *response) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	limit := int64(-1)
	if lr, ok := src.(*io.LimitedReader); ok {
		src, limit = lr.R, lr.N
	}
	f, off, avail := fileOf(src, &w.fileAt)
	if w.noBody || w.err != nil || w.clen < 0 || f == nil || w.c.tls != nil {
		if limit >= 0 {
			src = io.LimitReader(src, limit)
		}
		// Large pieces: each is one write (over HTTPS, a few full records).
		bp := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(bp)
		return io.CopyBuffer(writerOnly{w}, src, *bp)
	}
	n := w.clen - w.written
	if limit >= 0 {
		n = min(n, limit)
	}
	if avail >= 0 {
		n = min(n, avail)
	}
	if !w.headSent {
		w.sendHead(false)
	}
	// MSG_MORE: the kernel holds the head back to fill its packets with
	// the file's first bytes, as nginx's tcp_nopush does.
	w.flushMore(nil, true)
	if w.err != nil {
		return 0, w.err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	sent, serr := w.c.out.sendFile(rc, off, n, w.wk)
	if sr, ok := src.(*io.SectionReader); ok {
		sr.Seek(sent, io.SeekCurrent) // keep the reader where the bytes ended
	}
	w.written += sent
	if serr != nil {
		w.err, w.closeAfter = serr, true
	}
	return sent, serr
}

// fileOf finds the file behind a reader: an *os.File (sent from its own
// offset: off is nil, avail -1), or a section of one (sent from the
// section's position, kept in at, up to its end).
func fileOf(src io.Reader, at *int64) (f *os.File, off *int64, avail int64) {
	switch r := src.(type) {
	case *os.File:
		return r, nil, -1
	case *io.SectionReader:
		outer, base, size := r.Outer()
		file, ok := outer.(*os.File)
		if !ok {
			return nil, nil, 0
		}
		pos, _ := r.Seek(0, io.SeekCurrent)
		*at = base + pos
		return file, at, size - pos
	}
	return nil, nil, 0
}

type writerOnly struct{ io.Writer }

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// finish completes the response after the handler returned.
func (w *response) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		w.sendHead(true)
	}
	if w.chunked {
		w.flush(nil)
		w.writeRaw(lastChunk)
	} else {
		w.flush(nil)
	}
	if w.clen >= 0 && w.written != w.clen && !w.noBody {
		w.closeAfter = true // the client waits for bytes that will not come
	}
}

// sendHead decides the framing and queues the head; final says the
// handler is done, so a body of unknown length is all in the buffer.
func (w *response) sendHead(final bool) {
	w.headSent = true
	h := w.header
	switch {
	case w.status == http.StatusNotModified:
		delete(h, "Content-Type")
		delete(h, "Content-Length")
		delete(h, "Transfer-Encoding")
	case w.status == http.StatusNoContent:
		delete(h, "Content-Length")
		delete(h, "Transfer-Encoding")
	case w.clen >= 0:
		delete(h, "Transfer-Encoding")
	case final && w.req.Method == http.MethodHead && w.written == 0:
		// A HEAD the handler wrote nothing for: the length GET would
		// have is unknown, so none is claimed (as net/http does).
		delete(h, "Transfer-Encoding")
	case final:
		// The whole body is known: send its length (for HEAD, the length
		// GET would have, as the handler wrote it).
		w.clen = w.written
		h["Content-Length"] = []string{strconv.FormatInt(w.written, 10)}
		delete(h, "Transfer-Encoding")
	case w.req.ProtoAtLeast(1, 1):
		w.chunked = true
		h["Transfer-Encoding"] = []string{"chunked"}
	default:
		w.closeAfter = true // HTTP/1.0: the body ends when the connection does
	}
	if w.c.s.closing.Load() {
		w.closeAfter = true // shutting down: this is the connection's last response
	}
	if _, ok := h["Content-Type"]; !ok && !w.noBody && len(w.buf) > 0 {
		h["Content-Type"] = []string{http.DetectContentType(w.buf)}
	}
	if w.closeAfter {
		h["Connection"] = []string{"close"}
	} else if !w.req.ProtoAtLeast(1, 1) {
		h["Connection"] = []string{"keep-alive"}
	}
	date := ""
	if _, ok := h["Date"]; !ok {
		date = httpDate()
	}
	if w.headBuf == nil {
		w.headBuf = make([]byte, 0, 512)
	}
	w.headBuf = appendHead(w.headBuf[:0], w.status, h, date)
	// The head goes out with the first body bytes, in one writev.
	w.pendingHead = w.headBuf
}

// flush writes the pending head, the buffered body and p.
func (w *response) flush(p []byte) { w.flushMore(p, false) }

// flushMore is flush; more says more data follows at once (sendfile).
func (w *response) flushMore(p []byte, more bool) {
	if w.err != nil {
		return
	}
	bufs := w.iov[:0]
	if w.pendingHead != nil {
		bufs = append(bufs, w.pendingHead)
		w.pendingHead = nil
	}
	if !w.noBody {
		for i, b := range [2][]byte{w.buf, p} {
			if len(b) == 0 {
				continue
			}
			if w.chunked {
				size := strconv.AppendInt(w.hex[i][:0], int64(len(b)), 16)
				bufs = append(bufs, size, crlf, b, crlf)
			} else {
				bufs = append(bufs, b)
			}
		}
	}
	w.buf = w.buf[:0]
	if len(bufs) > 0 {
		if err := w.c.writeAll(bufs, more, w.wk); err != nil {
			w.err, w.closeAfter = err, true
		}
	}
	clear(w.iov[:]) // hold no caller's bytes
}

var crlf, lastChunk = []byte("\r\n"), []byte("0\r\n\r\n")

func (w *response) writeRaw(b []byte) {
	if w.err != nil {
		return
	}
	w.iov[0] = b
	if err := w.c.writeAll(w.iov[:1], false, w.wk); err != nil {
		w.err, w.closeAfter = err, true
	}
	w.iov[0] = nil
}

// appendHead renders the status line and the header fields. Values with
// line breaks have them turned into spaces, and invalid names are
// dropped, so no value can split the head.
func appendHead(b []byte, status int, h http.Header, date string) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	text := http.StatusText(status)
	if text == "" {
		text = "status code " + strconv.Itoa(status)
	}
	b = append(b, text...)
	b = append(b, crlf...)
	// Fields in name order, as net/http writes them: the same response
	// always reads the same.
	var arr [16]string
	keys := arr[:0]
	for k := range h {
		keys = append(keys, k)
	}
	if date != "" {
		keys = append(keys, "Date")
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !validName(k) {
			continue
		}
		if k == "Date" && date != "" {
			b = appendField(b, k, date)
			continue
		}
		for _, v := range h[k] {
			b = appendField(b, k, v)
		}
	}
	return append(b, crlf...)
}

// appendField renders one field; line breaks in the value become spaces.
func appendField(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return append(b, crlf...)
}

func validName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// date is the Date header of the current second, formatted once a second.
var date atomic.Pointer[dateValue]

type dateValue struct {
	sec int64
	s   string
}

func httpDate() string {
	now := time.Now()
	if d := date.Load(); d != nil && d.sec == now.Unix() {
		return d.s
	}
	d := &dateValue{sec: now.Unix(), s: now.UTC().Format(http.TimeFormat)}
	date.Store(d)
	return d.s
}
