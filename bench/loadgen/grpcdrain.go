package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// grpcDrainResult is the JSON line of `loadgen grpc-drain`.
type grpcDrainResult struct {
	Scenario        string           `json:"scenario"`
	Mode            string           `json:"mode"`
	Queue           string           `json:"queue"`
	Workers         int              `json:"workers"`
	Batch           int              `json:"batch,omitempty"`
	Streams         int              `json:"streams_per_worker,omitempty"`
	Window          int              `json:"window,omitempty"`
	Jobs            int64            `json:"jobs"`
	Delivered       int64            `json:"delivered"`
	Duplicates      int64            `json:"duplicate_deliveries"`
	Completed       int64            `json:"completed"`
	TimedOut        bool             `json:"timed_out"`
	PrefillS        float64          `json:"prefill_s,omitempty"`
	PrefillJobsPS   float64          `json:"prefill_jobs_per_s,omitempty"`
	ElapsedS        float64          `json:"elapsed_s"`
	JobsPerS        float64          `json:"jobs_per_s"`
	Dequeues        int64            `json:"dequeues,omitempty"`
	EmptyDequeues   int64            `json:"empty_dequeues,omitempty"`
	DequeueLatency  *LatencySummary  `json:"dequeue_latency,omitempty"`
	CompleteLatency LatencySummary   `json:"complete_latency"`
	Errors          map[string]int64 `json:"errors"`
	ErrorCount      int64            `json:"error_count"`
	ServerCounts    *queueCounts     `json:"server_counts"`
	RestStats       *restQueueStats  `json:"rest_stats"`
	ExactlyOnce     bool             `json:"exactly_once"`
}

// queueCounts is gRPC GetQueueStats: the queue's jobs by status, every status counted.
type queueCounts struct {
	Pending    int64 `json:"pending"`
	Scheduled  int64 `json:"scheduled"`
	Processing int64 `json:"processing"`
	Completed  int64 `json:"completed"`
	Failed     int64 `json:"failed"`
	Deadletter int64 `json:"deadletter"`
	Total      int64 `json:"total"`
}

func fetchQueueCounts(ctx context.Context, s *Schema, conn *GrpcConn, queue string) (*queueCounts, error) {
	out := s.New("GetQueueStatsResponse")
	if _, err := conn.Call(ctx, queueService+"GetQueueStats", s.New("GetQueueStatsRequest", "queue_name", queue), out); err != nil {
		return nil, err
	}
	n := func(f string) int64 { return Int64(out, f) }
	return &queueCounts{Pending: n("pending"), Scheduled: n("scheduled"), Processing: n("processing"),
		Completed: n("completed"), Failed: n("failed"), Deadletter: n("deadletter"), Total: n("total")}, nil
}

// restQueueStats is REST GET /api/v1/queues/{name}/stats (no total or dead-letter count there,
// hence the gRPC counts beside it).
type restQueueStats struct {
	Pending    int64 `json:"pending_jobs"`
	Processing int64 `json:"processing_jobs"`
	Completed  int64 `json:"completed_jobs_24h"`
	Failed     int64 `json:"failed_jobs_24h"`
}

