// Package filestore keeps the bytes of attachments: in a directory for a
// desk on one node, in S3-compatible object storage for several. Both
// answer the same small contract (filestoretest), so the desk does not care
// which it has.
package filestore

import (
	"fmt"
	"strings"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// checkKey accepts the keys the desk makes ("a/at_….thumb"): lower-case
// letters, digits, "_", "-", "." and "/" between parts, never "..", so a
// key can never name a file outside the store.
func checkKey(key string) error {
	if key == "" || len(key) > 200 || strings.Contains(key, "..") || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return desk.Errorf(desk.EInvalid, "file key %q is not one the desk makes", key)
	}
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./", r)) {
			return desk.Errorf(desk.EInvalid, "file key %q is not one the desk makes", key)
		}
	}
	return nil
}

func notFound(key string) error {
	return desk.Errorf(desk.ENotFound, "file %s not found", key)
}

func unavailable(err error, doing string) error {
	return desk.Wrap(desk.EUnavailable, fmt.Errorf("file store: %s: %w", doing, err), "file store unavailable")
}
