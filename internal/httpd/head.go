package httpd

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/net/http/httpguts"
)

// Limits on a request head, as nginx's large_client_header_buffers (four
// buffers of 8 KiB): a request line longer than one buffer is answered
// 414, a header field longer than one 431, and the whole head is bound by
// Server.MaxHeaderBytes (431). A long field costs every check that reads
// it (the guard's checker match, the access log), so none is unbounded.
const (
	maxRequestLine = 8 << 10
	maxFieldLine   = 8 << 10
	// maxLeadingCRLF bytes of CR or LF may precede a request line (RFC
	// 9112 2.2 asks servers to ignore at least one empty line; net/http
	// skips up to four bytes after a POST); more is a 400. Without a bound
	// a head of blank lines never ends, nor does its header timeout.
	maxLeadingCRLF = 4
)

// Outcomes of reading a request other than a request.
var (
	errWait         = errors.New("no complete request yet")
	errHeadTooLarge = errors.New("request head too large")
	errURITooLong   = errors.New("request line too long")
	errBadRequest   = errors.New("malformed request")
	errClosedByPeer = errors.New("closed by the client")
)

// headScan finds the end of a request head as its bytes arrive, looking
// at each byte once however the head is cut into reads, and enforces the
// limits above on the way: a line that grows past its limit is refused
// while it still arrives. Positions index the connection's input, which
// keeps its start across reads.
type headScan struct {
	pos       int  // bytes scanned
	lead      int  // leading CR and LF bytes skipped
	lineStart int  // where the current line began
	lines     int  // complete lines seen
	started   bool // past the leading blank lines
	// Host fields seen, and where the first one's line is: net/http's
	// parser drops the field, and its server judges it afterwards.
	hosts              int
	hostStart, hostEnd int
}

// scan looks at the bytes of b not yet scanned. It returns the head's end
// (the index just past its blank line), or -1 when it is not complete yet.
func (s *headScan) scan(b []byte) (int, error) {
	for s.pos < len(b) {
		if !s.started {
			if c := b[s.pos]; c == '\r' || c == '\n' {
				if s.lead++; s.lead > maxLeadingCRLF {
					return -1, errBadRequest
				}
				s.pos++
				continue
			}
			s.started, s.lineStart = true, s.pos
		}
		i := bytes.IndexByte(b[s.pos:], '\n')
		if i < 0 {
			s.pos = len(b)
			break
		}
		nl := s.pos + i
		if err := s.check(nl - s.lineStart); err != nil {
			return -1, err
		}
		if s.lines > 0 && (b[s.lineStart] == ' ' || b[s.lineStart] == '\t') {
			// A folded line (obs-fold): refused, as nginx does and RFC
			// 9112 5.2 allows, rather than joined into a field whose
			// value the checks below would not see whole.
			return -1, errBadRequest
		}
		s.lines++
		s.pos = nl + 1
		// An empty line (CRLF or a bare LF, which net/http also takes)
		// ends the head; the request line is never empty here.
		if n := nl - s.lineStart; n == 0 || n == 1 && b[nl-1] == '\r' {
			return s.pos, nil
		}
		if s.lines > 1 && nl-s.lineStart >= 5 && strings.EqualFold(string(b[s.lineStart:s.lineStart+5]), "host:") {
			if s.hosts++; s.hosts == 1 {
				s.hostStart, s.hostEnd = s.lineStart, nl
			}
		}
		s.lineStart = s.pos
	}
	if s.started {
		return -1, s.check(s.pos - s.lineStart)
	}
	return -1, nil
}

// check applies the line limits to a line of n bytes (so far).
func (s *headScan) check(n int) error {
	switch {
	case s.lines == 0 && n > maxRequestLine:
		return errURITooLong
	case s.lines > 0 && n > maxFieldLine:
		return errHeadTooLarge
	}
	return nil
}

// headReaders parse heads without allocating a bufio.Reader per request.
var headReaders = sync.Pool{New: func() any { return &headReader{br: bufio.NewReaderSize(nil, 4096)} }}

type headReader struct {
	rd bytes.Reader
	br *bufio.Reader
}

// host returns the value of the head's first Host field and how many
// there are.
func (s *headScan) host(b []byte) (string, int) {
	if s.hosts == 0 {
		return "", 0
	}
	v := b[s.hostStart+len("host:") : s.hostEnd]
	return string(bytes.Trim(v, " \t\r")), s.hosts
}

// parseHead parses a complete request head (without its leading blank
// lines) with net/http's own parser, then refuses what net/http's server
// refuses after it: invalid field names (a space before the colon makes
// "Content-Length " a field the parser ignores, which would let a body
// pass for the next request), invalid values, a missing or malformed
// Host (its value and count from the scan: the parser drops the field).
// The framing a request gets is so net/http's.
func parseHead(head []byte, host string, hosts int) (*http.Request, error) {
	hr := headReaders.Get().(*headReader)
	defer headReaders.Put(hr)
	hr.rd.Reset(head)
	hr.br.Reset(&hr.rd)
	req, err := http.ReadRequest(hr.br)
	hr.br.Reset(nil)
	hr.rd.Reset(nil)
	if err != nil {
		return nil, errBadRequest
	}
	if req.ProtoMajor != 1 {
		return req, nil // answered 505
	}
	if req.ProtoAtLeast(1, 1) && hosts == 0 && req.Method != http.MethodConnect {
		return nil, errBadRequest
	}
	if hosts == 1 && !httpguts.ValidHostHeader(host) {
		return nil, errBadRequest
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, errBadRequest
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, errBadRequest
			}
		}
	}
	return req, nil
}
