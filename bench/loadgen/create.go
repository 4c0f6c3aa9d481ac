package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

// createResult is the JSON line of `loadgen create`.
type createResult struct {
	Scenario    string           `json:"scenario"`
	Queue       string           `json:"queue"`
	Concurrency int              `json:"concurrency"`
	WarmupS     float64          `json:"warmup_s"`
	DurationS   float64          `json:"duration_s"`
	Requests    int64            `json:"requests"`
	ReqPerS     float64          `json:"req_per_s"`
	Latency     LatencySummary   `json:"latency"`
	ErrorCount  int64            `json:"error_count"`
	Errors      map[string]int64 `json:"errors"`
}

// runCreate measures single-job enqueue: one POST /api/v1/jobs per job, the path every
// producer that does not batch takes, so its cost per request is the server's floor.
func runCreate(ctx context.Context, args []string) (any, error) {
	var c common
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	c.register(fs, "bench-a")
	concurrency := fs.Int("concurrency", 32, "concurrent clients, each in a closed loop")
	duration := fs.Duration("duration", 20*time.Second, "measured duration")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured warm-up before the measured duration")
	if err := c.parse(fs, args); err != nil {
		return nil, err
	}
	if err := positive("concurrency", *concurrency); err != nil {
		return nil, err
	}
	if *duration <= 0 || *warmup < 0 {
		return nil, usagef("-duration must be positive and -warmup not negative")
	}

	client := NewClient(c, *concurrency)
	if err := client.Preflight(ctx, c.queue); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "create: %d clients x %s on queue %s\n", *concurrency, *duration, c.queue)

	// The body is built by hand, not with encoding/json per request: on a 2-core box every
	// microsecond the load generator spends is taken from the server it measures.
	prefix := []byte(`{"queue_name":` + strconv.Quote(c.queue) + `,"payload":{"worker":`)
	seq := make([]int64, *concurrency) // per worker, so no synchronisation is needed
	res := closedLoop(ctx, "create", *concurrency, *warmup, *duration, func(ctx context.Context, w int) (int64, time.Duration, error) {
		seq[w]++
		body := make([]byte, 0, len(prefix)+48)
		body = append(body, prefix...)
		body = strconv.AppendInt(body, int64(w), 10)
		body = append(body, `,"seq":`...)
		body = strconv.AppendInt(body, seq[w], 10)
		body = append(body, `}}`...)
		var out struct {
			ID      string `json:"id"`
			Created bool   `json:"created"`
		}
		lat, err := client.Post(ctx, "/api/v1/jobs", body, &out)
		if err == nil && out.ID == "" {
			err = fmt.Errorf("create answered without an id")
		}
		return 1, lat, err
	})

	errs := res.Errors.Snapshot()
	return createResult{
		Scenario: "create", Queue: c.queue, Concurrency: *concurrency,
		WarmupS: seconds(*warmup), DurationS: seconds(res.Window),
		Requests: res.Requests, ReqPerS: perSecond(res.Requests, res.Window),
		Latency: res.Latency.Summary(), ErrorCount: res.Errors.Total(), Errors: errs,
	}, nil
}
