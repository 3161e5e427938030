package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stenttest"
)

func TestMain(m *testing.M) { stenttest.Main(m) }

func TestQuickstart(t *testing.T) {
	t.Parallel()
	pool := stenttest.Pool(t)
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), pool, 5, false, &out))
	require.Contains(t, out.String(), "dispatched 5 jobs")
	require.Contains(t, out.String(), "all 5 jobs completed")
	for _, name := range []string{"job-01", "job-05"} {
		require.Contains(t, out.String(), "hello, "+name)
	}
	require.Equal(t, 5, strings.Count(out.String(), "attempt 1)"))
}
