package attachment

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/servicedesk/servicedesk/internal/desk"
	"github.com/servicedesk/servicedesk/internal/filestore"
	"github.com/servicedesk/servicedesk/internal/store/postgres/pgtest"
	"github.com/servicedesk/servicedesk/internal/store/sqlite"
)

var owner = desk.Principal{Role: desk.RoleEmployee, ID: "zhangsan"}

type harness struct {
	svc   *Service
	files *filestore.Dir
	db    Store
	clock *atomic.Int64 // offset from now
}

func stores(t *testing.T, fn func(t *testing.T, h *harness)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "desk.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, newHarness(t, db))
	})
	t.Run("postgres", func(t *testing.T) { fn(t, newHarness(t, pgtest.Open(t))) })
}

func newHarness(t *testing.T, db Store, opts ...func(*Config)) *harness {
	files, err := filestore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{files: files, db: db, clock: &atomic.Int64{}}
	cfg := Config{Files: files, Store: db, TempDir: t.TempDir(), MaxBytes: 1 << 20, DailyQuota: 4 << 20,
		Now: func() time.Time { return time.Now().Add(time.Duration(h.clock.Load())) }}
	for _, o := range opts {
		o(&cfg)
	}
	if h.svc, err = New(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	return h
}

// photo is a JPEG as a phone makes it: EXIF with the camera's make, a
// serial number and a GPS position, taken turned a quarter (orientation 6).
func photo(t *testing.T, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var plain bytes.Buffer
	if err := jpeg.Encode(&plain, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	// IFD0: Make (ASCII, at an offset), Orientation, GPS IFD pointer.
	tiff := new(bytes.Buffer)
	be := binary.BigEndian
	tiff.WriteString("MM\x00\x2a")
	binary.Write(tiff, be, uint32(8))
	const entries = 3
	makeOff := uint32(8 + 2 + 12*entries + 4)
	makeVal := "SecretCam SERIAL-4711\x00"
	gpsOff := makeOff + uint32(len(makeVal))
	binary.Write(tiff, be, uint16(entries))
	binary.Write(tiff, be, []uint16{0x010f, 2})
	binary.Write(tiff, be, []uint32{uint32(len(makeVal)), makeOff})
	binary.Write(tiff, be, []uint16{0x0112, 3})
	binary.Write(tiff, be, []uint32{1, 6 << 16})
	binary.Write(tiff, be, []uint16{0x8825, 4})
	binary.Write(tiff, be, []uint32{1, gpsOff})
	binary.Write(tiff, be, uint32(0))
	tiff.WriteString(makeVal)
	// GPS IFD: latitude ref "N" (inline) — enough to find if it survives.
	binary.Write(tiff, be, uint16(1))
	binary.Write(tiff, be, []uint16{0x0001, 2})
	binary.Write(tiff, be, []uint32{2, 'N' << 24})
	binary.Write(tiff, be, uint32(0))
	body := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(body)+2))
	out := append([]byte{0xff, 0xd8}, seg...)
	out = append(out, body...)
	// and a comment naming the place, which must go too
	com := []byte("GPS 31.2304N 121.4737E Shanghai")
	out = append(out, 0xff, 0xfe, byte((len(com)+2)>>8), byte(len(com)+2))
	out = append(out, com...)
	return append(out, plain.Bytes()[2:]...)
}

func pngOf(t *testing.T, w, h int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bomb is a PNG of a few bytes that declares 100,000 × 100,000 pixels.
func bomb() []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 100_000)
	binary.BigEndian.PutUint32(ihdr[4:], 100_000)
	ihdr[8], ihdr[9] = 8, 0 // 8-bit greyscale
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

func (h *harness) stored(t *testing.T, a desk.Attachment, thumb bool) []byte {
	t.Helper()
	r, _, err := h.files.Open(t.Context(), fileKey(a.ID, thumb))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	return b
}

func TestPhotoLosesItsMetadataButNotItsOrientation(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		raw := photo(t, 64, 48)
		a, err := h.svc.Upload(t.Context(), owner, "IMG_0001.JPG", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if a.Type != "image/jpeg" || !a.Thumbnail || a.Width != 48 || a.Height != 64 {
			t.Errorf("record %+v: want a JPEG with a thumbnail, 48 × 64 upright", a)
		}
		got := h.stored(t, a, false)
		for _, secret := range []string{"SecretCam", "SERIAL-4711", "Shanghai", "121.4737"} {
			if bytes.Contains(got, []byte(secret)) {
				t.Errorf("the stored photo still holds %q", secret)
			}
		}
		if bytes.Contains(got, []byte{0x88, 0x25}) && exifHasTag(got, 0x8825) {
			t.Error("the stored photo still points to GPS data")
		}
		if o, err := stripJPEG(bytes.NewReader(got), io.Discard); err != nil || o != 6 {
			t.Errorf("orientation kept = %d, %v; want 6", o, err)
		}
		if _, err := jpeg.Decode(bytes.NewReader(got)); err != nil {
			t.Errorf("the stored photo does not decode: %v", err)
		}
		thumb, err := jpeg.Decode(bytes.NewReader(h.stored(t, a, true)))
		if err != nil {
			t.Fatal(err)
		}
		if b := thumb.Bounds(); b.Dx() != 48 || b.Dy() != 64 {
			t.Errorf("thumbnail %v, want 48 × 64 (turned upright)", b)
		}
	})
}

