package httpapi

import (
	"net/http/httptest"
	"testing"
)

func TestClientAddrBehindTrustedProxies(t *testing.T) {
	proxies, err := ParseProxies([]string{"10.0.0.0/8", "192.0.2.5"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, peer, xff, proto string
		proxies                Proxies
		want, scheme           string
	}{
		{"no proxies: the peer, whatever it says", "203.0.113.9:5000", "1.2.3.4", "https", nil, "203.0.113.9", "http"},
		{"an untrusted peer's header is its own word", "203.0.113.9:5000", "1.2.3.4", "https", proxies, "203.0.113.9", "http"},
		{"a trusted proxy: the client it saw", "10.1.2.3:5000", "198.51.100.7", "https", proxies, "198.51.100.7", "https"},
		{"through two proxies", "10.1.2.3:5000", "198.51.100.7, 192.0.2.5", "", proxies, "198.51.100.7", "http"},
		{"a forged entry left of the real one", "10.1.2.3:5000", "6.6.6.6, 198.51.100.7", "", proxies, "198.51.100.7", "http"},
		{"garbage stops at the last good hop", "10.1.2.3:5000", "nonsense", "", proxies, "10.1.2.3", "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if tt.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			if got := tt.proxies.ClientAddr(r); got != tt.want {
				t.Errorf("ClientAddr = %q, want %q", got, tt.want)
			}
			if got := tt.proxies.Scheme(r); got != tt.scheme {
				t.Errorf("Scheme = %q, want %q", got, tt.scheme)
			}
		})
	}
	if _, err := ParseProxies([]string{"not-an-address"}); err == nil {
		t.Error("ParseProxies accepted nonsense")
	}
}
