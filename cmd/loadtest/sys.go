package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// raiseFileLimit lifts the soft open-file limit to the hard one, since
// every connection is a file, and returns the limit now in force.
func raiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, fmt.Errorf("setrlimit: %w", err)
		}
	}
	return l.Cur, nil
}

// readRSS returns a process's resident set size in KiB from /proc.
func readRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// processName returns a process's command name, or "?" when unreadable.
func processName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return string(bytes.TrimSpace(b))
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every
// Linux architecture Go supports (reading it properly needs cgo's sysconf).
const clockTicks = 100

// processCPU reads utime+stime of pid from /proc/{pid}/stat.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name in parentheses may hold spaces; fields count from
	// after its closing parenthesis, where field 3 (state) begins.
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// machineCPU reads the first line of /proc/stat: the busy time and the
// total time of all CPUs together. Zero when unreadable.
func machineCPU() (busy, total time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	var sum, idle int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 8 {
			break // guest times are already counted in user and nice
		}
		sum += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return time.Duration(sum-idle) * time.Second / clockTicks, time.Duration(sum) * time.Second / clockTicks
}

// commCPU returns the CPU time of every process whose command name is
// comm, by pid: a database server runs as many processes (PostgreSQL
// forks one per connection), whose ids the load tool does not know.
func commCPU(comm string) map[int]time.Duration {
	dirs, _ := os.ReadDir("/proc")
	out := map[int]time.Duration{}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || processName(pid) != comm {
			continue
		}
		if t, err := processCPU(pid); err == nil {
			out[pid] = t
		}
	}
	return out
}

// commDelta is the CPU time the processes of b used since a: all of it
// for a process that started in between. What a process used before it
// ended in between is lost with it, so the figure is a lower bound.
func commDelta(a, b map[int]time.Duration) time.Duration {
	var sum time.Duration
	for pid, t := range b {
		sum += t - a[pid]
	}
	return sum
}

// exited reports whether pid has ended: gone, or a zombie its parent has
// not reaped yet.
func exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	end := bytes.LastIndexByte(b, ')')
	if end < 0 || end+2 >= len(b) {
		return true
	}
	state := b[end+2]
	return state == 'Z' || state == 'X'
}

// processLabel names a server process by its --addr when its command line
// has one, else by its pid.
func processLabel(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err == nil {
		args := strings.Split(string(b), "\x00")
		for i, a := range args {
			if v, ok := strings.CutPrefix(a, "--addr="); ok {
				return v
			}
			if (a == "--addr" || a == "-addr") && i+1 < len(args) {
				return args[i+1]
			}
		}
	}
	return fmt.Sprintf("pid %d", pid)
}
