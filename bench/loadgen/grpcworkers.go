package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/dynamicpb"
)

// processWorker drains a queue over one ProcessJobs stream. The server answers requests one
// at a time, in order, and a dequeue is answered by zero or more `job` messages with no end
// marker of its own; so every dequeue is followed by a RenewLease for a job id that holds no
// lease (answered `success = false` without touching the database), whose answer marks where
// the dequeue's jobs end. Each job is completed on the same stream as soon as it arrives, and
// the next dequeue is sent as soon as the previous one is fully answered: requests are
// pipelined, the server always has the next one waiting. With batchComplete the jobs of a
// dequeue are completed by one complete_batch request (the server's extension) instead.
type processWorker struct {
	batchComplete bool
	schema        *Schema
	conn          *GrpcConn
	queue         string
	worker        string
	batch         int
	tally         *drainTally
	dequeueLat    *Recorder
	dequeues      *atomic.Int64
	empty         *atomic.Int64
}

// expected is one request awaiting its answer, in send order.
type expected struct {
	kind  byte // 'd' dequeue, 'm' its end marker, 'c' complete, 'b' complete_batch
	jobID string
	sent  time.Time
}

func (p *processWorker) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := p.conn.Stream(ctx, processJobsDesc, queueService+"ProcessJobs")
	if err != nil {
		return err
	}
	// One goroutine sends (SendMsg is not safe for concurrent use); the receive loop below is
	// the only producer, so the send order is the order requests are pushed to `fifo`.
	sendq := make(chan *dynamicpb.Message, 4*p.batch+16)
	go func() {
		for m := range sendq {
			if stream.SendMsg(m) != nil {
				return // RecvMsg reports the stream's error
			}
		}
		_ = stream.CloseSend()
	}()
	closed := false
	defer func() {
		if !closed {
			close(sendq)
		}
	}()

	s := p.schema
	dequeue := s.New("ProcessRequest", "dequeue", s.New("DequeueRequest", "queue_name", p.queue,
		"worker_id", p.worker, "batch_size", p.batch, "lease_duration_secs", 30))
	marker := s.New("ProcessRequest", "renew_lease", s.New("RenewLeaseRequest", "job_id", "loadgen-end-of-dequeue"))
	var fifo []expected
	push := func(m *dynamicpb.Message, e expected) {
		fifo = append(fifo, e)
		sendq <- m
	}
	sendDequeue := func() {
		push(dequeue, expected{kind: 'd', sent: time.Now()})
		push(marker, expected{kind: 'm'})
	}

	var toComplete []*dynamicpb.Message // batchComplete: this dequeue's completes, sent at its marker
	sendDequeue()
	stopping, jobsInDequeue := false, 0
	backoff := time.Duration(0)
	resp := s.New("ProcessResponse")
	for {
		if stopping && len(fifo) == 0 && !closed {
			closed = true
			close(sendq) // half-close: the server ends the stream once it has answered everything
		}
		if err := stream.RecvMsg(resp); err != nil {
			if errors.Is(err, io.EOF) {
				if closed {
					return nil
				}
				return errors.New("the server ended the ProcessJobs stream early")
			}
			return err
		}
		if len(fifo) == 0 {
			return fmt.Errorf("unexpected %q answer with no request outstanding", Which(resp, "response"))
		}
		head := fifo[0]
		switch kind := Which(resp, "response"); kind {
		case "job":
			if head.kind != 'd' {
				return fmt.Errorf("a job arrived where a %c answer was expected", head.kind)
			}
			job := Sub(resp, "job")
			id := Str(job, "id")
			p.tally.deliver(id)
			jobsInDequeue++
			complete := s.New("CompleteRequest", "job_id", id, "worker_id", p.worker, "lease_id", Str(job, "lease_id"))
			if p.batchComplete {
				toComplete = append(toComplete, complete)
			} else {
				push(s.New("ProcessRequest", "complete", complete), expected{kind: 'c', jobID: id, sent: time.Now()})
			}
		case "renew_lease": // the marker: the dequeue before it is fully answered
			if head.kind == 'd' {
				p.dequeueLat.Add(time.Since(head.sent))
				p.dequeues.Add(1)
				fifo = fifo[1:]
			}
			if len(fifo) == 0 || fifo[0].kind != 'm' {
				return errors.New("end-of-dequeue marker answer out of order")
			}
			fifo = fifo[1:]
			if len(toComplete) > 0 {
				push(s.New("ProcessRequest", "complete_batch", s.New("CompleteBatchRequest", "jobs", toComplete)),
					expected{kind: 'b', sent: time.Now()})
				toComplete = nil
			}
			switch {
			case p.tally.finished():
				stopping = true
			case jobsInDequeue == 0:
				// Nothing ready, but other workers still hold jobs (or a failed complete's lease
				// must expire): ask again shortly, backing off (2 ms doubling to 50 ms) so idle
				// streams do not flood the server while the others finish.
				p.empty.Add(1)
				backoff = min(max(2*backoff, 2*time.Millisecond), 50*time.Millisecond)
				time.Sleep(backoff)
				sendDequeue()
			default:
				backoff = 0
				sendDequeue()
			}
			jobsInDequeue = 0
		case "complete":
			if head.kind != 'c' {
				return fmt.Errorf("a complete answer arrived where a %c answer was expected", head.kind)
			}
			fifo = fifo[1:]
			p.tally.completeLat.Add(time.Since(head.sent))
			p.tally.complete()
			if p.tally.finished() {
				stopping = true
			}
		case "complete_batch":
			if head.kind != 'b' {
				return fmt.Errorf("a complete_batch answer arrived where a %c answer was expected", head.kind)
			}
			fifo = fifo[1:]
			lat := time.Since(head.sent)
			results := List(Sub(resp, "complete_batch"), "results")
			for i := 0; i < results.Len(); i++ {
				outcome := results.Get(i).Message()
				if Bool(outcome, "success") {
					p.tally.completeLat.Add(lat)
					p.tally.complete()
				} else {
					p.tally.errs.AddKey("process:b:" + Str(Sub(outcome, "error"), "code"))
				}
			}
			if p.tally.finished() {
				stopping = true
			}
		case "error":
			fifo = fifo[1:]
			p.tally.errs.AddKey(fmt.Sprintf("process:%c:%s", head.kind, Str(Sub(resp, "error"), "code")))
		default:
			return fmt.Errorf("unexpected ProcessJobs answer %q", kind)
		}
	}
}

