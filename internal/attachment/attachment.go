// Package attachment takes the files people send with their messages:
// it streams an upload to a temporary file (never the whole of it in
// memory), names its type from its content, refuses what must not be
// sent, strips photos' metadata, makes a thumbnail of each image, keeps
// the bytes in a file store and the record in the database, and signs the
// short-lived URLs the pages fetch them with.
//
// Who may read which attachment is the conversation's rule
// (conversation.Service.Attachments); this package only checks that a
// URL was signed by the desk and has not expired.
package attachment

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Defaults.
const (
	DefaultMaxBytes   = 20 << 20  // one file
	DefaultDailyQuota = 500 << 20 // what one person may upload in 24 hours
	// UnusedFor is how long an upload no message took is kept.
	UnusedFor = 24 * time.Hour
	// sweepEvery: how often each node looks for unused uploads.
	sweepEvery = 10 * time.Minute
)

// Files keeps the bytes (*filestore.Dir, *filestore.S3).
type Files interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	Open(ctx context.Context, key string) (io.ReadCloser, int64, error)
	Delete(ctx context.Context, key string) error
}

// Store keeps the records, and the key URLs are signed with.
type Store interface {
	desk.AttachmentStore
	Secret(ctx context.Context, name string) ([]byte, error)
}

// Config wires a Service.
type Config struct {
	Files Files
	Store Store
	// MaxBytes is one file's limit (DefaultMaxBytes); DailyQuota what one
	// person may upload in any 24 hours (DefaultDailyQuota).
	MaxBytes   int64
	DailyQuota int64
	// URLTTL is how long a signed URL works (DefaultURLTTL).
	URLTTL time.Duration
	// TempDir holds uploads while they are checked (os.TempDir()).
	TempDir string
	Log     *slog.Logger
	Now     func() time.Time
}

// Service takes uploads and serves them.
type Service struct {
	cfg    Config
	signer signer
	// work bounds the images decoded at once: a 12-megapixel photo takes
	// some 50 MB while its thumbnail is made, and fifty phones uploading
	// together must not take fifty times that.
	work chan struct{}
}

// New returns a Service; the signing key is the desk's, shared by its nodes
// through the database.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.DailyQuota <= 0 {
		cfg.DailyQuota = DefaultDailyQuota
	}
	if cfg.URLTTL <= 0 {
		cfg.URLTTL = DefaultURLTTL
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	key, err := cfg.Store.Secret(ctx, "attachment-urls")
	if err != nil {
		return nil, fmt.Errorf("attachments: signing key: %w", err)
	}
	return &Service{cfg: cfg, signer: signer{key: key}, work: make(chan struct{}, runtime.GOMAXPROCS(0))}, nil
}

// MaxBytes is the limit of one file.
func (s *Service) MaxBytes() int64 { return s.cfg.MaxBytes }

var idEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

func newID() (string, error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", desk.Wrap(desk.EInternal, err, "generate id")
	}
	return "at_" + strings.ToLower(idEncoding.EncodeToString(b[:])), nil
}

func fileKey(id string, thumb bool) string {
	if thumb {
		return "a/" + id + ".thumb"
	}
	return "a/" + id
}

// Upload takes one file from owner. body is read once, to at most
// MaxBytes+1 bytes; the caller bounds it too (http.MaxBytesReader) so an
// oversize upload is cut off while it streams.
func (s *Service) Upload(ctx context.Context, owner desk.Principal, name string, body io.Reader) (desk.Attachment, error) {
	used, err := s.cfg.Store.UploadedSince(ctx, owner, s.cfg.Now().Add(-24*time.Hour))
	if err != nil {
		return desk.Attachment{}, err
	}
	if used >= s.cfg.DailyQuota {
		return desk.Attachment{}, quotaError(s.cfg.DailyQuota)
	}
	spool, err := os.CreateTemp(s.cfg.TempDir, "upload-*")
	if err != nil {
		return desk.Attachment{}, desk.Wrap(desk.EUnavailable, err, "no room for uploads")
	}
	defer func() { spool.Close(); os.Remove(spool.Name()) }()
	n, err := io.Copy(spool, io.LimitReader(body, s.cfg.MaxBytes+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) || n > s.cfg.MaxBytes:
		return desk.Attachment{}, desk.Errorf(desk.ETooLarge, "a file may be at most %d bytes", s.cfg.MaxBytes).WithReason("too_large")
	case err != nil:
		return desk.Attachment{}, desk.Wrap(desk.EInvalid, err, "the upload was cut off").WithReason("incomplete")
	case n == 0:
		return desk.Attachment{}, desk.Errorf(desk.EInvalid, "the file is empty").WithReason("empty")
	case used+n > s.cfg.DailyQuota:
		return desk.Attachment{}, quotaError(s.cfg.DailyQuota)
	}
	a, clean, thumb, err := s.check(ctx, spool, name, n)
	if err != nil {
		return desk.Attachment{}, err
	}
	defer func() {
		for _, f := range []*os.File{clean, thumb} {
			if f != nil && f != spool {
				f.Close()
				os.Remove(f.Name())
			}
		}
	}()
	if a.ID, err = newID(); err != nil {
		return desk.Attachment{}, err
	}
	a.Owner, a.CreatedAt = owner, s.cfg.Now().UTC()
	if err := s.put(ctx, fileKey(a.ID, false), clean, a.Type); err != nil {
		return desk.Attachment{}, err
	}
	if thumb != nil {
		if err := s.put(ctx, fileKey(a.ID, true), thumb, "image/jpeg"); err != nil {
			s.remove(a)
			return desk.Attachment{}, err
		}
	}
	if err := s.cfg.Store.CreateAttachment(ctx, a); err != nil {
		s.remove(a)
		return desk.Attachment{}, err
	}
	return a, nil
}

