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
	// A photo is first averaged down by a whole factor to about twice the
	// thumbnail: a box filter reads each pixel once and allocates only its
	// small result, where scaling 12 megapixels in one go with x/image's
	// separable kernels would take a 30 MB intermediate per photo.
	if k := min(b.Dx()/(2*max(tw, th)), b.Dy()/(2*max(tw, th))); k >= 2 {
		src = boxShrink(src, k)
		b = src.Bounds()
	}
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	// BiLinear (not ApproxBiLinear) widens its kernel when shrinking, so
	// what is left to shrink does not alias.
	draw.BiLinear.Scale(dst, dst.Bounds(), src, b, draw.Over, nil)
	return jpeg.Encode(w, orient(dst, orientation), &jpeg.Options{Quality: 80})
}

// boxShrink averages k×k blocks of src into one pixel each.
func boxShrink(src image.Image, k int) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx()/k, b.Dy()/k
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	n := uint32(k * k)
	if y, ok := src.(*image.YCbCr); ok {
		// The camera's own planes: no colour conversion per source pixel.
		for oy := range h {
			for ox := range w {
				var sy, scb, scr uint32
				for dy := range k {
					for dx := range k {
						x, yy := b.Min.X+ox*k+dx, b.Min.Y+oy*k+dy
						sy += uint32(y.Y[y.YOffset(x, yy)])
						ci := y.COffset(x, yy)
						scb += uint32(y.Cb[ci])
						scr += uint32(y.Cr[ci])
					}
				}
				r, g, bl := color.YCbCrToRGB(uint8(sy/n), uint8(scb/n), uint8(scr/n))
				out.SetRGBA(ox, oy, color.RGBA{r, g, bl, 255})
			}
		}
		return out
	}
	for oy := range h {
		for ox := range w {
			var sr, sg, sb, sa uint32
			for dy := range k {
				for dx := range k {
					r, g, bl, a := src.At(b.Min.X+ox*k+dx, b.Min.Y+oy*k+dy).RGBA()
					sr, sg, sb, sa = sr+r, sg+g, sb+bl, sa+a
				}
			}
			out.Set(ox, oy, color.RGBA64{uint16(sr / n), uint16(sg / n), uint16(sb / n), uint16(sa / n)})
		}
	}
	return out
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
