package main

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"
)

// outputFormat is the value of the global -o/--output flag.
type outputFormat string

const (
	outputTable outputFormat = "table" // for people: aligned columns and sentences; the default
	outputText  outputFormat = "text"  // an alias of table, kept for scripts written before it
	outputJSON  outputFormat = "json"  // for scripts: one indented JSON document per command
)

func (o *outputFormat) String() string {
	if *o == "" {
		return string(outputTable)
	}
	return string(*o)
}

func (o *outputFormat) Set(s string) error {
	switch f := outputFormat(s); f {
	case outputTable, outputJSON:
		*o = f
		return nil
	case outputText:
		*o = outputTable
		return nil
	}
	return fmt.Errorf("must be %s or %s (%s is an alias of %s)", outputTable, outputJSON, outputText, outputTable)
}

func (o *outputFormat) Type() string { return "format" }

// print writes v as JSON with -o json, and otherwise calls text, which writes the
// human-readable form.
func (c *cli) print(v any, text func() error) error {
	if c.output != outputJSON {
		return text()
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns separated by two spaces. Widths count visible characters, so
// cells may be coloured.
type table struct {
	out  io.Writer
	rows [][]string
}

func newTable(out io.Writer, header ...string) *table {
	return &table{out: out, rows: [][]string{header}}
}

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) flush() error {
	var widths []int
	for _, r := range t.rows {
		for i, cell := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], visibleWidth(cell))
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		var l strings.Builder
		for i, cell := range r {
			l.WriteString(cell)
			if i < len(r)-1 {
				l.WriteString(strings.Repeat(" ", widths[i]-visibleWidth(cell)+2))
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(t.out, b.String())
	return err
}

var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

// visibleWidth is the number of characters of s a terminal shows.
func visibleWidth(s string) int {
	return utf8.RuneCountInString(ansiEscape.ReplaceAllString(s, ""))
}
