package stent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/internal/store"
)

// Inline steps of all the workflows running on a pool are checkpointed together: a step
// queues its record and waits; one writer goroutine per pool takes everything queued and
// writes it with one statement (stent.record_steps), then the next batch. Alone, a step is
// written at once; under load, the checkpoints that arrive during a write share the next one,
// so a busy worker writes a few statements per batch instead of one per step. The writer
// runs only while there is something to write.

// maxStepBatch bounds one statement.
const maxStepBatch = 500

// stepWriteTimeout bounds one batch write.
const stepWriteTimeout = 30 * time.Second

// stepBatchers holds the writer of each pool that has one running or queued work.
var stepBatchers sync.Map // *pgxpool.Pool → *stepBatcher

type stepBatcher struct {
	pool    *pgxpool.Pool
	st      *store.Store
	mu      sync.Mutex
	queue   []*stepRequest
	running bool
}

type stepRequest struct {
	rec  store.StepRecord
	res  store.StepResult
	err  error
	done chan struct{}
}

// recordStep checkpoints one step through the pool's batcher and returns what is recorded at
// its position. It waits for the write (bounded by stepWriteTimeout) even when the attempt is
// being cancelled: the step has run, and its record is worth keeping.
func recordStep(pool *pgxpool.Pool, rec store.StepRecord) (store.StepResult, error) {
	v, _ := stepBatchers.LoadOrStore(pool, &stepBatcher{pool: pool, st: store.New(pool)})
	b := v.(*stepBatcher)
	r := &stepRequest{rec: rec, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, r)
	if !b.running {
		b.running = true
		go b.run()
	}
	b.mu.Unlock()
	<-r.done
	if r.err == nil && r.res.LeaseLost {
		return r.res, fmt.Errorf("record step: %w", ErrLeaseLost)
	}
	return r.res, r.err
}

// run writes batches until the queue is empty, then ends.
func (b *stepBatcher) run() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxStepBatch)
		if n == 0 {
			b.running = false
			stepBatchers.CompareAndDelete(b.pool, b)
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		b.write(batch)
	}
}

// write records a batch. A statement the database refuses as a whole (one step's output too
// large for a column, say) is retried one step at a time, so that the refusal reaches only
// the step that caused it.
func (b *stepBatcher) write(batch []*stepRequest) {
	recs := make([]store.StepRecord, len(batch))
	for i, r := range batch {
		recs[i] = r.rec
	}
	ctx, cancel := context.WithTimeout(context.Background(), stepWriteTimeout)
	res, err := b.st.RecordSteps(ctx, recs)
	cancel()
	if err != nil && len(batch) > 1 && refusedWrite(err) {
		for _, r := range batch {
			b.write([]*stepRequest{r})
		}
		return
	}
	for i, r := range batch {
		if err != nil {
			r.err = err
		} else {
			r.res = res[i]
		}
		close(r.done)
	}
}

// refusedWrite reports whether the database refused a statement for its content (not for a
// connection or server problem).
func refusedWrite(err error) bool {
	var sia *store.InvalidArgumentError
	return errors.As(err, &sia) || errors.Is(err, store.ErrPayloadTooLarge)
}
