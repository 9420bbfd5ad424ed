// Command loadtest measures a servicedesk server from outside, as its
// clients would: idle memory per connection, handshake rate and typing
// fan-out latency. "loadtest floor" runs a deliberately bare WebSocket
// server that speaks the same wire contract, so the same measurements
// give this machine's physical floor to compare against. "loadtest
// messages" measures conversation messages end to end: sent by employees,
// stored, and delivered to the agent who claimed them. "loadtest drain"
// sends SIGTERM to one of several nodes and measures how long its clients
// take to reconnect to the others and resume their conversation.
// "loadtest uploads" has many phones send a photo at once and reports the
// throughput, the time to each thumbnail and the server's memory.
// "loadtest reportdata" fills a database with a year of a desk's life and
// "loadtest reports" times the reports over it. "loadtest dbfloor" writes
// only what the desk stores per message straight into PostgreSQL, grouped
// as the desk groups it: the database's floor beside "loadtest messages".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// run dispatches to the floor server, the messages run, the drain run or
// the fan-out load test.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "floor":
			return runFloor(ctx, args[1:], stdout, stderr)
		case "msgfloor":
			return runMsgFloor(ctx, args[1:], stdout, stderr)
		case "messages":
			cfg, err := parseMsgConfig(args[1:], stderr)
			if err != nil {
				return err
			}
			return runMessages(ctx, cfg, stdout)
		case "uploads":
			cfg, err := parseUploadConfig(args[1:], stderr)
			if err != nil {
				return err
			}
			return runUploads(ctx, cfg, stdout)
		case "reportdata":
			cfg, err := parseReportDataConfig(args[1:], stderr)
			if err != nil {
				return err
			}
			return runReportData(ctx, cfg, stdout)
		case "reports":
			cfg, err := parseReportsConfig(args[1:], stderr)
			if err != nil {
				return err
			}
			return runReports(ctx, cfg, stdout)
		case "dbfloor":
			cfg, err := parseDBFloorConfig(args[1:], stderr)
			if err != nil {
				return err
			}
			return runDBFloor(ctx, cfg, stdout)
		case "drain":
			cfg, err := parseDrainConfig(args[1:], stderr)
			if err != nil {
				return err
			}
			return runDrain(ctx, cfg, stdout)
		}
	}
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	return runLoad(ctx, cfg, stdout)
}
