package stent

import (
	"encoding/json"
	"time"
)

// Progress appends a progress entry (a message and an optional detail) to the execution,
// exactly once per call site however often the workflow is replayed. Read it with Client.Get.
func Progress(ctx Context, message string, detail any) error {
	if message == "" || len(message) > 1000 {
		return &InvalidArgumentError{Arg: "progress message", Reason: "must be 1-1000 bytes"}
	}
	_, err := effect(ctx, "progress", message, detail)
	return err
}

// Incr adds n to the execution's counter name, exactly once per call site however often the
// workflow is replayed, and returns the counter's value after this increment.
func Incr(ctx Context, name string, n float64) (float64, error) {
	if err := ValidateName("counter name", name); err != nil {
		return 0, err
	}
	out, err := effect(ctx, "incr", name, n)
	if err != nil {
		return 0, err
	}
	var v float64
	if err := json.Unmarshal(out, &v); err != nil {
		return 0, &DecodeError{Name: name, What: "counter value", Err: err}
	}
	return v, nil
}

// SetState sets the execution's custom state key to v (a value of any encodable type),
// exactly once per call site. Read it with Client.Get.
func SetState(ctx Context, key string, v any) error {
	if err := ValidateName("state key", key); err != nil {
		return err
	}
	_, err := effect(ctx, "set_state", key, v)
	return err
}

// effect records one execution-scoped write at the next position and returns its output.
func effect(ctx Context, kind, name string, value any) (json.RawMessage, error) {
	rt := ctx.workflowRuntime()
	if rt == nil {
		return nil, errNotInWorkflow
	}
	if err := rt.stopped(); err != nil {
		return nil, err
	}
	b, err := encodePayload(rt.codec, rt.limit, kind+" value", value)
	if err != nil {
		return nil, err
	}
	seq, cp := rt.next()
	if cp == nil {
		if cp, err = rt.st.RecordEffect(ctx, rt.taskID, rt.token, seq, kind, name, b); err != nil {
			return nil, rt.failWrite(err)
		}
	}
	if err := rt.check(seq, cp, "step", "stent."+kind+":"+name); err != nil {
		return nil, err
	}
	return json.RawMessage(cp.Output), nil
}

// ProgressEntry is one progress message of an execution.
type ProgressEntry struct {
	TaskID    int64
	Message   string
	Detail    json.RawMessage
	CreatedAt time.Time
}
