package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stenttest"
)

func TestMain(m *testing.M) { stenttest.Main(m) }

func TestOrders(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), stenttest.Pool(t), &out))
	require.Contains(t, out.String(), "3 parcels, signed by R. Receiver")
	require.Contains(t, out.String(), "progress: reserved 3 items")
	require.Contains(t, out.String(), `progress: shipped ["parcel:book", "parcel:lamp", "parcel:mug"]`)
	// root, reserve, progress, charge, 3 shipments, progress, signal wait
	require.Contains(t, out.String(), "9 tasks in the execution")
}
