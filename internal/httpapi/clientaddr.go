package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies says which peers are our own reverse proxies, whose
// X-Forwarded-For and X-Forwarded-Proto are believed. Behind a proxy every
// request comes from its address; without a list of trusted proxies, all
// users would share one login budget, and nobody could be told apart in
// the logs. A forwarded header from anyone else is ignored: it is the
// client's own word.
type Proxies []netip.Prefix

// ParseProxies reads a comma-separated list of addresses and CIDR ranges.
func ParseProxies(list []string) (Proxies, error) {
	var out Proxies
	for _, s := range list {
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (p Proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, pre := range p {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

func peer(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	return a.Unmap(), err == nil
}

// ClientAddr is the address of the client that sent r: the peer's, or,
// when the peer is a trusted proxy, the rightmost X-Forwarded-For entry
// that is not one (entries further left were written by the client and
// anyone before our proxies, and prove nothing).
func (p Proxies) ClientAddr(r *http.Request) string {
	a, ok := peer(r)
	if !ok {
		return r.RemoteAddr
	}
	if len(p) == 0 || !p.trusted(a) {
		return a.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !p.trusted(h) {
			return h.Unmap().String()
		}
		a = h
	}
	return a.Unmap().String()
}

// Scheme is the scheme the client used: https behind a trusted proxy that
// says so (X-Forwarded-Proto), or when we terminate TLS ourselves.
func (p Proxies) Scheme(r *http.Request) string {
	if a, ok := peer(r); ok && len(p) > 0 && p.trusted(a) {
		if proto := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto"))); proto == "https" || proto == "http" {
			return proto
		}
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