// streamWorker drains a queue over one StreamJobs stream: the server pushes up to the
// worker's registered max_concurrency unsettled jobs, and each is completed with its own
// unary Complete on the same connection (so the settle wakes the stream in the same server
// process at once, rather than at its 1 s re-check).
type streamWorker struct {
	schema *Schema
	conn   *GrpcConn
	queue  string
	worker string
	window int
	tally  *drainTally
}

// run returns when ctx is cancelled (nil) or the stream fails. Completes run on callCtx so
// that cancelling the stream does not cut them short.
func (w *streamWorker) run(ctx, callCtx context.Context) error {
	s := w.schema
	stream, err := w.conn.Stream(ctx, streamJobsDesc, queueService+"StreamJobs")
	if err != nil {
		return err
	}
	if err := stream.SendMsg(s.New("StreamJobsRequest", "queue_name", w.queue, "worker_id", w.worker,
		"lease_duration_secs", 30)); err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	sem := make(chan struct{}, w.window)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		job := s.New("Job")
		if err := stream.RecvMsg(job); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		id := Str(job, "id")
		w.tally.deliver(id)
		req := s.New("CompleteRequest", "job_id", id, "worker_id", w.worker, "lease_id", Str(job, "lease_id"))
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			lat, err := w.conn.Call(callCtx, queueService+"Complete", req, s.New("CompleteResponse"))
			if err != nil {
				if callCtx.Err() == nil {
					w.tally.errs.Add(err)
				}
				return
			}
			w.tally.completeLat.Add(lat)
			w.tally.complete()
		}()
	}
}
