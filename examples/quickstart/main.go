// Quickstart: define an activity, run a worker, dispatch a batch of jobs and print their
// results. Run it with `go run ./examples/quickstart`; without DATABASE_URL it starts a
// throwaway PostgreSQL from the local server binaries. With -metrics-addr :2112 it serves
// Prometheus metrics on http://localhost:2112/metrics and keeps serving after the jobs until
// interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/stentdev/stent/examples/internal/exampledb"
	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stentprom"
	"github.com/stentdev/stent/worker"
)

// options are the command-line settings of run.
type options struct {
	jobs        int
	verbose     bool
	metricsAddr string // serve /metrics here ("" = no metrics)
	// afterJobs, if set, is called with the metrics URL once every job completed, before the
	// server stops (main waits there for an interrupt; the test scrapes).
	afterJobs func(metricsURL string)
}

// Greeting is the input of the Greet activity.
type Greeting struct {
	Name string `json:"name"`
}

// Greet is an activity: a typed function that workers run as a durable, retried task.
var Greet = stent.NewActivity("quickstart.greet",
	func(ctx context.Context, in Greeting) (string, error) {
		attempt, _ := stent.AttemptFrom(ctx)
		return fmt.Sprintf("hello, %s (task %d, attempt %d)", in.Name, attempt.TaskID, attempt.Attempt), nil
	},
	stent.Retry(stent.RetryPolicy{MaxAttempts: 5}),
)

func main() {
	var o options
	flag.IntVar(&o.jobs, "jobs", 10, "number of jobs to dispatch")
	flag.BoolVar(&o.verbose, "v", false, "log worker events")
	flag.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address (e.g. :2112) until interrupted")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	pool, release, err := exampledb.Open(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
	if o.metricsAddr != "" {
		o.afterJobs = func(url string) {
			fmt.Printf("serving %s until interrupted\n", url)
			<-ctx.Done()
		}
	}
	err = run(ctx, pool, o, os.Stdout)
	release()
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// run starts a worker, dispatches o.jobs jobs in one statement, waits for each and prints it.
func run(ctx context.Context, pool *pgxpool.Pool, o options, out io.Writer) error {
	logger := zerolog.Nop()
	if o.verbose {
		logger = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger()
	}
	cfg := stent.Config{Logger: &logger}
	var reg *prometheus.Registry
	if o.metricsAddr != "" {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		m, err := stentprom.New(reg, stentprom.Options{})
		if err != nil {
			return err
		}
		cfg.Metrics = m
	}
	client, err := stent.NewClient(pool, cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	metricsURL := ""
	if reg != nil {
		reg.MustRegister(stentprom.NewQueueCollector(client, stentprom.QueueOptions{}))
		url, stopServer, err := serveMetrics(o.metricsAddr, reg)
		if err != nil {
			return err
		}
		defer stopServer()
		metricsURL = url
		fmt.Fprintf(out, "metrics on %s\n", url)
	}

	stopWorker, err := exampledb.StartWorker(ctx, client, worker.Config{Concurrency: 20})
	if err != nil {
		return err
	}
	defer stopWorker()

	n := o.jobs
	names := make([]Greeting, n)
	for i := range names {
		names[i] = Greeting{Name: fmt.Sprintf("job-%02d", i+1)}
	}
	ids, err := Greet.DispatchMany(ctx, client, names)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "dispatched %d jobs\n", len(ids))
	for i, id := range ids {
		res, err := Greet.Wait(ctx, client, id)
		if err != nil {
			return fmt.Errorf("job %d: %w", i+1, err)
		}
		fmt.Fprintf(out, "%s  %s\n", id.String()[:8], res)
	}
	fmt.Fprintln(out, strings.Repeat("-", 40))
	fmt.Fprintf(out, "all %d jobs completed\n", n)
	if o.afterJobs != nil && metricsURL != "" {
		o.afterJobs(metricsURL)
	}
	return nil
}

// serveMetrics serves reg on http://addr/metrics until stop is called.
func serveMetrics(addr string, reg *prometheus.Registry) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/metrics", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
