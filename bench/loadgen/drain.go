package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// drainResult is the JSON line of `loadgen drain`.
type drainResult struct {
	Scenario        string           `json:"scenario"`
	Queue           string           `json:"queue"`
	Workers         int              `json:"workers"`
	Batch           int              `json:"batch"`
	Inflight        int              `json:"inflight"`
	BatchComplete   bool             `json:"batch_complete"`
	Jobs            int64            `json:"jobs"`
	Completed       int64            `json:"completed"`
	TimedOut        bool             `json:"timed_out"`
	QueueEmpty      bool             `json:"queue_empty_after"`
	PrefillS        float64          `json:"prefill_s,omitempty"`
	PrefillJobsPS   float64          `json:"prefill_jobs_per_s,omitempty"`
	ElapsedS        float64          `json:"elapsed_s"`
	JobsPerS        float64          `json:"jobs_per_s"`
	Claims          int64            `json:"claims"`
	EmptyClaims     int64            `json:"empty_claims"`
	ClaimLatency    LatencySummary   `json:"claim_latency"`
	CompleteLatency LatencySummary   `json:"complete_latency"`
	ClaimErrors     map[string]int64 `json:"claim_errors"`
	CompleteErrors  map[string]int64 `json:"complete_errors"`
	ErrorCount      int64            `json:"error_count"`
}

// claimedJob is the part of a claimed job a worker needs to complete it.
type claimedJob struct {
	ID      string          `json:"id"`
	LeaseID string          `json:"lease_id"`
	Payload json.RawMessage `json:"payload"`
}

type claimAnswer struct {
	Jobs []claimedJob `json:"jobs"`
}

type claimRequest struct {
	QueueName  string `json:"queue_name"`
	WorkerID   string `json:"worker_id"`
	Limit      int    `json:"limit"`
	LeaseSecs  int    `json:"lease_duration_secs"`
	WaitMillis int    `json:"wait_ms,omitempty"`
}

type completeRequest struct {
	WorkerID string `json:"worker_id"`
	LeaseID  string `json:"lease_id"`
	Result   any    `json:"result"`
}

// batchCompleteRequest is POST /api/v1/jobs/complete: one request completes a whole claim.
type batchCompleteRequest struct {
	WorkerID string              `json:"worker_id"`
	Jobs     []batchCompleteItem `json:"jobs"`
}

type batchCompleteItem struct {
	JobID   string `json:"job_id"`
	LeaseID string `json:"lease_id"`
	Result  any    `json:"result"`
}

