package main

import (
	"encoding/json"
	"fmt"
)

// outputFormat is the value of the global -o/--output flag.
type outputFormat string

const (
	outputText outputFormat = "text" // for people; the default
	outputJSON outputFormat = "json" // for scripts: one indented JSON document per command
)

func (o *outputFormat) String() string {
	if *o == "" {
		return string(outputText)
	}
	return string(*o)
}

func (o *outputFormat) Set(s string) error {
	switch f := outputFormat(s); f {
	case outputText, outputJSON:
		*o = f
		return nil
	}
	return fmt.Errorf("must be %s or %s", outputText, outputJSON)
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
