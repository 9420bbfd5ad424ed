package kb

import (
	"context"
	"regexp"
	"slices"
	"strings"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Pictures in articles live in the attachment store: an agent uploads one
// (POST /api/uploads) and the body names it as ![说明](attachment:at_…).
// Saving the article claims the upload for the knowledge base (it is then
// no longer an unused upload the sweeper deletes), and whoever may read
// the article gets a signed URL for each picture it names. Only uploads
// made by agents for the knowledge base qualify: a screenshot from an
// employee's conversation can never be shown by naming its id.

// Images is the attachment records' side of it (the SQL stores).
type Images interface {
	Attachment(ctx context.Context, id string) (desk.Attachment, error)
	// ClaimAttachmentForArticle marks an unused upload (no conversation
	// yet) with claim ("kb:" and the article's id) in its conversation's
	// place; one already claimed stays as it is.
	ClaimAttachmentForArticle(ctx context.Context, id, claim string) error
}

// kbPrefix marks an attachment claimed by an article, in the place a
// conversation's id would be.
const kbPrefix = "kb:"

// maxImages bounds the pictures of one article.
const maxImages = 30

var imageRef = regexp.MustCompile(`!\[[^\]]*\]\(attachment:(at_[a-z0-9]{1,40})\)`)

// ImageIDs lists the attachments a body names as pictures, each once.
func ImageIDs(body string) []string {
	var ids []string
	for _, m := range imageRef.FindAllStringSubmatch(body, -1) {
		if !slices.Contains(ids, m[1]) {
			ids = append(ids, m[1])
		}
	}
	return ids
}

// checkImages refuses a body naming pictures that are not agents'
// uploads for the knowledge base.
func (s *Service) checkImages(ctx context.Context, body string) ([]string, error) {
	ids := ImageIDs(body)
	if len(ids) == 0 {
		return nil, nil
	}
	if s.cfg.Images == nil {
		return nil, desk.Errorf(desk.EInvalid, "this desk keeps no files, so an article cannot show pictures")
	}
	if len(ids) > maxImages {
		return nil, desk.Errorf(desk.EInvalid, "an article shows at most %d pictures", maxImages)
	}
	for _, id := range ids {
		a, err := s.cfg.Images.Attachment(ctx, id)
		if desk.ErrorCode(err) == desk.ENotFound {
			return nil, desk.Errorf(desk.EInvalid, "picture %s does not exist; upload it again", id)
		} else if err != nil {
			return nil, err
		}
		if !a.IsImage() || a.Owner.Role != desk.RoleAgent || (a.ConversationID != "" && !strings.HasPrefix(a.ConversationID, kbPrefix)) {
			return nil, desk.Errorf(desk.EInvalid, "%s is not a picture uploaded for the knowledge base", id)
		}
	}
	return ids, nil
}

// claimImages marks the pictures a saved article names as its own.
func (s *Service) claimImages(ctx context.Context, articleID string, ids []string) error {
	for _, id := range ids {
		if err := s.cfg.Images.ClaimAttachmentForArticle(ctx, id, kbPrefix+articleID); err != nil {
			return err
		}
	}
	return nil
}

// Pictures returns the pictures of an article the caller has read (with
// Get, which applied the read rule): those the knowledge base holds.
func (s *Service) Pictures(ctx context.Context, a Article) ([]string, error) {
	if s.cfg.Images == nil {
		return nil, nil
	}
	var out []string
	for _, id := range ImageIDs(a.Body) {
		att, err := s.cfg.Images.Attachment(ctx, id)
		if desk.ErrorCode(err) == desk.ENotFound {
			continue
		} else if err != nil {
			return nil, err
		}
		if strings.HasPrefix(att.ConversationID, kbPrefix) && att.IsImage() {
			out = append(out, id)
		}
	}
	return out, nil
}
