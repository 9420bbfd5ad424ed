package config

import (
	"fmt"
	"os"
	"strings"
)

// secretEnv reads a secret from SERVICEDESK_{name}, or else from the file
// SERVICEDESK_{name}_FILE names (a Docker or Kubernetes secret): never
// from a flag, which shows in ps.
func secretEnv(getenv func(string) string, name string) (string, error) {
	if v := strings.TrimSpace(getenv(EnvPrefix + name)); v != "" {
		return v, nil
	}
	file := getenv(EnvPrefix + name + "_FILE")
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s%s_FILE: %w", EnvPrefix, name, err)
	}
	return strings.TrimSpace(string(b)), nil
}