func exifHasTag(jpegBytes []byte, tag uint16) bool {
	i := bytes.Index(jpegBytes, []byte("Exif\x00\x00"))
	if i < 0 {
		return false
	}
	t := jpegBytes[i+6:]
	off := int(binary.BigEndian.Uint32(t[4:8]))
	n := int(binary.BigEndian.Uint16(t[off:]))
	for k := range n {
		if binary.BigEndian.Uint16(t[off+2+12*k:]) == tag {
			return true
		}
	}
	return false
}

func TestFilesAndImagesAccepted(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		big := pngOf(t, 1000, 500)
		cases := []struct {
			name, file string
			body       []byte
			typ        string
			thumb      bool
		}{
			{"screenshot", "截图 2026-12-04.png", big, "image/png", true},
			{"a log", "vpn.log", []byte("2026-12-04 09:00:01 ERROR tls handshake failed\n"), "text/plain", false},
			{"a PDF", "报价.pdf", []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"), "application/pdf", false},
			{"a Word file", "report.docx", []byte("PK\x03\x04\x14\x00\x06\x00rest of a zip"), "application/zip", false},
			{"no extension", "README", []byte("plain words"), "text/plain", false},
			{"an HTML page is plain text", "page.htm", []byte("<html><script>alert(1)</script></html>"), "text/plain", false},
		}
		for _, c := range cases {
			a, err := h.svc.Upload(t.Context(), owner, c.file, bytes.NewReader(c.body))
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			if a.Type != c.typ || a.Thumbnail != c.thumb || a.Name != c.file || !desk.ValidAttachmentID(a.ID) {
				t.Errorf("%s: %+v", c.name, a)
			}
			if got, _ := h.db.Attachment(t.Context(), a.ID); got.Type != c.typ || got.Owner != owner || got.ConversationID != "" {
				t.Errorf("%s: stored record %+v", c.name, got)
			}
		}
		a, _ := h.svc.Upload(t.Context(), owner, "wide.png", bytes.NewReader(big))
		th, err := png.DecodeConfig(bytes.NewReader(h.stored(t, a, true)))
		if err == nil {
			t.Errorf("thumbnail is a PNG (%v); want JPEG", th)
		}
		img, err := jpeg.DecodeConfig(bytes.NewReader(h.stored(t, a, true)))
		if err != nil || img.Width != 320 || img.Height != 160 {
			t.Errorf("thumbnail %+v %v, want 320 × 160", img, err)
		}
	})
}

func TestBadUploadsAreRefusedAndNothingIsStored(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		cases := []struct {
			name, file string
			body       []byte
			code, why  string
		}{
			{"empty", "a.txt", nil, desk.EInvalid, "empty"},
			{"a Windows program", "setup.exe", append([]byte("MZ\x90\x00"), make([]byte, 100)...), desk.EUnsupported, "executable"},
			{"a program named as a picture", "cat.jpg", append([]byte("\x7fELF\x02\x01"), make([]byte, 100)...), desk.EUnsupported, "executable"},
			{"a script", "fix", []byte("#!/bin/sh\nrm -rf /\n"), desk.EUnsupported, "executable"},
			{"a runnable name", "invoice.pdf.bat", []byte("echo hi"), desk.EUnsupported, "executable"},
			{"a PDF named as a picture", "photo.png", []byte("%PDF-1.4\n"), desk.EUnsupported, "type_mismatch"},
			{"a picture named as a PDF", "contract.pdf", pngOf(t, 2, 2), desk.EUnsupported, "type_mismatch"},
			{"a decompression bomb", "huge.png", bomb(), desk.EInvalid, "too_many_pixels"},
			{"a broken image", "broken.png", []byte("\x89PNG\r\n\x1a\n\x00\x00garbage"), desk.EUnsupported, "unreadable_image"},
			{"over the size limit", "big.log", bytes.Repeat([]byte("x"), 1<<20+1), desk.ETooLarge, "too_large"},
		}
		for _, c := range cases {
			_, err := h.svc.Upload(t.Context(), owner, c.file, bytes.NewReader(c.body))
			if desk.ErrorCode(err) != c.code || desk.ErrorReason(err) != c.why {
				t.Errorf("%s: %v (reason %q), want %s/%s", c.name, err, desk.ErrorReason(err), c.code, c.why)
			}
		}
		if n, _ := h.db.UploadedSince(t.Context(), owner, time.Time{}); n != 0 {
			t.Errorf("refused uploads left %d bytes recorded", n)
		}
	})
}

