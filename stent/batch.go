package stent

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Workflow checkpoints that many workflows on one pool make at the same moment are written
// together: a call queues its request and waits; one writer goroutine per pool and kind takes
// everything queued and writes it with one statement, then the next batch. Alone, a request is
// written at once; under load, the requests that arrive during a write share the next one, so
// a busy worker writes one statement per batch instead of one per call. The writer runs only
// while there is something to write.

// maxBatch bounds one statement.
const maxBatch = 500

// batchWriteTimeout bounds one batch write.
const batchWriteTimeout = 30 * time.Second

// batcher writes requests of one kind for one pool. write returns one result per request, in
// order; when the database refuses a whole batch for its content (refused), each request is
// written alone so that the refusal reaches only the one that caused it.
type batcher[Req, Res any] struct {
	write   func(ctx context.Context, reqs []Req) ([]Res, error)
	refused func(error) bool
	owner   *sync.Map // the batchers of this kind, by pool
	pool    *pgxpool.Pool

	mu      sync.Mutex
	queue   []*batched[Req, Res]
	running bool
}

type batched[Req, Res any] struct {
	req  Req
	res  Res
	err  error
	done chan struct{}
}

// batcherFor returns the pool's batcher in owner, made by create if it has none.
func batcherFor[Req, Res any](owner *sync.Map, pool *pgxpool.Pool, create func() *batcher[Req, Res]) *batcher[Req, Res] {
	if v, ok := owner.Load(pool); ok {
		return v.(*batcher[Req, Res])
	}
	b := create()
	b.owner, b.pool = owner, pool
	v, _ := owner.LoadOrStore(pool, b)
	return v.(*batcher[Req, Res])
}

// do queues req and waits for its result. It waits for the write (bounded by
// batchWriteTimeout) even when the caller's attempt is being cancelled: what it records has
// already happened, and is worth keeping.
func (b *batcher[Req, Res]) do(req Req) (Res, error) {
	r := &batched[Req, Res]{req: req, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, r)
	if !b.running {
		b.running = true
		go b.run()
	}
	b.mu.Unlock()
	<-r.done
	return r.res, r.err
}

// run writes batches until the queue is empty, then ends.
func (b *batcher[Req, Res]) run() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			b.running = false
			b.owner.CompareAndDelete(b.pool, b)
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		b.flush(batch)
	}
}

func (b *batcher[Req, Res]) flush(batch []*batched[Req, Res]) {
	reqs := make([]Req, len(batch))
	for i, r := range batch {
		reqs[i] = r.req
	}
	ctx, cancel := context.WithTimeout(context.Background(), batchWriteTimeout)
	res, err := b.write(ctx, reqs)
	cancel()
	if err != nil && len(batch) > 1 && b.refused(err) {
		for _, r := range batch {
			b.flush([]*batched[Req, Res]{r})
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
