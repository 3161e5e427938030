package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/stentdev/stent/stent"
)

// The checker's queries: the run's executions, their tasks, the effects recorded per task,
// and the executions with a dead letter of the failing activity.
const (
	checkExecutions = `select id, workflow, state, coalesce(output, 'null'), coalesce(error->>'message', '')
		from stent.executions where idempotency_key like 'chaos-' || $1 || '-%'`
	checkTasks = `select t.id, t.kind, t.name, t.state, t.attempt, t.max_attempts,
			t.state = 'running' and coalesce(t.lease_expires_at <= stent.current_time(), true)
		from stent.tasks t join stent.executions e on e.id = t.execution_id
		where e.idempotency_key like 'chaos-' || $1 || '-%'`
	checkEffects     = `select task_id, kind, count(*) from chaos_effects where run = $1 group by task_id, kind`
	checkDeadLetters = `select distinct d.execution_id from stent.dead_letters d
		join stent.executions e on e.id = d.execution_id
		where d.name = $2 and e.idempotency_key like 'chaos-' || $1 || '-%'`
)

// taskRow is one task of the run.
type taskRow struct {
	ID          int64
	Kind        string
	Name        string
	State       string
	Attempt     int
	MaxAttempts int
	Expired     bool // running without a live lease
}

// check verifies the run's invariants once every worker has stopped, filling s: every
// dispatched execution exists, is finished and has its expected result; failures left a
// dead letter; no task is unfinished or running without a live lease; each completed
// transactional activity's effect exists exactly once (and none of an incomplete one); a
// plain activity's effects number at most its attempts; the doctor finds nothing.
func check(ctx context.Context, client *stent.Client, run string, list []dispatched, s *Summary) error {
	type execRow struct {
		ID       uuid.UUID
		Workflow string
		State    stent.ExecutionState
		Output   []byte
		Message  string
	}
	execs, err := query(ctx, client, checkExecutions, pgx.RowToStructByPos[execRow], run)
	if err != nil {
		return err
	}
	byID := make(map[uuid.UUID]execRow, len(execs))
	s.ByState = map[stent.ExecutionState]int{}
	for _, e := range execs {
		byID[e.ID] = e
		s.ByState[e.State]++
	}
	dead, err := query(ctx, client, checkDeadLetters, pgx.RowTo[uuid.UUID], run, actAlwaysFails)
	if err != nil {
		return err
	}
	withDead := make(map[uuid.UUID]bool, len(dead))
	for _, id := range dead {
		withDead[id] = true
	}
	s.Executions = len(list)
	seen := make(map[uuid.UUID]bool, len(list))
	for _, d := range list {
		seen[d.id] = true
		e, ok := byID[d.id]
		if !ok || !e.State.Terminal() {
			s.Lost++
			s.fail("lost execution %s (%s %d): %s", d.id, d.name, d.n, map[bool]string{false: "missing", true: "state " + string(e.State)}[ok])
			continue
		}
		if diff := expected(d.name, d.n).verify(e.State, e.Output, e.Message); diff != "" {
			s.WrongResults++
			s.fail("execution %s (%s %d): %s", d.id, d.name, d.n, diff)
		}
		if d.name == wfFail && !withDead[d.id] {
			s.fail("execution %s (%s %d) failed without a dead letter for %s", d.id, d.name, d.n, actAlwaysFails)
		}
	}
	for _, e := range execs {
		if !seen[e.ID] {
			s.fail("execution %s (%s) was not dispatched by the soak (a duplicate dispatch?)", e.ID, e.Workflow)
		}
	}

	tasks, err := query(ctx, client, checkTasks, pgx.RowToStructByPos[taskRow], run)
	if err != nil {
		return err
	}
	byTask := make(map[int64]taskRow, len(tasks))
	for _, t := range tasks {
		byTask[t.ID] = t
		s.Tasks++
		switch {
		case t.Expired:
			s.ExpiredRunning++
			s.fail("task %d (%s) is running without a live lease", t.ID, t.Name)
		case t.State != "completed" && t.State != "failed" && t.State != "cancelled":
			s.fail("task %d (%s) is still %s", t.ID, t.Name, t.State)
		}
		if t.Attempt > t.MaxAttempts {
			s.fail("task %d (%s) ran %d attempts of at most %d", t.ID, t.Name, t.Attempt, t.MaxAttempts)
		}
	}
	type effectCount struct {
		TaskID int64
		Kind   string
		Count  int
	}
	effects, err := query(ctx, client, checkEffects, pgx.RowToStructByPos[effectCount], run)
	if err != nil {
		return err
	}
	counted := make(map[int64]int, len(effects))
	for _, e := range effects {
		counted[e.TaskID] = e.Count
		t, ok := byTask[e.TaskID]
		if !ok {
			s.fail("%d effects of task %d, which is not the run's", e.Count, e.TaskID)
			continue
		}
		switch e.Kind {
		case effectTx:
			s.TxEffects += e.Count
			if t.State != "completed" {
				s.TxPhantoms += e.Count
				s.fail("transactional task %d (%s) is %s but its effect was committed %d times", t.ID, t.Name, t.State, e.Count)
			} else if e.Count > 1 {
				s.TxDuplicates += e.Count - 1
				s.fail("transactional task %d (%s): effect committed %d times", t.ID, t.Name, e.Count)
			}
		case effectPlain:
			s.PlainEffects += e.Count
			if t.State == "completed" {
				s.PlainReruns += e.Count - 1
			}
			if e.Count > t.Attempt {
				s.fail("plain task %d (%s): %d effects in %d attempts", t.ID, t.Name, e.Count, t.Attempt)
			}
		}
	}
	for _, t := range tasks {
		if t.Kind == stent.KindActivity && t.State == "completed" && counted[t.ID] == 0 {
			s.fail("completed activity task %d (%s) left no effect", t.ID, t.Name)
		}
	}

	findings, err := doctorFindings(ctx, client)
	if err != nil {
		return err
	}
	s.DoctorFindings = findings
	for _, f := range findings {
		s.fail("doctor: %s", f)
	}
	return nil
}

// query runs a checker query and collects its rows.
func query[T any](ctx context.Context, client *stent.Client, sql string, scan pgx.RowToFunc[T], args ...any) ([]T, error) {
	rows, err := client.Pool().Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("chaos: check: %s: %w", strings.Fields(sql)[1], err)
	}
	out, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("chaos: check: %w", err)
	}
	return out, nil
}
