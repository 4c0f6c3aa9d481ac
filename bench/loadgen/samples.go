package main

import (
	"context"
	"time"
)

// latencySamples is what the one-job-at-a-time scenarios (`latency`, `grpc-latency`) record
// per round: the enqueue call's latency and the job's measured figure, or a loss. Rounds
// before `warmup` are not recorded.
type latencySamples struct {
	warmup   int
	measured Recorder
	enqueue  Recorder
	lost     int
	prog     *Progress
}

// record files round i. ok says the job was reported in time; a job that was not counts as
// lost unless the run itself was stopped (ctx ended).
func (s *latencySamples) record(ctx context.Context, i int, enqueueLat, figure time.Duration, ok bool) {
	if i < s.warmup {
		return
	}
	s.enqueue.Add(enqueueLat)
	switch {
	case ok:
		s.measured.Add(figure)
		s.prog.Add(1)
	case ctx.Err() == nil:
		s.lost++
	}
}

// awaitJob waits up to timeout for the report of job id on reports. Reports of other jobs are
// late pickups of jobs already counted as lost, and are dropped. ok is false on timeout or
// when ctx ends.
func awaitJob[T any](ctx context.Context, reports <-chan T, id string, idOf func(T) string,
	timeout time.Duration) (got T, ok bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case r := <-reports:
			if idOf(r) == id {
				return r, true
			}
		case <-deadline.C:
			return got, false
		case <-ctx.Done():
			return got, false
		}
	}
}
