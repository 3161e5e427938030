package store

import (
	"context"
	"encoding/json"
	"fmt"
)

// Batched workflow writes: the checkpoints and calls of many running workflows in one
// statement (stent.record_steps, stent.call_children).

// StepRecord is one checkpoint for RecordSteps.
type StepRecord struct {
	Parent int64           `json:"parent"`
	Token  int64           `json:"token"`
	Seq    int32           `json:"seq"`
	Name   string          `json:"name"`
	Output json.RawMessage `json:"output"`
}

// StepResult is what RecordSteps found at a checkpoint's position: LeaseLost when the parent
// no longer holds the token (nothing written), else the recorded kind, name and output.
type StepResult struct {
	LeaseLost bool
	Kind      string
	Name      string
	Output    []byte
}

// RecordSteps runs stent.record_steps: many workflows' inline checkpoints in one statement,
// one result per record, in order.
func (s *Store) RecordSteps(ctx context.Context, recs []StepRecord) ([]StepResult, error) {
	body, err := json.Marshal(recs)
	if err != nil {
		return nil, fmt.Errorf("record steps: %w", err)
	}
	rows, err := s.q.TaskRecordSteps(ctx, s.dbtx, body)
	if err != nil {
		return nil, mapError("record steps", err)
	}
	if len(rows) != len(recs) {
		return nil, fmt.Errorf("record steps: %d results for %d steps", len(rows), len(recs))
	}
	out := make([]StepResult, len(rows))
	for _, r := range rows {
		if r.Ord < 1 || int(r.Ord) > len(out) {
			return nil, fmt.Errorf("record steps: result for step %d of %d", r.Ord, len(out))
		}
		out[r.Ord-1] = StepResult{LeaseLost: r.LeaseLost, Kind: r.Kind, Name: r.Name, Output: r.Output}
	}
	return out, nil
}

// ChildCall is one call for CallChildren: a workflow task's call at position Seq, with the
// request of stent.call_child.
type ChildCall struct {
	Parent  int64           `json:"parent"`
	Token   int64           `json:"token"`
	Seq     int32           `json:"seq"`
	Request json.RawMessage `json:"request"`
}

// CallChildren runs stent.call_children: many calls in one statement. It returns the row at
// each call's position, in order; nil where the parent no longer held the token (lease lost).
func (s *Store) CallChildren(ctx context.Context, calls []ChildCall) ([]*Task, error) {
	body, err := json.Marshal(calls)
	if err != nil {
		return nil, fmt.Errorf("call children: %w", err)
	}
	rows, err := s.q.TaskCallChildren(ctx, s.dbtx, body)
	if err != nil {
		return nil, mapError("call children", err)
	}
	type position struct {
		parent int64
		seq    int32
	}
	byPos := make(map[position]*Task, len(rows))
	for _, r := range rows {
		byPos[position{r.ParentTaskID.Int64, r.Seq.Int32}] = r
	}
	out := make([]*Task, len(calls))
	for i, c := range calls {
		out[i] = byPos[position{c.Parent, c.Seq}]
	}
	return out, nil
}
