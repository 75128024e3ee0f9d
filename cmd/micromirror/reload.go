package main

import (
	"context"
	"log/slog"
	"os"
)

// reloadOnHUP rereads a config at each SIGHUP until ctx ends and hands
// apply what load read; a config that does not load is logged (what is
// the running one, in kept) and the running one stays. It returns when
// ctx ends: the caller runs it in a goroutine it waits for, so no reload
// meets a part its command has closed.
func reloadOnHUP[T any](ctx context.Context, hup <-chan os.Signal, log *slog.Logger, kept string, load func() (T, error), apply func(T)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			next, err := load()
			if err != nil {
				log.Error("reload: config has errors, keeping the running "+kept, "err", err)
				continue
			}
			apply(next)
		}
	}
}