func TestDailyQuota(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		chunk := bytes.Repeat([]byte("log line\n"), 100_000) // 900 KB
		for i := range 4 {
			if _, err := h.svc.Upload(t.Context(), owner, "a.log", bytes.NewReader(chunk)); err != nil {
				t.Fatalf("upload %d within the quota: %v", i, err)
			}
		}
		_, err := h.svc.Upload(t.Context(), owner, "a.log", bytes.NewReader(chunk))
		if desk.ErrorCode(err) != desk.ETooLarge || desk.ErrorReason(err) != "quota" {
			t.Fatalf("over the daily quota: %v", err)
		}
		other := desk.Principal{Role: desk.RoleAgent, ID: "a1"}
		if _, err := h.svc.Upload(t.Context(), other, "a.log", bytes.NewReader(chunk)); err != nil {
			t.Errorf("someone else's quota is theirs: %v", err)
		}
		h.clock.Store(int64(25 * time.Hour))
		if _, err := h.svc.Upload(t.Context(), owner, "a.log", bytes.NewReader(chunk)); err != nil {
			t.Errorf("a day later: %v", err)
		}
	})
}

func TestUnusedUploadsAreSweptAfterADay(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		unused, _ := h.svc.Upload(t.Context(), owner, "s.png", bytes.NewReader(pngOf(t, 10, 10)))
		used, _ := h.svc.Upload(t.Context(), owner, "t.png", bytes.NewReader(pngOf(t, 10, 10)))
		if err := h.db.(interface {
			Update(context.Context, func(desk.ConversationTx) error) error
		}).Update(t.Context(), func(tx desk.ConversationTx) error {
			_, err := tx.UseAttachments(t.Context(), []string{used.ID}, owner, "cv_0000000000000001", false)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n, err := h.svc.Sweep(t.Context()); n != 0 || err != nil {
			t.Fatalf("swept %d (%v) before a day passed", n, err)
		}
		h.clock.Store(int64(UnusedFor + time.Minute))
		if n, err := h.svc.Sweep(t.Context()); n != 1 || err != nil {
			t.Fatalf("swept %d (%v), want the unused one", n, err)
		}
		for _, thumb := range []bool{false, true} {
			if _, _, err := h.files.Open(t.Context(), fileKey(unused.ID, thumb)); desk.ErrorCode(err) != desk.ENotFound {
				t.Errorf("the unused upload's file (thumb %v) is still there: %v", thumb, err)
			}
		}
		if _, err := h.db.Attachment(t.Context(), used.ID); err != nil {
			t.Errorf("the used one went too: %v", err)
		}
		// Deleting a conversation's data takes its files along.
		if err := h.svc.Delete(t.Context(), []desk.Attachment{used}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := h.files.Open(t.Context(), fileKey(used.ID, false)); desk.ErrorCode(err) != desk.ENotFound {
			t.Errorf("a deleted attachment's file is still there: %v", err)
		}
	})
}

func TestSignedURLs(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		a, err := h.svc.Upload(t.Context(), owner, "s.png", bytes.NewReader(pngOf(t, 10, 10)))
		if err != nil {
			t.Fatal(err)
		}
		parts := func(raw string) (id, variant, exp, sig string) {
			u, _ := url.Parse(raw)
			seg := strings.Split(strings.TrimPrefix(u.Path, "/files/"), "/")
			return seg[0], seg[1], u.Query().Get("exp"), u.Query().Get("sig")
		}
		raw, _ := h.svc.URL(a.ID, VariantThumb)
		id, variant, exp, sig := parts(raw)
		if err := h.svc.Verify(id, variant, exp, sig); err != nil {
			t.Fatalf("a fresh URL: %v", err)
		}
		if err := h.svc.Verify(id, VariantFile, exp, sig); desk.ErrorCode(err) != desk.EForbidden {
			t.Errorf("the thumbnail's signature opened the file: %v", err)
		}
		if err := h.svc.Verify(id, variant, exp, sig[:len(sig)-2]+"AA"); desk.ErrorCode(err) != desk.EForbidden {
			t.Errorf("a tampered signature: %v", err)
		}
		if err := h.svc.Verify(id, variant, exp+"0", sig); desk.ErrorCode(err) != desk.EForbidden {
			t.Errorf("a longer expiry: %v", err)
		}
		other := "at_" + strings.Repeat("0", 16)
		if err := h.svc.Verify(other, variant, exp, sig); desk.ErrorCode(err) != desk.EForbidden {
			t.Errorf("another id under the same signature: %v", err)
		}
		h.clock.Store(int64(DefaultURLTTL + time.Second))
		if err := h.svc.Verify(id, variant, exp, sig); desk.ErrorCode(err) != desk.EForbidden || desk.ErrorReason(err) != "expired" {
			t.Errorf("an expired URL: %v", err)
		}
		// Every node signs with the same key: the database's.
		h2 := newHarness(t, h.db)
		if err := h2.svc.Verify(parts(func() string { u, _ := h2.svc.URL(a.ID, VariantFile); return u }())); err != nil {
			t.Errorf("a second node's URL: %v", err)
		}
		fromFirst, _ := h.svc.URL(a.ID, VariantFile)
		h2.clock.Store(h.clock.Load())
		if err := h2.svc.Verify(parts(fromFirst)); err != nil {
			t.Errorf("the first node's URL on the second: %v", err)
		}
	})
}