func quotaError(quota int64) error {
	return desk.Errorf(desk.ETooLarge, "you have uploaded your %d MiB for today; try again tomorrow", quota>>20).WithReason("quota")
}

// check names the spooled file's content, refuses what must not be sent,
// and returns its record and the files to store: the upload itself or a
// copy without metadata, and a thumbnail for an image.
func (s *Service) check(ctx context.Context, spool *os.File, name string, size int64) (a desk.Attachment, clean, thumb *os.File, err error) {
	head := make([]byte, 512)
	hn, _ := spool.ReadAt(head, 0)
	k, err := sniff(head[:hn])
	if err != nil {
		return a, nil, nil, err
	}
	a.Name = cleanName(name)
	if err := checkName(a.Name, k); err != nil {
		return a, nil, nil, err
	}
	a.Type, a.Size, clean = k.mime, size, spool
	if !k.image {
		return a, clean, nil, nil
	}
	if a.Width, a.Height, err = imageSize(io.NewSectionReader(spool, 0, size)); err != nil {
		return a, nil, nil, err
	}
	orientation := 1
	switch k.mime {
	case "image/jpeg", "image/png":
		if clean, err = os.CreateTemp(s.cfg.TempDir, "clean-*"); err != nil {
			return a, nil, nil, desk.Wrap(desk.EUnavailable, err, "no room for uploads")
		}
		if k.mime == "image/jpeg" {
			orientation, err = stripJPEG(io.NewSectionReader(spool, 0, size), clean)
		} else {
			err = stripPNG(io.NewSectionReader(spool, 0, size), clean)
		}
		if err != nil {
			clean.Close()
			os.Remove(clean.Name())
			return a, nil, nil, desk.Errorf(desk.EUnsupported, "the image cannot be read").WithReason("unreadable_image")
		}
		if a.Size, err = clean.Seek(0, io.SeekCurrent); err != nil {
			return a, clean, nil, desk.Wrap(desk.EUnavailable, err, "no room for uploads")
		}
	}
	if orientation >= 5 { // shown upright, a quarter-turned photo is h × w
		a.Width, a.Height = a.Height, a.Width
	}
	if thumb, err = os.CreateTemp(s.cfg.TempDir, "thumb-*"); err != nil {
		return a, clean, nil, desk.Wrap(desk.EUnavailable, err, "no room for uploads")
	}
	select {
	case s.work <- struct{}{}:
	case <-ctx.Done():
		return a, clean, thumb, desk.Wrap(desk.EUnavailable, ctx.Err(), "the upload was abandoned")
	}
	err = thumbnail(io.NewSectionReader(clean, 0, a.Size), orientation, thumb)
	<-s.work
	if err != nil {
		return a, clean, thumb, desk.Errorf(desk.EUnsupported, "the image cannot be read").WithReason("unreadable_image")
	}
	a.Thumbnail = true
	return a, clean, thumb, nil
}

// put stores f from its start.
func (s *Service) put(ctx context.Context, key string, f *os.File, contentType string) error {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return desk.Wrap(desk.EUnavailable, err, "no room for uploads")
	}
	return s.cfg.Files.Put(ctx, key, io.NewSectionReader(f, 0, size), size, contentType)
}

// remove deletes an attachment's files, best effort: what stays is found
// by nobody and costs only disk.
func (s *Service) remove(a desk.Attachment) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, thumb := range []bool{false, true} {
		if err := s.cfg.Files.Delete(ctx, fileKey(a.ID, thumb)); err != nil {
			s.cfg.Log.Warn("delete attachment file", "attachment_id", a.ID, "error", err)
		}
	}
}

// Open returns an attachment's record and its bytes (the thumbnail when
// thumb), for a URL the desk signed.
func (s *Service) Open(ctx context.Context, id string, thumb bool) (desk.Attachment, io.ReadCloser, int64, error) {
	a, err := s.cfg.Store.Attachment(ctx, id)
	if err != nil {
		return a, nil, 0, err
	}
	if thumb && !a.Thumbnail {
		return a, nil, 0, desk.Errorf(desk.ENotFound, "no thumbnail")
	}
	r, size, err := s.cfg.Files.Open(ctx, fileKey(id, thumb))
	return a, r, size, err
}

// Delete removes attachments and their files: the retention of a
// conversation's data calls it with the conversation's.
func (s *Service) Delete(ctx context.Context, as []desk.Attachment) error {
	for _, a := range as {
		for _, thumb := range []bool{false, true} {
			if err := s.cfg.Files.Delete(ctx, fileKey(a.ID, thumb)); err != nil {
				return err
			}
		}
		if err := s.cfg.Store.DeleteAttachment(ctx, a.ID); err != nil {
			return err
		}
	}
	return nil
}

// Sweep deletes uploads no message took within UnusedFor, and returns how
// many. Nodes may sweep side by side: deleting twice is harmless.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	total := 0
	for {
		as, err := s.cfg.Store.UnusedAttachments(ctx, s.cfg.Now().Add(-UnusedFor), 100)
		if err != nil || len(as) == 0 {
			return total, err
		}
		if err := s.Delete(ctx, as); err != nil {
			return total, err
		}
		total += len(as)
	}
}

// Run sweeps every few minutes until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		if n, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Log.Warn("sweep unused uploads", "error", err)
		} else if n > 0 {
			s.cfg.Log.Info("unused uploads deleted", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
