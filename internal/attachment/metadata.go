package attachment

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Photos carry where and with what they were taken (EXIF: GPS position,
// device, serial numbers). None of it is the desk's business, so it is
// taken out before a file is stored; the one tag that changes how a
// photo looks, its orientation, is kept in a fresh EXIF block of its own.

var errNotJPEG = errors.New("not a JPEG stream")

// stripJPEG copies the JPEG in r to w without its metadata segments
// (APP1 Exif/XMP, APP3–APP13 and APP15 vendor blocks, COM), keeping JFIF,
// ICC colour profiles (APP2) and Adobe's colour transform (APP14). It
// returns the EXIF orientation it found (1 when none).
func stripJPEG(r io.Reader, w io.Writer) (orientation int, err error) {
	br := bufio.NewReader(r)
	var soi [2]byte
	if _, err := io.ReadFull(br, soi[:]); err != nil || soi != [2]byte{0xff, 0xd8} {
		return 0, errNotJPEG
	}
	var kept bytes.Buffer // segments before the image data, as they will be written
	orientation = 1
	for {
		marker, err := nextMarker(br)
		if err != nil {
			return 0, err
		}
		if marker == 0xd9 { // EOI with no image: nothing more
			kept.Write([]byte{0xff, marker})
			break
		}
		if marker == 0xda || marker >= 0xd0 && marker <= 0xd7 || marker == 0x01 {
			// Start of scan: the rest is image data, copied as it is.
			kept.Write([]byte{0xff, marker})
			if _, err := w.Write(header(kept.Bytes(), orientation)); err != nil {
				return 0, err
			}
			_, err := io.Copy(w, br)
			return orientation, err
		}
		var lenBuf [2]byte
		if _, err := io.ReadFull(br, lenBuf[:]); err != nil {
			return 0, fmt.Errorf("jpeg segment: %w", err)
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:])) - 2
		if n < 0 {
			return 0, errors.New("jpeg segment: bad length")
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			return 0, fmt.Errorf("jpeg segment: %w", err)
		}
		switch {
		case marker == 0xe1:
			if o := exifOrientation(body); o != 0 {
				orientation = o
			}
		case marker >= 0xe3 && marker <= 0xed, marker == 0xef, marker == 0xfe:
			// vendor metadata, IPTC, comments: dropped
		default:
			kept.Write([]byte{0xff, marker})
			kept.Write(lenBuf[:])
			kept.Write(body)
		}
	}
	_, err = w.Write(header(kept.Bytes(), orientation))
	return orientation, err
}

// header is SOI, then (for a rotated photo) the orientation-only EXIF
// block, then the segments kept.
func header(kept []byte, orientation int) []byte {
	out := []byte{0xff, 0xd8}
	if orientation > 1 && orientation <= 8 {
		out = append(out, orientationAPP1(orientation)...)
	}
	return append(out, kept...)
}

// nextMarker reads up to and including the next marker byte, skipping
// fill bytes.
func nextMarker(br *bufio.Reader) (byte, error) {
	b, err := br.ReadByte()
	if err != nil {
		return 0, fmt.Errorf("jpeg marker: %w", err)
	}
	if b != 0xff {
		return 0, errors.New("jpeg marker: expected 0xff")
	}
	for b == 0xff {
		if b, err = br.ReadByte(); err != nil {
			return 0, fmt.Errorf("jpeg marker: %w", err)
		}
	}
	return b, nil
}

// exifOrientation reads tag 0x0112 of IFD0 from an APP1 body, 0 if absent.
func exifOrientation(b []byte) int {
	if !bytes.HasPrefix(b, []byte("Exif\x00\x00")) || len(b) < 14 {
		return 0
	}
	t := b[6:]
	var order binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 0
	}
	off := int(order.Uint32(t[4:8]))
	if off < 8 || off+2 > len(t) {
		return 0
	}
	count := int(order.Uint16(t[off:]))
	for i := range count {
		e := off + 2 + 12*i
		if e+12 > len(t) {
			return 0
		}
		if order.Uint16(t[e:]) == 0x0112 && order.Uint16(t[e+2:]) == 3 {
			if o := int(order.Uint16(t[e+8:])); o >= 1 && o <= 8 {
				return o
			}
		}
	}
	return 0
}

// orientationAPP1 is an APP1 segment whose EXIF holds the orientation tag
// and nothing else.
func orientationAPP1(o int) []byte {
	tiff := []byte{
		'M', 'M', 0, 42, 0, 0, 0, 8, // big-endian TIFF, IFD0 at 8
		0, 1, // one entry
		0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(o), 0, 0, // Orientation, SHORT, 1 value
		0, 0, 0, 0, // no next IFD
	}
	body := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(body)+2))
	return append(seg, body...)
}

// pngDropped are the chunks that carry text and EXIF, not pixels.
var pngDropped = map[string]bool{"eXIf": true, "tEXt": true, "iTXt": true, "zTXt": true, "tIME": true}

// stripPNG copies the PNG in r to w without its text and EXIF chunks.
func stripPNG(r io.Reader, w io.Writer) error {
	br := bufio.NewReader(r)
	sig := make([]byte, 8)
	if _, err := io.ReadFull(br, sig); err != nil || !bytes.Equal(sig, []byte("\x89PNG\r\n\x1a\n")) {
		return errors.New("not a PNG stream")
	}
	bw := bufio.NewWriter(w)
	bw.Write(sig)
	for {
		var h [8]byte
		if _, err := io.ReadFull(br, h[:]); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("png chunk: %w", err)
		}
		n := int64(binary.BigEndian.Uint32(h[:4]))
		typ := string(h[4:8])
		if pngDropped[typ] {
			if _, err := io.CopyN(io.Discard, br, n+4); err != nil {
				return fmt.Errorf("png chunk: %w", err)
			}
			continue
		}
		bw.Write(h[:])
		if _, err := io.CopyN(bw, br, n+4); err != nil {
			return fmt.Errorf("png chunk: %w", err)
		}
		if typ == "IEND" {
			break
		}
	}
	return bw.Flush()
}
