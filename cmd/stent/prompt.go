package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
)

// errAborted is returned when the user answers no to a confirmation.
var errAborted = errors.New("aborted")

// confirm asks question on stderr and reads a yes/no answer from stdin. It refuses outright
// when stdin is not a terminal, so that a script or CI job never destroys data by an answer
// it did not mean to give; such callers pass --yes instead. Cancelling ctx abandons the
// question (the read goes on in the background until stdin is closed or the process exits).
func (c *cli) confirm(ctx context.Context, question string) error {
	if !isTerminal(c.stdin) {
		return errors.New("refusing to continue without confirmation: stdin is not a terminal (pass --yes to confirm)")
	}
	fmt.Fprintf(c.stderr, "%s [y/N] ", question)
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(c.stdin).ReadString('\n')
		answer <- line
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(c.stderr)
		return ctx.Err()
	case line := <-answer:
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return nil
		}
		return errAborted
	}
}

// isTerminal reports whether r (stdin or stdout) is an interactive terminal: a terminal
// *os.File, or a stream that says it is one (tests use that to play the user).
func isTerminal(r any) bool {
	switch r := r.(type) {
	case interface{ IsTerminal() bool }:
		return r.IsTerminal()
	case *os.File:
		return isatty.IsTerminal(r.Fd()) || isatty.IsCygwinTerminal(r.Fd())
	}
	return false
}
