package main

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
)

// TestAdminClientEndsWithItsContext: a node that takes a connection and
// never answers (hung) does not hold `node status -watch` or `node sync`
// past Ctrl-C: the request ends with the command's context, not after
// the client's 10 s timeout.
func TestAdminClientEndsWithItsContext(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		cancel() // Ctrl-C while the node holds the request unanswered
		<-t.Context().Done()
	}()
	done := make(chan error, 1)
	go func() { done <- newAdminClient(sock).do(ctx, "GET", "/api/v1/projects", nil) }()
	err = <-done
	if !errors.Is(err, context.Canceled) {
		t.Errorf("a hung node's request ended with %v, want the command's context canceled", err)
	}
}
