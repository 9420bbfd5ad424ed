package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
)

// TestMsgFloor runs a short "loadtest messages" against the message floor,
// bare, on SQLite and on PostgreSQL: every message must come back acked and delivered,
// which is what makes its figures a floor for the desk's.
func TestMsgFloor(t *testing.T) {
	for _, store := range []string{"memory", "sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			args := []string{"msgfloor", "--addr", addr}
			switch store {
			case "sqlite":
				args = append(args, "--db", filepath.Join(t.TempDir(), "floor.db"))
			case "postgres":
				args = append(args, "--database-url", pgtest.URL(t))
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- run(ctx, args, io.Discard, io.Discard) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("msgfloor: %v", err)
				}
			})
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if c, err := net.Dial("tcp", addr); err == nil {
					c.Close()
					break
				} else if time.Now().After(deadline) {
					t.Fatalf("msgfloor did not listen: %v", err)
				}
			}
			var out bytes.Buffer
			err = run(context.Background(), []string{"messages", "--url", "ws://" + addr, "--conversations", "5",
				"--rate", "50", "--duration", "1s", "--settle", "0s", "--drain-timeout", "5s", "--verify", "0", "--read-claim"}, &out, io.Discard)
			if err != nil {
				t.Fatalf("messages: %v\n%s", err, out.String())
			}
			for _, want := range []string{"acked: 50/50, not acked 0", "delivered to the agent: 50/50", "lost 0", "echoes to the sending employee: 50/50", "setup failures: none", "--read-claim"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("the run's output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}
