// Batch: a fan-out/fan-in job. A workflow resizes 200 images in parallel activities (Map), is
// woken once when all are done, records its progress and counters exactly once, and sums the
// bytes saved. Run it with `go run ./examples/batch`; without DATABASE_URL it starts a
// throwaway PostgreSQL.
package main

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/examples/internal/exampledb"
	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// Image is one item of the batch.
type Image struct {
	Name  string `json:"name"`
	Bytes int    `json:"bytes"`
}

// Resize pretends to shrink an image to a third and returns the bytes saved.
var Resize = stent.NewActivity("batch.resize", func(ctx context.Context, img Image) (int, error) {
	return img.Bytes - img.Bytes/3, nil
}, stent.Queue("images"), stent.MaxConcurrent(50))

// Job resizes every image and reports the total saved.
var Job = stent.NewWorkflow("batch.job", func(ctx stent.Context, images []Image) (int, error) {
	if err := stent.Progress(ctx, "resizing", map[string]int{"images": len(images)}); err != nil {
		return 0, err
	}
	saved, err := Resize.Map(ctx, images)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, s := range saved {
		total += s
	}
	if _, err := stent.Incr(ctx, "images_done", float64(len(images))); err != nil {
		return 0, err
	}
	return total, stent.Progress(ctx, "done", map[string]int{"saved": total})
})

func main() {
	exampledb.Main("batch", func(ctx context.Context, pool *pgxpool.Pool, out io.Writer) error {
		return run(ctx, pool, 200, out)
	})
}

func run(ctx context.Context, pool *pgxpool.Pool, n int, out io.Writer) error {
	client, err := stent.NewClient(pool, stent.Config{})
	if err != nil {
		return err
	}
	defer client.Close()
	stopWorker, err := exampledb.StartWorker(ctx, client, worker.Config{Queues: []string{"default", "images"}, Concurrency: 64,
		Functions: []string{"batch.resize", "batch.job"}})
	if err != nil {
		return err
	}
	defer stopWorker()

	images := make([]Image, n)
	want := 0
	for i := range images {
		images[i] = Image{Name: fmt.Sprintf("img-%03d.png", i), Bytes: 3000 + i}
		want += images[i].Bytes - images[i].Bytes/3
	}
	id, err := Job.Dispatch(ctx, client, images)
	if err != nil {
		return err
	}
	total, err := Job.Wait(ctx, client, id)
	if err != nil {
		return err
	}
	e, err := client.Get(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "resized %d images, saved %d bytes (expected %d)\n", int(e.Counters["images_done"]), total, want)
	for _, p := range e.Progress {
		fmt.Fprintf(out, "progress: %s %s\n", p.Message, p.Detail)
	}
	return nil
}
