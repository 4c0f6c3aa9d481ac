package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

// bulkResult is the JSON line of `loadgen bulk`.
type bulkResult struct {
	Scenario    string           `json:"scenario"`
	Queue       string           `json:"queue"`
	Concurrency int              `json:"concurrency"`
	Batch       int              `json:"batch"`
	WarmupS     float64          `json:"warmup_s"`
	DurationS   float64          `json:"duration_s"`
	Requests    int64            `json:"requests"`
	Jobs        int64            `json:"jobs"`
	JobsPerS    float64          `json:"jobs_per_s"`
	ReqPerS     float64          `json:"req_per_s"`
	Latency     LatencySummary   `json:"latency"`
	ErrorCount  int64            `json:"error_count"`
	Errors      map[string]int64 `json:"errors"`
}

// bulkBody is one POST /api/v1/jobs/bulk body with n small distinct payloads.
func bulkBody(queue string, n int) []byte {
	b := []byte(`{"queue_name":` + strconv.Quote(queue) + `,"jobs":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"payload":{"i":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `}}`...)
	}
	return append(b, `]}`...)
}

// bulkAnswer is the part of the bulk answer we check: jobs are only counted when the server
// says it created them.
type bulkAnswer struct {
	SuccessCount int64 `json:"success_count"`
	FailureCount int64 `json:"failure_count"`
}

// runBulk measures batched enqueue, the path a producer with many jobs should use: the
// per-request overhead (HTTP, auth, transaction) is shared by the whole batch.
func runBulk(ctx context.Context, args []string) (any, error) {
	var c common
	fs := flag.NewFlagSet("bulk", flag.ContinueOnError)
	c.register(fs, "bench-b")
	concurrency := fs.Int("concurrency", 4, "concurrent clients, each in a closed loop")
	duration := fs.Duration("duration", 20*time.Second, "measured duration")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured warm-up before the measured duration")
	batch := fs.Int("batch", 100, "jobs per bulk request (1-100)")
	if err := c.parse(fs, args); err != nil {
		return nil, err
	}
	if err := positive("concurrency", *concurrency); err != nil {
		return nil, err
	}
	if *batch < 1 || *batch > 100 {
		return nil, usagef("-batch must be 1-100 (the server's bulk limit), got %d", *batch)
	}
	if *duration <= 0 || *warmup < 0 {
		return nil, usagef("-duration must be positive and -warmup not negative")
	}

	client := NewClient(c, *concurrency)
	if err := client.Preflight(ctx, c.queue); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "bulk: %d clients x %d jobs/request x %s on queue %s\n", *concurrency, *batch, *duration, c.queue)

	// One body shared by every request: payload content does not matter to the server's cost
	// and building it once keeps the load generator's CPU out of the measurement.
	body := bulkBody(c.queue, *batch)
	res := closedLoop(ctx, "bulk", *concurrency, *warmup, *duration, func(ctx context.Context, w int) (int64, time.Duration, error) {
		var out bulkAnswer
		lat, err := client.Post(ctx, "/api/v1/jobs/bulk", body, &out)
		if err == nil && out.FailureCount > 0 {
			err = fmt.Errorf("bulk create reported %d failures", out.FailureCount)
		}
		return out.SuccessCount, lat, err
	})

	return bulkResult{
		Scenario: "bulk", Queue: c.queue, Concurrency: *concurrency, Batch: *batch,
		WarmupS: seconds(*warmup), DurationS: seconds(res.Window),
		Requests: res.Requests, Jobs: res.Jobs,
		JobsPerS: perSecond(res.Jobs, res.Window), ReqPerS: perSecond(res.Requests, res.Window),
		Latency: res.Latency.Summary(), ErrorCount: res.Errors.Total(), Errors: res.Errors.Snapshot(),
	}, nil
}
