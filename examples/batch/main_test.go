package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stenttest"
)

func TestMain(m *testing.M) { stenttest.Main(m) }

func TestBatch(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), stenttest.Pool(t), 200, &out))
	want := 0
	for i := range 200 {
		b := 3000 + i
		want += b - b/3
	}
	require.Contains(t, out.String(), fmt.Sprintf("resized 200 images, saved %d bytes (expected %d)", want, want))
	require.Contains(t, out.String(), `progress: resizing {"images": 200}`)
	require.Contains(t, out.String(), fmt.Sprintf(`progress: done {"saved": %d}`, want))
}