func fetchRestStats(ctx context.Context, client *Client, queue string) (*restQueueStats, error) {
	var st restQueueStats
	if _, err := client.Get(ctx, "/api/v1/queues/"+url.PathEscape(queue)+"/stats", &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// drainTally is what every worker of a gRPC drain reports into: deliveries by job id (to
// catch a job delivered twice), completes, errors, and the first/last instants.
type drainTally struct {
	target      int64
	mu          sync.Mutex
	seen        map[string]struct{}
	delivered   atomic.Int64
	dups        atomic.Int64
	completed   atomic.Int64
	firstAt     atomic.Int64 // unix ns of the first delivery
	lastAt      atomic.Int64 // unix ns of the complete that reached target
	errs        ErrorCounts
	completeLat Recorder
	prog        *Progress
	done        chan struct{} // closed when target completes were confirmed
	doneOnce    sync.Once
}

func newDrainTally(target int64, prog *Progress) *drainTally {
	return &drainTally{target: target, seen: make(map[string]struct{}, target), prog: prog, done: make(chan struct{})}
}

func (t *drainTally) deliver(id string) {
	now := time.Now().UnixNano()
	t.firstAt.CompareAndSwap(0, now)
	t.delivered.Add(1)
	t.mu.Lock()
	_, dup := t.seen[id]
	t.seen[id] = struct{}{}
	t.mu.Unlock()
	if dup {
		t.dups.Add(1)
	}
}

func (t *drainTally) complete() {
	t.prog.Add(1)
	if t.completed.Add(1) == t.target {
		t.lastAt.Store(time.Now().UnixNano())
		t.doneOnce.Do(func() { close(t.done) })
	}
}

func (t *drainTally) finished() bool { return t.completed.Load() >= t.target }

// runGrpcDrain measures the worker side over gRPC: -workers workers, each on its own
// connection, empty a prefilled queue. -mode process: one ProcessJobs stream per worker
// carrying dequeues of -batch and a complete per job (process-batch: one complete_batch per
// dequeue, the server's extension). -mode stream: one StreamJobs stream per
// worker (registered with max_concurrency -window) plus a unary Complete per job.
func runGrpcDrain(ctx context.Context, args []string) (any, error) {
	var c common
	var g grpcFlags
	fs := flag.NewFlagSet("grpc-drain", flag.ContinueOnError)
	c.register(fs, "bench-e")
	g.register(fs)
	mode := fs.String("mode", "process", "process (ProcessJobs: dequeue + complete on one bidi stream), process-batch "+
		"(the same, each dequeue's jobs completed by one complete_batch) or stream (StreamJobs + unary Complete)")
	workers := fs.Int("workers", 4, "workers, each with its own connection and stream")
	batch := fs.Int("batch", 100, "process mode: jobs per dequeue (1-100)")
	streams := fs.Int("streams", 1, "process modes: ProcessJobs streams per worker")
	window := fs.Int("window", 100, "stream mode: the workers' registered max_concurrency = unsettled jobs per stream (1-100)")
	jobs := fs.Int64("jobs", 50000, "jobs to drain")
	prefill := fs.Bool("prefill", false, "bulk-enqueue -jobs jobs over REST first (not timed)")
	prefillConc := fs.Int("prefill-concurrency", 4, "parallel bulk requests during the prefill")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up draining after this long")
	if err := c.parse(fs, args); err != nil {
		return nil, err
	}
	if err := g.resolve(); err != nil {
		return nil, err
	}
	if *mode != "process" && *mode != "process-batch" && *mode != "stream" {
		return nil, usagef("-mode must be process, process-batch or stream, got %q", *mode)
	}
	if err := positive("workers", *workers); err != nil {
		return nil, err
	}
	if err := positive("streams", *streams); err != nil {
		return nil, err
	}
	if *batch < 1 || *batch > 100 || *window < 1 || *window > 100 {
		return nil, usagef("-batch and -window must be 1-100")
	}
	if *jobs <= 0 || *timeout <= 0 || *prefillConc <= 0 {
		return nil, usagef("-jobs, -timeout and -prefill-concurrency must be positive")
	}
	if !*prefill && !c.exactQueue {
		return nil, usagef("nothing to drain: use -prefill, or -exact-queue to drain a queue filled elsewhere")
	}

	schema, err := LoadSchema(ctx, g.proto)
	if err != nil {
		return nil, err
	}
	client := NewClient(c, *prefillConc+2)
	if err := client.Preflight(ctx, c.queue); err != nil {
		return nil, err
	}
	conns := make([]*GrpcConn, *workers)
	for i := range conns {
		if conns[i], err = DialGrpc(g.addr, c.key); err != nil {
			return nil, err
		}
		defer conns[i].Close()
	}
	if err := GrpcPreflight(ctx, schema, conns[0], g.addr, c.queue); err != nil {
		return nil, err
	}

	res := grpcDrainResult{Scenario: "grpc-drain", Mode: *mode, Queue: c.queue, Workers: *workers, Jobs: *jobs}
	if *prefill {
		took, err := prefillQueue(ctx, client, c.queue, *jobs, *prefillConc)
		if err != nil {
			return nil, fmt.Errorf("prefill: %w", err)
		}
		res.PrefillS, res.PrefillJobsPS = seconds(took), perSecond(*jobs, took)
	}

	runCtx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	prog := StartProgress("grpc-drain", "completed", *jobs)
	tally := newDrainTally(*jobs, prog)
	start := time.Now()
	var wg sync.WaitGroup
	var dequeueLat Recorder
	var dequeues, empty atomic.Int64
	switch *mode {
	case "process", "process-batch":
		res.Batch, res.Streams = *batch, *streams
		fmt.Fprintf(os.Stderr, "grpc-drain: %d ProcessJobs workers (%d streams each) dequeuing %d, %d jobs on queue %s\n",
			*workers, *streams, *batch, *jobs, c.queue)
		for w := 0; w < *workers; w++ {
			worker := fmt.Sprintf("loadgen-%s-w%d", randomSuffix(), w)
			for st := 0; st < *streams; st++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					pw := processWorker{batchComplete: *mode == "process-batch", schema: schema, conn: conns[w], queue: c.queue, batch: *batch,
						worker: worker, tally: tally, dequeueLat: &dequeueLat, dequeues: &dequeues, empty: &empty}
					if err := pw.run(runCtx); err != nil && runCtx.Err() == nil {
						tally.errs.Add(err)
						fmt.Fprintf(os.Stderr, "grpc-drain: worker %d: %v\n", w, err)
					}
				}(w)
			}
		}
	case "stream":
		res.Window = *window
		fmt.Fprintf(os.Stderr, "grpc-drain: %d StreamJobs workers (window %d) + unary Complete, %d jobs on queue %s\n",
			*workers, *window, *jobs, c.queue)
		streamCtx, stopStreams := context.WithCancel(runCtx)
		defer stopStreams()
		go func() { // streams never end by themselves: stop them once every job is completed
			select {
			case <-tally.done:
			case <-runCtx.Done():
			}
			stopStreams()
		}()
		for w := 0; w < *workers; w++ {
			id, err := registerWorker(ctx, schema, conns[w], c.queue, *window)
			if err != nil {
				return nil, err
			}
			defer deregisterWorker(ctx, schema, conns[w], id)
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				sw := streamWorker{schema: schema, conn: conns[w], queue: c.queue, worker: id, window: *window, tally: tally}
				if err := sw.run(streamCtx, runCtx); err != nil && streamCtx.Err() == nil {
					tally.errs.Add(err)
					fmt.Fprintf(os.Stderr, "grpc-drain: worker %d: %v\n", w, err)
				}
			}(w)
		}
	}
	wg.Wait()
	prog.Stop()

	first, end := start, time.Now()
	if ns := tally.firstAt.Load(); ns != 0 {
		first = time.Unix(0, ns)
	}
	if ns := tally.lastAt.Load(); ns != 0 {
		end = time.Unix(0, ns)
	}
	res.Delivered, res.Duplicates, res.Completed = tally.delivered.Load(), tally.dups.Load(), tally.completed.Load()
	res.TimedOut = errors.Is(runCtx.Err(), context.DeadlineExceeded)
	res.ElapsedS = seconds(end.Sub(first))
	res.JobsPerS = perSecond(res.Completed, end.Sub(first))
	if *mode != "stream" {
		s := dequeueLat.Summary()
		res.DequeueLatency, res.Dequeues, res.EmptyDequeues = &s, dequeues.Load(), empty.Load()
	}
	res.CompleteLatency = tally.completeLat.Summary()
	res.Errors, res.ErrorCount = tally.errs.Snapshot(), tally.errs.Total()

	// Untimed check of exactly-once on the server's side: every job of the queue completed,
	// none left pending, leased, failed or dead-lettered.
	if ctx.Err() == nil {
		qc, err := fetchQueueCounts(ctx, schema, conns[0], c.queue)
		if err != nil {
			fmt.Fprintf(os.Stderr, "grpc-drain: reading the queue's counts (gRPC): %v\n", err)
		}
		rs, err := fetchRestStats(ctx, client, c.queue)
		if err != nil {
			fmt.Fprintf(os.Stderr, "grpc-drain: reading the queue's stats (REST): %v\n", err)
		}
		res.ServerCounts, res.RestStats = qc, rs
		res.ExactlyOnce = qc != nil && qc.Completed == *jobs && qc.Total == *jobs && qc.Pending == 0 &&
			qc.Scheduled == 0 && qc.Processing == 0 && qc.Failed == 0 && qc.Deadletter == 0 &&
			rs != nil && rs.Completed == *jobs && rs.Pending == 0 && rs.Processing == 0 && rs.Failed == 0 &&
			res.Duplicates == 0 && res.Completed == *jobs && int64(len(tally.seen)) == *jobs
	}
	if !res.ExactlyOnce {
		fmt.Fprintf(os.Stderr, "grpc-drain: exactly-once check FAILED: completed %d of %d, %d duplicate deliveries, server counts %+v, REST stats %+v\n",
			res.Completed, *jobs, res.Duplicates, res.ServerCounts, res.RestStats)
	}
	return res, nil
}
