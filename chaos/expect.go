package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stentdev/stent/stent"
)

// outcome is what an execution must end as: its state and, when completed, its output.
type outcome struct {
	state  stent.ExecutionState
	output int
}

// expected returns the deterministic outcome of workflow name for input n, whatever faults
// hit it on the way.
func expected(name string, n int) outcome {
	switch name {
	case wfSequence:
		// Four activities doubling 10n+1..10n+4, plus the step's n+7.
		sum := 0
		for i := 1; i <= 4; i++ {
			sum += 2 * (10*n + i)
		}
		return outcome{state: stent.StateCompleted, output: sum + n + 7}
	case wfFanOut:
		sum := 0
		for _, v := range fanOutInputs(n) {
			sum += v * v
		}
		return outcome{state: stent.StateCompleted, output: sum}
	case wfSleep:
		return outcome{state: stent.StateCompleted, output: 3*n + 2*n}
	case wfSignal:
		return outcome{state: stent.StateCompleted, output: 2*n + signalPayload(n)}
	case wfCancel:
		return outcome{state: stent.StateCancelled}
	case wfFail:
		return outcome{state: stent.StateFailed}
	}
	panic("chaos: no expected outcome for " + name)
}

// verify compares a finished execution with its expected outcome and returns what differs,
// or "" when it matches. A failed execution must have failed in the workflow's own hands.
func (o outcome) verify(state stent.ExecutionState, output []byte, errMsg string) string {
	if state != o.state {
		return fmt.Sprintf("state %s, want %s (error: %s)", state, o.state, errMsg)
	}
	switch o.state {
	case stent.StateCompleted:
		var got int
		if err := json.Unmarshal(output, &got); err != nil {
			return fmt.Sprintf("output %q does not decode: %v", output, err)
		}
		if got != o.output {
			return fmt.Sprintf("output %d, want %d", got, o.output)
		}
	case stent.StateFailed:
		// The workflow gave up on its failing child: the child's own error is usually its
		// message, or a lease expiry when a kill took its last attempt.
		if !strings.Contains(errMsg, giveUpMessage) {
			return fmt.Sprintf("failed with %q, want the workflow giving up on its failing activity", errMsg)
		}
	}
	return ""
}
