package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// parseNodeURLs splits a --url value into the base URLs of the nodes,
// each ws:// or wss://, without a trailing slash.
func parseNodeURLs(flagName, s string) ([]string, error) {
	var urls []string
	for _, raw := range splitList(s) {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			return nil, fmt.Errorf("%s: %w", flagName, err)
		case u.Scheme != "ws" && u.Scheme != "wss":
			return nil, fmt.Errorf("%s: scheme must be ws or wss, got %q", flagName, u.Scheme)
		case u.Host == "":
			return nil, fmt.Errorf("%s: %q has no host", flagName, raw)
		}
		urls = append(urls, strings.TrimSuffix(raw, "/"))
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("%s: no URL", flagName)
	}
	return urls, nil
}

// parsePids reads a comma-separated list of process ids. With want > 0
// the list must be empty or hold exactly want ids (0 for one not known).
func parsePids(s string, want int) ([]int, error) {
	var pids []int
	for _, f := range splitList(s) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid < 0 {
			return nil, fmt.Errorf("--pid: %q is not a process id", f)
		}
		pids = append(pids, pid)
	}
	if want > 0 && len(pids) != 0 && len(pids) != want {
		return nil, fmt.Errorf("--pid: %d ids for %d nodes; give one per --url, in the same order (0 for unknown)", len(pids), want)
	}
	return pids, nil
}

// nodeLabel names a node in reports by its host:port.
func nodeLabel(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		return u.Host
	}
	return rawURL
}

// indexOf returns the position of s in list, or -1.
func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// nodeCPU is the cpu watch of the nodes whose pids are known, labelled by
// host:port, plus the processes named in comms.
func nodeCPU(urls []string, pids []int, comms []string) cpuWatch {
	w := cpuWatch{comms: comms}
	for i, pid := range pids {
		if pid != 0 {
			w.servers = append(w.servers, cpuProc{label: nodeLabel(urls[i]), pid: pid})
		}
	}
	return w
}
