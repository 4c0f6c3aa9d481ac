package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// op performs one request for worker w and returns how many jobs it accomplished (1 for a
// single create, the batch size for a bulk create), its latency and any error.
type op func(ctx context.Context, w int) (jobs int64, latency time.Duration, err error)

// loopResult is what a closed-loop run measured inside its measurement window.
type loopResult struct {
	Requests int64
	Jobs     int64
	Window   time.Duration
	Latency  *Recorder
	Errors   *ErrorCounts
}

// closedLoop runs `concurrency` goroutines that each issue the next request as soon as the
// previous one answered (a closed loop: offered load adapts to the server, so the figure is
// the server's capacity at this concurrency, not a queueing artefact of a fixed arrival rate).
//
// The first `warmup` is not measured: connections are being opened, the server's pools filled
// and caches warmed. Only requests that finish inside [warmup, warmup+duration] count;
// requests still in flight at the end are discarded rather than cancelled, so a cut-off never
// shows up as an error.
func closedLoop(ctx context.Context, label string, concurrency int, warmup, duration time.Duration, do op) loopResult {
	res := loopResult{Latency: &Recorder{}, Errors: &ErrorCounts{}}
	prog := NewProgress(label, "jobs", 0)
	var requests atomic.Int64

	start := time.Now()
	from, until := start.Add(warmup), start.Add(warmup+duration)
	var wg sync.WaitGroup
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(until) {
				n, lat, err := do(ctx, w)
				end := time.Now()
				if end.Before(from) {
					continue
				}
				if end.After(until) || ctx.Err() != nil {
					return
				}
				if err != nil {
					res.Errors.Add(err)
					continue
				}
				res.Latency.Add(lat)
				requests.Add(1)
				prog.Add(n)
			}
		}(w)
	}

	if warmup > 0 {
		fmt.Fprintf(os.Stderr, "  [%s] warming up for %s (not measured)\n", label, warmup)
		select {
		case <-time.After(time.Until(from)):
		case <-ctx.Done():
		}
	}
	prog.Start()
	wg.Wait()
	prog.Stop()

	end := time.Now()
	if end.After(until) {
		end = until
	}
	res.Window = end.Sub(from)
	if res.Window < 0 {
		res.Window = 0
	}
	res.Requests = requests.Load()
	res.Jobs = prog.Count()
	return res
}

// perSecond is a rate rounded to one decimal, 0 for an empty window.
func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(int64(float64(n)/d.Seconds()*10)) / 10
}
