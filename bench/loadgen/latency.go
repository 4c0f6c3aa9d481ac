package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// latencyResult is the JSON line of `loadgen latency`.
type latencyResult struct {
	Scenario       string           `json:"scenario"`
	Queue          string           `json:"queue"`
	Claimers       int              `json:"claimers"`
	WaitMS         int              `json:"wait_ms"`
	IntervalMS     float64          `json:"interval_ms"`
	Warmup         int              `json:"warmup_samples"`
	Samples        int              `json:"samples"`
	Lost           int              `json:"lost"`
	EnqueueToClaim LatencySummary   `json:"enqueue_to_claim"`
	EnqueueLatency LatencySummary   `json:"enqueue_latency"`
	ClaimErrors    map[string]int64 `json:"claim_errors"`
	OtherErrors    map[string]int64 `json:"other_errors"`
	ErrorCount     int64            `json:"error_count"`
}

// pickup is one job as seen by a claimer: which job, and how long after the producer stamped
// it the claim answer arrived.
type pickup struct {
	id      string
	latency time.Duration
}

// runLatency measures how quickly an idle worker learns about new work: claimers sit in a
// long-poll claim on an empty queue, a producer enqueues one job at a time stamped with its
// send time, and the figure is (claim answer arrived) - (stamp). One job at a time keeps the
// queue empty, so the figure is the wake-up path (NOTIFY -> waiting claim), not queueing.
// Producer and claimers share this process's clock, so the difference is meaningful.
func runLatency(ctx context.Context, args []string) (any, error) {
	var c common
	fs := flag.NewFlagSet("latency", flag.ContinueOnError)
	c.register(fs, "bench-d")
	claimers := fs.Int("claimers", 4, "goroutines long-polling the queue")
	samples := fs.Int("samples", 500, "measured jobs")
	warmup := fs.Int("warmup-samples", 10, "jobs sent first and not measured")
	waitMS := fs.Int("wait-ms", 10000, "long-poll wait of each claim (1-30000)")
	interval := fs.Duration("interval", 20*time.Millisecond, "least time between two enqueues")
	pickupTimeout := fs.Duration("pickup-timeout", 15*time.Second, "count a job as lost if not claimed within this")
	if err := c.parse(fs, args); err != nil {
		return nil, err
	}
	if err := positive("claimers", *claimers); err != nil {
		return nil, err
	}
	if err := positive("samples", *samples); err != nil {
		return nil, err
	}
	if *warmup < 0 || *interval < 0 || *pickupTimeout <= 0 {
		return nil, usagef("-warmup-samples and -interval must not be negative, -pickup-timeout must be positive")
	}
	if *waitMS < 1 || *waitMS > 30000 {
		return nil, usagef("-wait-ms must be 1-30000, got %d", *waitMS)
	}

	client := NewClient(c, *claimers*2+2)
	if err := client.Preflight(ctx, c.queue); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "latency: %d claimers long-polling %d ms, %d samples (+%d warm-up) on queue %s\n",
		*claimers, *waitMS, *samples, *warmup, c.queue)

	var claimErrs, otherErrs ErrorCounts
	picked := make(chan pickup, *claimers*4)
	claimCtx, stopClaimers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := 0; i < *claimers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			claimer(claimCtx, client, c.queue, fmt.Sprintf("loadgen-%s-c%d", randomSuffix(), i),
				*waitMS, picked, &claimErrs, &otherErrs)
		}(i)
	}
	// Let every claimer reach its long-poll wait before the first job, so the first samples
	// measure a wake-up and not a claim that happened to be starting anyway.
	time.Sleep(500 * time.Millisecond)

	run := latencySamples{warmup: *warmup, prog: StartProgress("latency", "samples", int64(*samples))}
	prefix := []byte(`{"queue_name":` + strconv.Quote(c.queue) + `,"payload":{"t_ns":`)
	for i := 0; i < *warmup+*samples && ctx.Err() == nil; i++ {
		sent := time.Now()
		body := strconv.AppendInt(append([]byte(nil), prefix...), sent.UnixNano(), 10)
		body = append(body, `}}`...)
		var out struct {
			ID string `json:"id"`
		}
		lat, err := client.Post(ctx, "/api/v1/jobs", body, &out)
		if err != nil {
			otherErrs.Add(err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		p, ok := awaitJob(ctx, picked, out.ID, func(p pickup) string { return p.id }, *pickupTimeout)
		run.record(ctx, i, lat, p.latency, ok)
		if rest := *interval - time.Since(sent); rest > 0 {
			time.Sleep(rest)
		}
	}
	run.prog.Stop()
	stopClaimers()
	wg.Wait()

	toClaim := run.measured.Summary()
	return latencyResult{
		Scenario: "latency", Queue: c.queue, Claimers: *claimers, WaitMS: *waitMS,
		IntervalMS: ms(*interval), Warmup: *warmup, Samples: toClaim.Count, Lost: run.lost,
		EnqueueToClaim: toClaim, EnqueueLatency: run.enqueue.Summary(),
		ClaimErrors: claimErrs.Snapshot(), OtherErrors: otherErrs.Snapshot(),
		ErrorCount: claimErrs.Total() + otherErrs.Total(),
	}, nil
}

// claimer long-polls for one job at a time, reports each pickup, then completes the job so
// the queue stays clean. It runs until ctx is cancelled (which also abandons its open poll).
func claimer(ctx context.Context, client *Client, queue, worker string, waitMS int,
	picked chan<- pickup, claimErrs, otherErrs *ErrorCounts) {
	body := mustJSON(claimRequest{QueueName: queue, WorkerID: worker, Limit: 1, LeaseSecs: 30, WaitMillis: waitMS})
	pollTimeout := time.Duration(waitMS)*time.Millisecond + 10*time.Second
	for ctx.Err() == nil {
		var ans claimAnswer
		_, err := client.PostWait(ctx, "/api/v1/jobs/claim", body, &ans, pollTimeout)
		arrived := time.Now() // first thing after the answer: this is the measured instant
		if err != nil {
			if ctx.Err() == nil {
				claimErrs.Add(err)
				time.Sleep(50 * time.Millisecond)
			}
			continue
		}
		for _, j := range ans.Jobs {
			var p struct {
				TNS int64 `json:"t_ns"`
			}
			if err := json.Unmarshal(j.Payload, &p); err != nil || p.TNS == 0 {
				otherErrs.Add(fmt.Errorf("job %s has no t_ns payload", j.ID))
			} else {
				select {
				case picked <- pickup{id: j.ID, latency: time.Duration(arrived.UnixNano() - p.TNS)}:
				case <-ctx.Done():
				}
			}
			cb := mustJSON(completeRequest{WorkerID: worker, LeaseID: j.LeaseID, Result: nil})
			if _, err := client.Post(ctx, "/api/v1/jobs/"+j.ID+"/complete", cb, nil); err != nil && ctx.Err() == nil {
				otherErrs.Add(err)
			}
		}
	}
}
