// Package accesslog writes the nginx "combined" access log format plus the
// request time, to a file that is reopened on SIGHUP for logrotate.
package accesslog

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Entry is one request as logged.
type Entry struct {
	RemoteAddr string
	Time       time.Time
	Method     string
	URI        string
	Proto      string
	Status     int
	Bytes      int64
	Referer    string
	UserAgent  string
	Duration   time.Duration
}

// Format renders an entry as
// $remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time
func Format(buf []byte, e Entry) []byte {
	buf = append(buf, e.RemoteAddr...)
	buf = append(buf, " - - ["...)
	buf = appendTime(buf, e.Time)
	buf = append(buf, "] \""...)
	buf = appendEscaped(buf, e.Method)
	buf = append(buf, ' ')
	buf = appendEscaped(buf, e.URI)
	buf = append(buf, ' ')
	buf = appendEscaped(buf, e.Proto)
	buf = append(buf, "\" "...)
	buf = strconv.AppendInt(buf, int64(e.Status), 10)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, e.Bytes, 10)
	buf = append(buf, " \""...)
	buf = appendEscaped(buf, dash(e.Referer))
	buf = append(buf, "\" \""...)
	buf = appendEscaped(buf, dash(e.UserAgent))
	buf = append(buf, "\" "...)
	buf = strconv.AppendFloat(buf, e.Duration.Seconds(), 'f', 3, 64)
	return append(buf, '\n')
}

// lastTime is the most recent second formatted: a busy node logs
// thousands of lines in the same second.
var lastTime atomic.Pointer[formattedTime]

type formattedTime struct {
	sec int64
	loc *time.Location
	s   []byte
}

func appendTime(buf []byte, t time.Time) []byte {
	if ft := lastTime.Load(); ft != nil && ft.sec == t.Unix() && ft.loc == t.Location() {
		return append(buf, ft.s...)
	}
	ft := &formattedTime{sec: t.Unix(), loc: t.Location(), s: t.AppendFormat(nil, "02/Jan/2006:15:04:05 -0700")}
	lastTime.Store(ft)
	return append(buf, ft.s...)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// appendEscaped escapes like nginx: quotes, backslashes and bytes outside
// printable ASCII become \xHH, so a hostile header cannot forge log lines.
func appendEscaped(buf []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x20 || c > 0x7e {
			buf = append(buf, '\\', 'x', hex[c>>4], hex[c&0xf])
			continue
		}
		buf = append(buf, c)
	}
	return buf
}

// Log is an access log file. Lines are buffered and flushed every second
// and on Close, so logging costs no syscall per request.
type Log struct {
	path string

	mu   sync.Mutex // guards f, w, buf
	f    *os.File
	w    *bufio.Writer
	buf  []byte
	done chan struct{}
	wg   sync.WaitGroup
}

// Open opens (appends to) the log file; an empty path gives a nil *Log
// whose methods do nothing.
func Open(path string) (*Log, error) {
	if path == "" {
		return nil, nil
	}
	l := &Log{path: path, done: make(chan struct{})}
	if err := l.open(); err != nil {
		return nil, err
	}
	l.wg.Add(1)
	go l.flusher()
	return l, nil
}

func (l *Log) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open access log: %w", err)
	}
	l.f = f
	l.w = bufio.NewWriterSize(f, 64<<10)
	return nil
}

func (l *Log) flusher() {
	defer l.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.mu.Lock()
			l.w.Flush()
			l.mu.Unlock()
		case <-l.done:
			return
		}
	}
}

// Write logs one entry.
func (l *Log) Write(e Entry) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.buf = Format(l.buf[:0], e)
	l.w.Write(l.buf)
	l.mu.Unlock()
}

// Reopen flushes and reopens the file (after logrotate moved it).
func (l *Log) Reopen() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Flush()
	old := l.f
	if err := l.open(); err != nil {
		return err
	}
	return old.Close()
}

// Close flushes and closes the file.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	select {
	case <-l.done:
		return nil // already closed
	default:
	}
	close(l.done)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(l.w.Flush(), l.f.Close())
}

// ParseLine splits a combined-format line back into its fields; tests and
// the log-replay tools use it. It is the inverse of Format for the fields
// it returns.
func ParseLine(line string) (remote, request string, status int, bytes int64, err error) {
	remote, rest, ok := strings.Cut(line, " - - [")
	if !ok {
		return "", "", 0, 0, fmt.Errorf("no remote address")
	}
	_, rest, ok = strings.Cut(rest, "] \"")
	if !ok {
		return "", "", 0, 0, fmt.Errorf("no time")
	}
	request, rest, ok = strings.Cut(rest, "\" ")
	if !ok {
		return "", "", 0, 0, fmt.Errorf("no request")
	}
	f := strings.Fields(rest)
	if len(f) < 2 {
		return "", "", 0, 0, fmt.Errorf("no status")
	}
	status, err = strconv.Atoi(f[0])
	if err != nil {
		return "", "", 0, 0, fmt.Errorf("bad status: %w", err)
	}
	bytes, err = strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return "", "", 0, 0, fmt.Errorf("bad bytes: %w", err)
	}
	return remote, request, status, bytes, nil
}
