package main

import (
	"fmt"
	"io"
	"strings"
)

// progressBar shows the advance of a bulk command (replay-all, purge) on stderr, redrawn in
// place. It draws only when stderr is a terminal; elsewhere it is silent, so logs and pipes
// get the command's summary alone.
type progressBar struct {
	out   io.Writer // nil: silent
	label string
	total int64
	done  int64
}

// progressWidth is the number of cells of the bar.
const progressWidth = 30

func (c *cli) newProgress(label string, total int64) *progressBar {
	p := &progressBar{label: label, total: total}
	if isTerminal(c.stderr) {
		p.out = c.stderr
		p.draw()
	}
	return p
}

// add records n more items done and redraws.
func (p *progressBar) add(n int64) {
	p.done += n
	p.draw()
}

// finish ends the bar's line.
func (p *progressBar) finish() {
	if p.out != nil {
		fmt.Fprintln(p.out)
	}
}

func (p *progressBar) draw() {
	if p.out == nil {
		return
	}
	fmt.Fprint(p.out, "\r"+renderBar(p.label, p.done, p.total, progressWidth))
}

// renderBar draws "label [█████░░░░░] done/total pct".
func renderBar(label string, done, total int64, width int) string {
	frac := 1.0
	if total > 0 {
		frac = min(1, float64(done)/float64(total))
	}
	full := int(frac * float64(width))
	return fmt.Sprintf("%s [%s%s] %d/%d %3.0f%%", label, strings.Repeat("█", full), strings.Repeat("░", width-full),
		done, total, frac*100)
}
