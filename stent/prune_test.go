package stent_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

// TestPruneFlowState: ended back-offs and rate windows whose starts all left the window are
// deleted; live ones are kept.
func TestPruneFlowState(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.client.SetLimits(b.ctx, "prune.rated", stent.Limits{
		Rate: stent.Rate{Count: 10, Per: time.Minute}, RatePerKey: stent.Rate{Count: 5, Per: time.Second},
	}))
	act := b.echo("prune.rated")
	for _, key := range []string{"a", "b"} {
		b.dispatch(t, act, key, stent.WithConcurrencyKey(key))
	}
	require.Len(t, b.claim(t, store.ClaimParams{Names: []string{"prune.rated"}}), 2)
	_, err := b.pool.Exec(b.ctx, `INSERT INTO stent.backoffs (name, key, until)
		VALUES ('prune.rated', '', stent.current_time() + interval '30 seconds'),
		       ('prune.other', '', stent.current_time() - interval '1 second')`)
	require.NoError(t, err)
	require.Equal(t, 3, b.count(t, "SELECT count(*) FROM stent.rate_windows"), "function window and two key windows")

	n, err := b.store.PruneFlowState(b.ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "only the ended back-off")

	b.clock.Advance(2 * time.Second) // the key windows (1s) emptied, the function window (1m) not
	n, err = b.store.PruneFlowState(b.ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM stent.rate_windows WHERE key = ''"))
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM stent.backoffs"))

	b.clock.Advance(time.Minute)
	n, err = b.store.PruneFlowState(b.ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	require.Equal(t, 0, b.count(t, "SELECT count(*) FROM stent.rate_windows")+b.count(t, "SELECT count(*) FROM stent.backoffs"))
}
