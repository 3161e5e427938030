package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stenttest"
)

func TestMain(m *testing.M) { stenttest.Main(m) }

func TestSaga(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), stenttest.Pool(t), &out))
	require.Contains(t, out.String(), "ada to lisbon: booked flight-ada-lisbon, hotel-ada-lisbon, car-ada-lisbon")
	require.Contains(t, out.String(), "bob to nocar-island: failed: error: no car available in nocar-island; cancelled hotel-bob-nocar-island, cancelled flight-bob-nocar-island")
}
