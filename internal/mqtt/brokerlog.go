package mqtt

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"syscall"
)

// brokerLog tidies what mochi-mqtt logs. Its listeners log, as a warning
// with no message, every client connection that ended with an error:
// for a broker the whole fleet reaches over the Internet, connections
// closed or reset are routine (and at shutdown every one ends so). Those
// go to debug; other endings (a refused login, a malformed packet) stay
// warnings, now saying what they are.
type brokerLog struct{ slog.Handler }

func (h brokerLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message != "" {
		return h.Handler.Handle(ctx, r)
	}
	level := r.Level
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && a.Key == "error" && routineEnd(err) {
			level = slog.LevelDebug
		}
		return true
	})
	if !h.Handler.Enabled(ctx, level) {
		return nil
	}
	out := slog.NewRecord(r.Time, level, "mqtt client connection ended", r.PC)
	r.Attrs(func(a slog.Attr) bool { out.AddAttrs(a); return true })
	return h.Handler.Handle(ctx, out)
}

// Enabled lets every warning through to Handle, which may demote it.
func (h brokerLog) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.Handler.Enabled(ctx, l)
}

func (h brokerLog) WithAttrs(as []slog.Attr) slog.Handler {
	return brokerLog{h.Handler.WithAttrs(as)}
}

func (h brokerLog) WithGroup(name string) slog.Handler { return brokerLog{h.Handler.WithGroup(name)} }

// routineEnd: the client went away or the broker is closing.
func routineEnd(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
