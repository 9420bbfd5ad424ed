package attachment

import (
	"bytes"
	"image"
	_ "image/gif" // registered for DecodeConfig and thumbnails
	_ "image/jpeg"
	_ "image/png"
	"io"
	"net/http"
	"path"
	"strings"

	_ "golang.org/x/image/webp"

	"github.com/servicedesk/servicedesk/internal/desk"
)

// Image limits: a phone's 48-megapixel photo passes; a "decompression
// bomb" (a few KiB declaring 100,000 × 100,000 pixels) does not.
const (
	maxPixels = 50_000_000
	maxSide   = 20_000
)

// kind is what the content says a file is.
type kind struct {
	mime  string
	image bool // decoded for a thumbnail and shown inline
}

// sniff names the content of head (the file's first bytes) by its magic
// numbers, never by its name or the client's header.
func sniff(head []byte) (kind, error) {
	switch {
	case len(head) == 0:
		return kind{}, desk.Errorf(desk.EInvalid, "the file is empty").WithReason("empty")
	case bytes.HasPrefix(head, []byte("MZ")),
		bytes.HasPrefix(head, []byte("\x7fELF")),
		bytes.HasPrefix(head, []byte{0xfe, 0xed, 0xfa, 0xce}), bytes.HasPrefix(head, []byte{0xfe, 0xed, 0xfa, 0xcf}),
		bytes.HasPrefix(head, []byte{0xce, 0xfa, 0xed, 0xfe}), bytes.HasPrefix(head, []byte{0xcf, 0xfa, 0xed, 0xfe}),
		bytes.HasPrefix(head, []byte{0xca, 0xfe, 0xba, 0xbe}),
		bytes.HasPrefix(head, []byte("#!")):
		return kind{}, desk.Errorf(desk.EUnsupported, "programs and scripts cannot be sent").WithReason("executable")
	case isHEIC(head):
		// No pure-Go HEIC decoder is kept well enough to trust with
		// uploads: accepted, offered as a download without a thumbnail.
		return kind{mime: "image/heic"}, nil
	case bytes.HasPrefix(head, []byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}):
		return kind{mime: "application/x-ole-storage"}, nil // .doc, .xls, .ppt, .msg
	}
	mime, _, _ := strings.Cut(http.DetectContentType(head), ";")
	switch mime {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return kind{mime: mime, image: true}, nil
	case "text/html", "text/xml":
		// Served only as a download, as plain text: never a page of ours.
		return kind{mime: "text/plain"}, nil
	}
	return kind{mime: mime}, nil
}

// isHEIC: an ISO media file ("ftyp" box) of a HEIF brand.
func isHEIC(head []byte) bool {
	if len(head) < 12 || string(head[4:8]) != "ftyp" {
		return false
	}
	switch string(head[8:12]) {
	case "heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1":
		return true
	}
	return false
}

// refusedExtensions are names Windows or a phone would run when opened,
// whatever the content: refused even when the content looks harmless.
var refusedExtensions = map[string]bool{
	".exe": true, ".dll": true, ".com": true, ".scr": true, ".msi": true, ".msp": true, ".bat": true, ".cmd": true,
	".ps1": true, ".vbs": true, ".vbe": true, ".js": true, ".jse": true, ".wsf": true, ".wsh": true, ".hta": true,
	".jar": true, ".apk": true, ".app": true, ".sh": true, ".lnk": true, ".reg": true, ".cpl": true, ".pif": true,
}

// expected maps a name's extension to the content it must have; a file
// whose content says otherwise lies about its type.
var expected = map[string]func(mime string) bool{
	".png":  is("image/png"),
	".jpg":  is("image/jpeg"),
	".jpeg": is("image/jpeg"),
	".gif":  is("image/gif"),
	".webp": is("image/webp"),
	".heic": is("image/heic"),
	".pdf":  is("application/pdf"),
	".zip":  is("application/zip"),
	".docx": is("application/zip"),
	".xlsx": is("application/zip"),
	".pptx": is("application/zip"),
	".doc":  is("application/x-ole-storage"),
	".xls":  is("application/x-ole-storage"),
	".ppt":  is("application/x-ole-storage"),
	".txt":  is("text/plain"),
	".log":  is("text/plain"),
	".csv":  is("text/plain"),
	".json": is("text/plain", "application/json"),
}

func is(mimes ...string) func(string) bool {
	return func(m string) bool {
		for _, x := range mimes {
			if m == x {
				return true
			}
		}
		return false
	}
}

// checkName refuses a name that would run, or that names a type other
// than the content's.
func checkName(name string, k kind) error {
	ext := strings.ToLower(path.Ext(name))
	if refusedExtensions[ext] {
		return desk.Errorf(desk.EUnsupported, "files of type %s cannot be sent", ext).WithReason("executable")
	}
	if want, ok := expected[ext]; ok && !want(k.mime) {
		return desk.Errorf(desk.EUnsupported, "the file is named %s but its content is %s", ext, k.mime).WithReason("type_mismatch")
	}
	return nil
}

// imageSize reads an image's declared size from its header alone, and
// refuses one too large to decode safely.
func imageSize(r io.Reader) (int, int, error) {
	cfg, _, err := image.DecodeConfig(r)
	if err != nil {
		return 0, 0, desk.Errorf(desk.EUnsupported, "the image cannot be read").WithReason("unreadable_image")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxSide || cfg.Height > maxSide || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return 0, 0, desk.Errorf(desk.EInvalid, "the image is %d × %d pixels; at most %d pixels and %d on a side", cfg.Width, cfg.Height, maxPixels, maxSide).WithReason("too_many_pixels")
	}
	return cfg.Width, cfg.Height, nil
}

// cleanName keeps a file's name readable and harmless in a header or a
// list: the last path element, no control characters, at most 120 runes.
func cleanName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(strings.TrimSpace(name))
	var b strings.Builder
	n := 0
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '"' || r == '/' {
			continue
		}
		if n == 120 {
			break
		}
		b.WriteRune(r)
		n++
	}
	if s := b.String(); s != "" && s != "." {
		return s
	}
	return "file"
}
