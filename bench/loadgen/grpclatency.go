package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// grpcLatencyResult is the JSON line of `loadgen grpc-latency`.
type grpcLatencyResult struct {
	Scenario          string           `json:"scenario"`
	Queue             string           `json:"queue"`
	Workers           int              `json:"workers"`
	IntervalMS        float64          `json:"interval_ms"`
	Warmup            int              `json:"warmup_samples"`
	Samples           int              `json:"samples"`
	Lost              int              `json:"lost"`
	EnqueueToDelivery LatencySummary   `json:"enqueue_to_delivery"`
	EnqueueLatency    LatencySummary   `json:"enqueue_latency"`
	Errors            map[string]int64 `json:"errors"`
	ErrorCount        int64            `json:"error_count"`
}

// delivery is one job as a streaming worker saw it: which job and when it arrived.
type delivery struct {
	id      string
	arrived time.Time
}

// runGrpcLatency measures how quickly an idle StreamJobs stream is pushed a new job: -workers
// workers hold StreamJobs streams on an empty queue, a producer sends one gRPC Enqueue at a
// time, and the figure is (job received by a worker) - (just before the Enqueue call). Both
// instants are read from this process's monotonic clock. Each job is completed (unary
// Complete) before the next is sent, after a random gap of 0.5-1.5 x -interval.
func runGrpcLatency(ctx context.Context, args []string) (any, error) {
	var c common
	var g grpcFlags
	fs := flag.NewFlagSet("grpc-latency", flag.ContinueOnError)
	c.register(fs, "bench-f")
	g.register(fs)
	workers := fs.Int("workers", 4, "workers holding an idle StreamJobs stream each, on its own connection")
	samples := fs.Int("samples", 500, "measured jobs")
	warmup := fs.Int("warmup-samples", 10, "jobs sent first and not measured")
	interval := fs.Duration("interval", 20*time.Millisecond, "mean gap between a job's delivery and the next enqueue (uniform in 0.5-1.5x)")
	pickupTimeout := fs.Duration("pickup-timeout", 15*time.Second, "count a job as lost if not delivered within this")
	if err := c.parse(fs, args); err != nil {
		return nil, err
	}
	if err := g.resolve(); err != nil {
		return nil, err
	}
	if err := positive("workers", *workers); err != nil {
		return nil, err
	}
	if err := positive("samples", *samples); err != nil {
		return nil, err
	}
	if *warmup < 0 || *interval < 0 || *pickupTimeout <= 0 {
		return nil, usagef("-warmup-samples and -interval must not be negative, -pickup-timeout must be positive")
	}

	schema, err := LoadSchema(ctx, g.proto)
	if err != nil {
		return nil, err
	}
	producer, err := DialGrpc(g.addr, c.key)
	if err != nil {
		return nil, err
	}
	defer producer.Close()
	if err := GrpcPreflight(ctx, schema, producer, g.addr, c.queue); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "grpc-latency: %d idle StreamJobs workers, %d samples (+%d warm-up) on queue %s\n",
		*workers, *samples, *warmup, c.queue)

	var errs ErrorCounts
	delivered := make(chan delivery, *workers*4)
	streamCtx, stopStreams := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := 0; i < *workers; i++ {
		conn, err := DialGrpc(g.addr, c.key)
		if err != nil {
			stopStreams()
			return nil, err
		}
		defer conn.Close()
		id, err := registerWorker(ctx, schema, conn, c.queue, 1)
		if err != nil {
			stopStreams()
			return nil, err
		}
		defer deregisterWorker(ctx, schema, conn, id)
		wg.Add(1)
		go func() {
			defer wg.Done()
			idleStreamWorker(streamCtx, ctx, schema, conn, c.queue, id, delivered, &errs)
		}()
	}
	// Let every stream reach its wait on the empty queue before the first job, so the first
	// samples measure a wake-up and not a claim that happened to be starting anyway.
	time.Sleep(time.Second)

	run := latencySamples{warmup: *warmup, prog: StartProgress("grpc-latency", "samples", int64(*samples))}
	for i := 0; i < *warmup+*samples && ctx.Err() == nil; i++ {
		req := schema.New("EnqueueRequest", "queue_name", c.queue)
		SetStruct(req, "payload", map[string]any{"seq": i})
		out := schema.New("EnqueueResponse")
		sent := time.Now()
		lat, err := producer.Call(ctx, queueService+"Enqueue", req, out)
		if err != nil {
			errs.Add(err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		// The delivery may arrive before the Enqueue answer: it waits on the channel.
		d, ok := awaitJob(ctx, delivered, Str(out, "job_id"), func(d delivery) string { return d.id }, *pickupTimeout)
		run.record(ctx, i, lat, d.arrived.Sub(sent), ok)
		if *interval > 0 {
			time.Sleep(*interval/2 + rand.N(*interval))
		}
	}
	run.prog.Stop()
	stopStreams()
	wg.Wait()

	toDelivery := run.measured.Summary()
	return grpcLatencyResult{
		Scenario: "grpc-latency", Queue: c.queue, Workers: *workers, IntervalMS: ms(*interval),
		Warmup: *warmup, Samples: toDelivery.Count, Lost: run.lost,
		EnqueueToDelivery: toDelivery, EnqueueLatency: run.enqueue.Summary(),
		Errors: errs.Snapshot(), ErrorCount: errs.Total(),
	}, nil
}

// idleStreamWorker holds one StreamJobs stream, reports each job the moment it arrives and
// completes it. It reopens the stream if the server ends it, until ctx is cancelled.
func idleStreamWorker(ctx, callCtx context.Context, s *Schema, conn *GrpcConn, queue, worker string,
	delivered chan<- delivery, errs *ErrorCounts) {
	for ctx.Err() == nil {
		stream, err := conn.Stream(ctx, streamJobsDesc, queueService+"StreamJobs")
		if err == nil {
			err = stream.SendMsg(s.New("StreamJobsRequest", "queue_name", queue, "worker_id", worker))
		}
		if err == nil {
			err = stream.CloseSend()
		}
		for err == nil {
			job := s.New("Job")
			if err = stream.RecvMsg(job); err != nil {
				break
			}
			arrived := time.Now() // first thing after the message: this is the measured instant
			id := Str(job, "id")
			select {
			case delivered <- delivery{id: id, arrived: arrived}:
			case <-ctx.Done():
			}
			req := s.New("CompleteRequest", "job_id", id, "worker_id", worker, "lease_id", Str(job, "lease_id"))
			if _, cerr := conn.Call(callCtx, queueService+"Complete", req, s.New("CompleteResponse")); cerr != nil && callCtx.Err() == nil {
				errs.Add(cerr)
			}
		}
		if ctx.Err() == nil {
			errs.Add(err)
			time.Sleep(50 * time.Millisecond)
		}
	}
}
