package raftlog

import (
	"context"
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// etcd's wal and snap packages log through a *zap.Logger. zapToSlog hands them one whose
// records land in our *slog.Logger, so an operator sees a single log stream.
//
// zap's Fatal and Panic levels keep their zap semantics whatever the core does: the wal
// calls lg.Fatal/lg.Panic on a few "cannot happen" paths (an unparsable segment name of a
// file it created itself, a failed Close during Reopen), and zap exits or panics after the
// record is written. Those paths are reached only through wal APIs this package does not
// call (Reopen) or through files renamed behind our back.
func zapToSlog(l *slog.Logger) *zap.Logger {
	return zap.New(&slogCore{l: l})
}

// slogCore is a zapcore.Core that writes each zap entry as one slog record.
type slogCore struct {
	l *slog.Logger
}

var _ zapcore.Core = (*slogCore)(nil)

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default: // Error, DPanic, Panic, Fatal
		return slog.LevelError
	}
}

func (c *slogCore) Enabled(l zapcore.Level) bool {
	return c.l.Enabled(context.Background(), slogLevel(l))
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	if len(fields) == 0 {
		return c
	}
	return &slogCore{l: c.l.With(attrsOf(fields)...)}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	r := slog.NewRecord(e.Time, slogLevel(e.Level), e.Message, 0)
	for _, a := range attrsOf(fields) {
		r.AddAttrs(a.(slog.Attr))
	}
	return c.l.Handler().Handle(context.Background(), r)
}

func (c *slogCore) Sync() error { return nil }

// attrsOf turns zap fields into slog attributes, keeping their order. Each field is encoded
// on its own through zap's map encoder, which knows every field type (an error field
// becomes its message under "error").
func attrsOf(fields []zapcore.Field) []any {
	out := make([]any, 0, len(fields))
	for _, f := range fields {
		enc := zapcore.NewMapObjectEncoder()
		f.AddTo(enc)
		for k, v := range enc.Fields {
			out = append(out, slog.Any(k, v))
		}
	}
	return out
}
