package main

import (
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"
)

// cpuProc is one server process whose CPU time a run reports; label
// names it when there are several (a node's host:port).
type cpuProc struct {
	label string
	pid   int
}

// cpuWatch names what a run's cpu line splits the machine's time into:
// the servers, the processes named in comms (redis-server, postgres), and
// the load tool itself.
type cpuWatch struct {
	servers []cpuProc
	comms   []string
}

// cpuSample is the CPU time used so far by the watched processes, this
// process and the whole machine.
type cpuSample struct {
	at             time.Time
	watch          cpuWatch
	servers        []time.Duration         // per watch.servers
	serverErrs     []error                 // per watch.servers: the process has exited
	client         time.Duration           // user+system of this process
	watched        []map[int]time.Duration // per watch.comms: each process's time
	busy, capacity time.Duration           // all CPUs: non-idle time, and all time
}

// sample reads the CPU times now.
func (w cpuWatch) sample() cpuSample {
	s := cpuSample{at: time.Now(), watch: w}
	for _, p := range w.servers {
		t, err := processCPU(p.pid)
		s.servers = append(s.servers, t)
		s.serverErrs = append(s.serverErrs, err)
	}
	for _, c := range w.comms {
		s.watched = append(s.watched, commCPU(c))
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.client = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s.busy, s.capacity = machineCPU()
	return s
}

// printCPU prints where the CPU went between two samples of one watch,
// in cores. A server that exited in between is left out of the sums, so
// its share shows under "everything else".
func printCPU(out io.Writer, a, b cpuSample) {
	wall := b.at.Sub(a.at)
	cores := func(d time.Duration) float64 { return float64(d) / float64(wall) }
	var (
		total    time.Duration
		measured int
		parts    []string
	)
	for i, p := range a.watch.servers {
		if a.serverErrs[i] != nil || b.serverErrs[i] != nil {
			parts = append(parts, p.label+" exited")
			continue
		}
		d := b.servers[i] - a.servers[i]
		total += d
		measured++
		parts = append(parts, fmt.Sprintf("%s %.2f", p.label, cores(d)))
	}
	var server string
	switch {
	case len(a.watch.servers) == 0:
		server = "server not measured (no --pid)"
	case len(a.watch.servers) == 1 && measured == 1:
		server = fmt.Sprintf("server %.2f", cores(total))
	case len(a.watch.servers) == 1:
		server = "server not measured (exited)"
	default:
		server = fmt.Sprintf("servers %.2f (%s)", cores(total), strings.Join(parts, ", "))
	}
	line := fmt.Sprintf("cpu over %.2f s, in cores: %s", wall.Seconds(), server)
	accounted := total + (b.client - a.client)
	for i, c := range a.watch.comms {
		d := commDelta(a.watched[i], b.watched[i])
		line += fmt.Sprintf(", %s %.2f", c, cores(d))
		accounted += d
	}
	line += fmt.Sprintf(", client %.2f", cores(b.client-a.client))
	if b.capacity > a.capacity {
		busy := b.busy - a.busy
		line += fmt.Sprintf(", whole machine %.2f of %.0f busy", cores(busy), cores(b.capacity-a.capacity))
		if measured > 0 {
			// Other jobs sharing the machine, and the kernel's own work.
			line += fmt.Sprintf(", everything else %.2f", max(0, cores(busy-accounted)))
		}
	}
	fmt.Fprintln(out, line)
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
