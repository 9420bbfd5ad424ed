package desk

import (
	"context"
	"time"
)

// MaxAttachments is how many files one message may carry.
const MaxAttachments = 9

// Attachment is a file a person uploaded, and once a message carries it,
// part of that message. Its bytes live in a file store; this is what the
// desk knows of them.
type Attachment struct {
	ID   string `json:"id"` // "at_" and 16 base32 characters
	Name string `json:"name"`
	// Type is the sniffed media type, never the one the client claimed.
	Type   string `json:"type"`
	Size   int64  `json:"size"`
	Width  int    `json:"width,omitempty"`  // images only
	Height int    `json:"height,omitempty"` // images only
	// Thumbnail: a small preview is kept beside the file (images only).
	Thumbnail bool `json:"thumbnail"`

	Owner     Principal `json:"-"`
	CreatedAt time.Time `json:"-"`
	// ConversationID is empty until a message carries the attachment;
	// Private when that message is a note (never shown to the employee).
	ConversationID string `json:"-"`
	Private        bool   `json:"-"`
}

// IsImage reports whether the attachment is shown inline (a picture with a
// thumbnail); every other file is only ever offered as a download.
func (a Attachment) IsImage() bool { return a.Thumbnail }

// AttachmentStore keeps the attachments' records (the bytes are a file
// store's).
type AttachmentStore interface {
	CreateAttachment(ctx context.Context, a Attachment) error
	Attachment(ctx context.Context, id string) (Attachment, error)
	// UploadedSince is how many bytes owner uploaded since then, for the
	// daily quota.
	UploadedSince(ctx context.Context, owner Principal, since time.Time) (int64, error)
	// UnusedAttachments lists attachments no message took, uploaded
	// before then; DeleteAttachment forgets one.
	UnusedAttachments(ctx context.Context, before time.Time, limit int) ([]Attachment, error)
	DeleteAttachment(ctx context.Context, id string) error
	// ConversationAttachments lists the attachments a conversation's
	// messages carry, the private ones (notes') only when asked.
	ConversationAttachments(ctx context.Context, conversationID string, private bool) ([]Attachment, error)
}
