package main

// ANSI styles for people at a terminal. They are used only when stdout is a terminal and
// neither --no-color nor $NO_COLOR is set, so files, pipes and JSON never carry escapes.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBlue   = "\x1b[34m"
	ansiCyan   = "\x1b[36m"
)

// colorEnabled reports whether output may be coloured.
func (c *cli) colorEnabled() bool {
	return !c.noColor && c.getenv("NO_COLOR") == "" && isTerminal(c.stdout)
}

// paint wraps s in style when colour is enabled.
func (c *cli) paint(style, s string) string {
	if !c.colorEnabled() || style == "" {
		return s
	}
	return style + s + ansiReset
}

// stateStyle is the colour of an execution or task state.
func stateStyle(state string) string {
	switch state {
	case "pending":
		return ansiYellow
	case "running":
		return ansiBlue
	case "waiting":
		return ansiCyan
	case "completed":
		return ansiGreen
	case "failed", "timed_out":
		return ansiRed
	case "cancelled":
		return ansiDim
	}
	return ""
}

// state writes a state, coloured by stateStyle.
func (c *cli) state(s string) string { return c.paint(stateStyle(s), s) }
