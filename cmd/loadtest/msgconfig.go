package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"time"
)

// msgConfig holds the parameters of one "loadtest messages" run.
type msgConfig struct {
	url           string
	agentUser     string
	agentPass     string
	agentConns    int
	conversations int
	rate          float64
	duration      time.Duration
	serverMsgRate float64
	concurrency   int
	sources       int
	dialTimeout   time.Duration
	drainTimeout  time.Duration
	settle        time.Duration
	readClaim     bool
	verify        int
	pid           int
	watchComm     string
	databaseURL   string
}

// parseMsgConfig reads the messages subcommand's flags and validates them.
func parseMsgConfig(args []string, stderr io.Writer) (msgConfig, error) {
	var c msgConfig
	fs := flag.NewFlagSet("loadtest messages", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadtest messages [flags]   (against a server started with --dev)")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.url, "url", "ws://127.0.0.1:8000", "server base URL; REST calls go to the same host over http(s)")
	fs.StringVar(&c.agentUser, "agent-username", "demo", "agent account that claims and receives every conversation")
	fs.StringVar(&c.agentPass, "agent-password", "demo", "its password")
	fs.IntVar(&c.agentConns, "agent-conns", 1, "WebSocket connections opened for the agent; each receives every message")
	fs.IntVar(&c.conversations, "conversations", 1000, "employees, each with one socket and one conversation")
	fs.Float64Var(&c.rate, "rate", 5000, "messages per second sent in total, spread evenly over the conversations")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to send")
	fs.Float64Var(&c.serverMsgRate, "server-msg-rate", 20, "the server's --msg-rate; the per-conversation rate must stay under it or the server closes with 1008")
	fs.IntVar(&c.concurrency, "concurrency", 32, "employees set up at once (login, connect, create, claim)")
	fs.IntVar(&c.sources, "sources", 1, "loopback source addresses to spread connections over (127.0.0.1..127.0.0.N)")
	fs.DurationVar(&c.dialTimeout, "dial-timeout", 10*time.Second, "limit for one handshake or one REST call")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 10*time.Second, "how long after the last send acks and deliveries may still arrive; later ones count as lost")
	fs.DurationVar(&c.settle, "settle", 2*time.Second, "pause between setup and sending, so setup traffic (queue positions) dies down")
	fs.BoolVar(&c.readClaim, "read-claim", false, "each employee marks its conversation read up to the claim during setup, as the H5 page does when it shows the claim; without it each employee's first message also carries the read receipt of the claim, all in the first 1/(rate per conversation) s of sending")
	fs.IntVar(&c.verify, "verify", 10, "conversations whose stored history is read back and counted at the end; 0 skips")
	fs.IntVar(&c.pid, "pid", 0, "server process id, for its CPU time during the run; 0 skips")
	fs.StringVar(&c.watchComm, "watch-comm", "", "also report the CPU time of every process with this command name (e.g. postgres)")
	fs.StringVar(&c.databaseURL, "database-url", "", "the server's PostgreSQL database (on this machine): also report the CPU time of its sessions alone")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.validate()
}

// validate rejects values the run cannot honour.
func (c msgConfig) validate() error {
	u, err := url.Parse(c.url)
	switch {
	case err != nil:
		return fmt.Errorf("--url: %w", err)
	case u.Scheme != "ws" && u.Scheme != "wss":
		return fmt.Errorf("--url: scheme must be ws or wss, got %q", u.Scheme)
	case c.agentConns < 1 || c.conversations < 1 || c.concurrency < 1:
		return fmt.Errorf("--agent-conns, --conversations and --concurrency must be at least 1")
	case c.sources < 1 || c.sources > 254:
		return fmt.Errorf("--sources must be between 1 and 254")
	case c.rate <= 0 || c.duration <= 0 || c.dialTimeout <= 0 || c.drainTimeout <= 0 || c.settle < 0:
		return fmt.Errorf("--rate and durations must be positive")
	case c.perConversation() > c.serverMsgRate:
		return fmt.Errorf("--rate %.0f over %d conversations is %.1f messages/s per socket, above the server's --msg-rate %.0f: add conversations, or raise the server's limit and --server-msg-rate",
			c.rate, c.conversations, c.perConversation(), c.serverMsgRate)
	case c.total() < 1:
		return fmt.Errorf("--rate × --duration sends no message")
	case c.total() > math.MaxInt32:
		return fmt.Errorf("--rate × --duration is too many messages")
	case c.verify < 0:
		return fmt.Errorf("--verify must not be negative")
	}
	return nil
}

// perConversation is the rate each employee socket sends at.
func (c msgConfig) perConversation() float64 { return c.rate / float64(c.conversations) }

// total is how many messages the run sends.
func (c msgConfig) total() int64 { return int64(c.rate * c.duration.Seconds()) }

// flags renders the parameters the figures depend on, for the report.
func (c msgConfig) flags() string {
	return fmt.Sprintf("--conversations %d --rate %.0f --duration %s --agent-conns %d --concurrency %d --sources %d --settle %s --drain-timeout %s --verify %d%s",
		c.conversations, c.rate, c.duration, c.agentConns, c.concurrency, c.sources, c.settle, c.drainTimeout, c.verify, readClaimFlag(c.readClaim))
}

// readClaimFlag names --read-claim in the parameters line when it is on:
// runs without it print what they always did.
func readClaimFlag(on bool) string {
	if on {
		return " --read-claim"
	}
	return ""
}
