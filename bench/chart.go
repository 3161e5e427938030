package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// writeChart draws the targets' ratios as horizontal bars on a logarithmic-free linear scale
// capped at 4×, with each bar's required ratio marked, and writes it as a PNG.
func writeChart(path string, targets []target) error {
	const (
		width, rowH, top, left, right = 900, 34, 40, 230, 60
		maxRatio                      = 4.0
	)
	height := top + rowH*len(targets) + 30
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	barW := float64(width - left - right)
	x := func(r float64) int { return left + int(min(r, maxRatio)/maxRatio*barW) }

	text(img, 10, 20, "Stent / peer (higher is better for Stent); | marks the target", color.Black)
	grey := color.RGBA{200, 200, 200, 255}
	for r := 0.0; r <= maxRatio; r++ {
		vline(img, x(r), top-5, height-25, grey)
		text(img, x(r)-8, height-10, fmt.Sprintf("%.0fx", r), color.Black)
	}
	for i, t := range targets {
		y := top + i*rowH
		text(img, 10, y+rowH/2+4, t.short, color.Black)
		if !t.ok {
			text(img, left+4, y+rowH/2+4, "not measured", color.Black)
			continue
		}
		c := color.RGBA{46, 160, 67, 255}
		if !t.met() {
			c = color.RGBA{207, 34, 46, 255}
		}
		draw.Draw(img, image.Rect(left, y+6, x(t.ratio), y+rowH-6), &image.Uniform{c}, image.Point{}, draw.Src)
		vline(img, x(t.required), y+2, y+rowH-2, color.Black)
		vline(img, x(t.required)+1, y+2, y+rowH-2, color.Black)
		text(img, x(t.ratio)+6, y+rowH/2+4, fmt.Sprintf("%.2fx", t.ratio), color.Black)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func vline(img *image.RGBA, x, y0, y1 int, c color.Color) {
	for y := y0; y <= y1; y++ {
		img.Set(x, y, c)
	}
}

func text(img *image.RGBA, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
