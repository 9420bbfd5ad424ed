package attachment

import (
	"image"
	"image/color"
	"image/jpeg"
	"io"

	"golang.org/x/image/draw"
)

// thumbSide bounds a thumbnail: enough for a bubble on a phone's 3× screen.
const thumbSide = 320

// thumbnail decodes the image in r and writes a JPEG of it that fits in
// thumbSide × thumbSide, turned upright by its EXIF orientation, on white
// (a transparent screenshot stays readable).
func thumbnail(r io.Reader, orientation int, w io.Writer) error {
	src, _, err := image.Decode(r)
	if err != nil {
		return err
	}
	b := src.Bounds()
	sw, sh := b.Dx(), b.Dy()
	if orientation >= 5 { // rotated a quarter turn: the upright thumbnail is sh × sw
		sw, sh = sh, sw
	}
	tw, th := fit(sw, sh, thumbSide)
	if orientation >= 5 {
		tw, th = th, tw
	}
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	// BiLinear (not ApproxBiLinear) widens its kernel when shrinking, so a
	// 4000-pixel photo does not alias into noise at 320.
	draw.BiLinear.Scale(dst, dst.Bounds(), src, b, draw.Over, nil)
	return jpeg.Encode(w, orient(dst, orientation), &jpeg.Options{Quality: 80})
}

// fit scales w × h down (never up) to fit side × side.
func fit(w, h, side int) (int, int) {
	if w <= side && h <= side {
		return max(w, 1), max(h, 1)
	}
	if w >= h {
		return side, max(1, h*side/w)
	}
	return max(1, w*side/h), side
}

// orient applies EXIF orientation o (1–8) to img.
func orient(img *image.RGBA, o int) *image.RGBA {
	if o <= 1 || o > 8 {
		return img
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := range h {
		for x := range w {
			var dx, dy int
			switch o {
			case 2: // mirrored
				dx, dy = w-1-x, y
			case 3: // upside down
				dx, dy = w-1-x, h-1-y
			case 4: // mirrored upside down
				dx, dy = x, h-1-y
			case 5: // transposed
				dx, dy = y, x
			case 6: // turned a quarter clockwise
				dx, dy = h-1-y, x
			case 7: // transversed
				dx, dy = h-1-y, w-1-x
			case 8: // turned a quarter anticlockwise
				dx, dy = y, w-1-x
			}
			out.SetRGBA(dx, dy, img.RGBAAt(x, y))
		}
	}
	return out
}
