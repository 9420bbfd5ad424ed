package config

import (
	"io"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestDevListensOnLoopback: --dev (demo account, mock login) is reachable
// from this machine only, unless an address is asked for.
func TestDevListensOnLoopback(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--dev"}, nil, DefaultDevAddr},
		{[]string{"--dev", "--addr", ":9000"}, nil, ":9000"},
		{[]string{"--dev"}, map[string]string{"SERVICEDESK_ADDR": "0.0.0.0:8000"}, "0.0.0.0:8000"},
		{nil, nil, DefaultAddr},
	} {
		c, err := Parse("servicedesk", tc.args, env(tc.env), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.Addr != tc.want {
			t.Errorf("%v %v: addr %q, want %q", tc.args, tc.env, c.Addr, tc.want)
		}
	}
}