// batchCompleteAnswer judges each job on its own: a failed item (NOT_FOUND, LEASE_EXPIRED)
// is an error of the run even though the request answered 200.
type batchCompleteAnswer struct {
	Results []struct {
		Success bool `json:"success"`
		Error   *struct {
			Code string `json:"code"`
		} `json:"error"`
	} `json:"results"`
	SuccessCount int64 `json:"success_count"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own plain structs are marshalled here
	}
	return b
}

// runDrain measures the worker side: how fast 4 workers that claim 100 jobs at a time and
// complete each one individually can empty a queue. The prefill is not timed.
func runDrain(ctx context.Context, args []string) (any, error) {
	var c common
	fs := flag.NewFlagSet("drain", flag.ContinueOnError)
	c.register(fs, "bench-c")
	workers := fs.Int("workers", 4, "worker goroutines, each claiming then completing a batch")
	batch := fs.Int("batch", 100, "claim limit (1-100)")
	inflight := fs.Int("inflight", 0, "complete calls in flight per worker (default: -batch)")
	batchComplete := fs.Bool("batch-complete", false, "complete each claimed batch with one POST /jobs/complete")
	jobs := fs.Int64("jobs", 50000, "jobs to drain")
	prefill := fs.Bool("prefill", false, "bulk-enqueue -jobs jobs first (not timed)")
	prefillConc := fs.Int("prefill-concurrency", 4, "parallel bulk requests during the prefill")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up draining after this long")
	if err := c.parse(fs, args); err != nil {
		return nil, err
	}
	if *inflight == 0 {
		*inflight = *batch
	}
	for name, v := range map[string]int{"workers": *workers, "inflight": *inflight, "prefill-concurrency": *prefillConc} {
		if err := positive(name, v); err != nil {
			return nil, err
		}
	}
	if *batch < 1 || *batch > 100 {
		return nil, usagef("-batch must be 1-100 (the server's claim limit), got %d", *batch)
	}
	if *jobs <= 0 || *timeout <= 0 {
		return nil, usagef("-jobs and -timeout must be positive")
	}
	if !*prefill && !c.exactQueue {
		return nil, usagef("nothing to drain: the queue name gets a random suffix, so use -prefill, " +
			"or -exact-queue to drain a queue filled elsewhere")
	}

	// Each worker may have one claim plus -inflight completes open at once.
	client := NewClient(c, max(*workers*(*inflight+1), *prefillConc))
	if err := client.Preflight(ctx, c.queue); err != nil {
		return nil, err
	}
	res := drainResult{Scenario: "drain", Queue: c.queue, Workers: *workers, Batch: *batch, BatchComplete: *batchComplete,
		Inflight: *inflight, Jobs: *jobs}

	if *prefill {
		took, err := prefillQueue(ctx, client, c.queue, *jobs, *prefillConc)
		if err != nil {
			return nil, fmt.Errorf("prefill: %w", err)
		}
		res.PrefillS, res.PrefillJobsPS = seconds(took), perSecond(*jobs, took)
	}

	fmt.Fprintf(os.Stderr, "drain: %d workers claiming %d, %d completes in flight each, %d jobs on queue %s\n",
		*workers, *batch, *inflight, *jobs, c.queue)
	runCtx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	var (
		claimLat, completeLat   Recorder
		claimErrs, completeErrs ErrorCounts
		claims, empty           atomic.Int64
		completed               atomic.Int64
		finishedAt              atomic.Int64 // unix ns when the last job was completed
	)
	prog := StartProgress("drain", "completed", *jobs)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			worker := fmt.Sprintf("loadgen-%s-w%d", randomSuffix(), w)
			claimBody := mustJSON(claimRequest{QueueName: c.queue, WorkerID: worker, Limit: *batch, LeaseSecs: 30})
			sem := make(chan struct{}, *inflight)
			for runCtx.Err() == nil && completed.Load() < *jobs {
				var ans claimAnswer
				lat, err := client.Post(runCtx, "/api/v1/jobs/claim", claimBody, &ans)
				if err != nil {
					if runCtx.Err() == nil {
						claimErrs.Add(err)
						time.Sleep(50 * time.Millisecond) // do not spin on a failing server
					}
					continue
				}
				claimLat.Add(lat)
				claims.Add(1)
				if len(ans.Jobs) == 0 {
					// Queue looks empty, but other workers may still be completing (or a failed
					// complete's lease may still have to expire): check the count and retry.
					empty.Add(1)
					time.Sleep(2 * time.Millisecond)
					continue
				}
				if *batchComplete {
					req := batchCompleteRequest{WorkerID: worker}
					for _, j := range ans.Jobs {
						req.Jobs = append(req.Jobs, batchCompleteItem{JobID: j.ID, LeaseID: j.LeaseID, Result: map[string]bool{"ok": true}})
					}
					var out batchCompleteAnswer
					lat, err := client.Post(runCtx, "/api/v1/jobs/complete", mustJSON(req), &out)
					if err != nil {
						if runCtx.Err() == nil {
							completeErrs.Add(err)
						}
						continue
					}
					completeLat.Add(lat)
					for _, item := range out.Results {
						if item.Success {
							continue
						}
						code := "unknown"
						if item.Error != nil {
							code = item.Error.Code
						}
						completeErrs.AddKey("batch:" + code)
					}
					prog.Add(out.SuccessCount)
					if completed.Add(out.SuccessCount) >= *jobs {
						finishedAt.CompareAndSwap(0, time.Now().UnixNano())
					}
					continue
				}
				// Complete the batch concurrently over the pooled keep-alive connections, as a
				// worker with a thread pool would; the next claim waits for the whole batch.
				var batchWG sync.WaitGroup
				for _, j := range ans.Jobs {
					sem <- struct{}{}
					batchWG.Add(1)
					go func(j claimedJob) {
						defer func() { <-sem; batchWG.Done() }()
						body := mustJSON(completeRequest{WorkerID: worker, LeaseID: j.LeaseID, Result: map[string]bool{"ok": true}})
						lat, err := client.Post(runCtx, "/api/v1/jobs/"+j.ID+"/complete", body, nil)
						if err != nil {
							if runCtx.Err() == nil {
								completeErrs.Add(err)
							}
							return
						}
						completeLat.Add(lat)
						prog.Add(1)
						if completed.Add(1) == *jobs {
							finishedAt.Store(time.Now().UnixNano())
						}
					}(j)
				}
				batchWG.Wait()
			}
		}(w)
	}
	wg.Wait()
	prog.Stop()

	end := time.Now()
	if ns := finishedAt.Load(); ns != 0 {
		end = time.Unix(0, ns)
	}
	res.Completed = completed.Load()
	res.TimedOut = errors.Is(runCtx.Err(), context.DeadlineExceeded)
	res.ElapsedS = seconds(end.Sub(start))
	res.JobsPerS = perSecond(res.Completed, end.Sub(start))
	res.Claims, res.EmptyClaims = claims.Load(), empty.Load()
	res.ClaimLatency, res.CompleteLatency = claimLat.Summary(), completeLat.Summary()
	res.ClaimErrors, res.CompleteErrors = claimErrs.Snapshot(), completeErrs.Snapshot()
	res.ErrorCount = claimErrs.Total() + completeErrs.Total()

	// Untimed check that the queue really is empty: a claim now must return nothing.
	if ctx.Err() == nil {
		var ans claimAnswer
		body := mustJSON(claimRequest{QueueName: c.queue, WorkerID: "loadgen-verify", Limit: 1, LeaseSecs: 5})
		if _, err := client.Post(ctx, "/api/v1/jobs/claim", body, &ans); err == nil {
			res.QueueEmpty = len(ans.Jobs) == 0
		}
	}
	if res.Completed < *jobs {
		fmt.Fprintf(os.Stderr, "drain: only %d of %d jobs completed (timed out: %v)\n", res.Completed, *jobs, res.TimedOut)
	}
	return res, nil
}

// prefillQueue bulk-enqueues n jobs with `conc` parallel requests of up to 100 jobs.
func prefillQueue(ctx context.Context, client *Client, queue string, n int64, conc int) (time.Duration, error) {
	const per = 100 // the server's bulk limit
	fmt.Fprintf(os.Stderr, "prefill: enqueueing %d jobs on %s (not timed)\n", n, queue)
	full := bulkBody(queue, per)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	prog := StartProgress("prefill", "enqueued", n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				from := next.Add(per) - per
				if from >= n {
					return
				}
				body := full
				if k := n - from; k < per {
					body = bulkBody(queue, int(k))
				}
				var out bulkAnswer
				if _, err := client.Post(ctx, "/api/v1/jobs/bulk", body, &out); err != nil || out.FailureCount > 0 {
					if err == nil {
						err = fmt.Errorf("%d jobs of a bulk request failed", out.FailureCount)
					}
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				prog.Add(out.SuccessCount)
			}
		}()
	}
	wg.Wait()
	prog.Stop()
	if firstErr != nil {
		return 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
