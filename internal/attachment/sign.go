package attachment

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// DefaultURLTTL is how long a signed URL works: long enough to look at a
// conversation, short enough that a URL copied out of it soon stops working.
const DefaultURLTTL = 15 * time.Minute

// An <img> cannot send an Authorization header and tokens must never be
// in a URL, so the pages fetch files through URLs the desk signed after
// checking who asked: the signature covers the id, the variant and the
// expiry, and nothing else grants access.
type signer struct{ key []byte }

func (s signer) sig(id, variant string, exp int64) string {
	m := hmac.New(sha256.New, s.key)
	fmt.Fprintf(m, "%s\n%s\n%d", id, variant, exp)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Variants of a file a URL may name.
const (
	VariantFile  = "file"
	VariantThumb = "thumb"
)

// URL is the path and query of a signed URL for one variant of id.
func (s *Service) URL(id, variant string) (string, time.Time) {
	exp := s.cfg.Now().Add(s.cfg.URLTTL).Truncate(time.Second)
	q := url.Values{"exp": {strconv.FormatInt(exp.Unix(), 10)}, "sig": {s.signer.sig(id, variant, exp.Unix())}}
	return "/files/" + id + "/" + variant + "?" + q.Encode(), exp
}

// Verify checks a signed URL's parts: a tampered or foreign signature is
// forbidden, an expired one too (the page asks for a fresh one).
func (s *Service) Verify(id, variant, exp, sig string) error {
	if !desk.ValidAttachmentID(id) || (variant != VariantFile && variant != VariantThumb) {
		return desk.Errorf(desk.ENotFound, "no such file")
	}
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !hmac.Equal([]byte(sig), []byte(s.signer.sig(id, variant, e))) {
		return desk.Errorf(desk.EForbidden, "this link is not valid")
	}
	if s.cfg.Now().Unix() > e {
		return desk.Errorf(desk.EForbidden, "this link has expired; reload the conversation").WithReason("expired")
	}
	return nil
}
