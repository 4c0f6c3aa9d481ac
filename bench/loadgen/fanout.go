package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// fanoutResult is the JSON line of `loadgen fanout`.
type fanoutResult struct {
	Scenario      string                    `json:"scenario"`
	Transport     string                    `json:"transport"`
	Queue         string                    `json:"queue"`
	Subscribers   int                       `json:"subscribers"`
	Connected     int                       `json:"connected"`
	ConnectS      float64                   `json:"connect_s"`
	ConnectErrors map[string]int64          `json:"connect_errors"`
	RatePerS      float64                   `json:"rate_per_s"`
	DurationS     float64                   `json:"duration_s"`
	Jobs          int64                     `json:"jobs"`
	Expected      int64                     `json:"expected"`
	Delivered     int64                     `json:"delivered"`
	Missing       int64                     `json:"missing"`
	MissingSubs   int                       `json:"subscribers_missing_events"`
	Duplicates    int64                     `json:"duplicates"`
	EndedEarly    int                       `json:"subscribers_ended_early"`
	DropNotices   int                       `json:"dropped_notices"`
	Delay         LatencySummary            `json:"delivery_latency"`
	PerTransport  map[string]LatencySummary `json:"per_transport,omitempty"`
	CreateLatency LatencySummary            `json:"create_latency"`
	CreateErrors  map[string]int64          `json:"create_errors"`
	ErrorCount    int64                     `json:"error_count"`
}

// runFanout measures real-time fan-out: -subscribers SSE and/or WebSocket clients all follow
// one queue's events, a producer creates jobs over REST at -rate for -duration, and every
// (subscriber, job.created) pair is timed from just before the create request was sent to
// the moment the subscriber read the event (matched by job id). Every subscriber must see
// every job: pairs never seen are reported as missing.
func runFanout(ctx context.Context, args []string) (any, error) {
	var c common
	fs := flag.NewFlagSet("fanout", flag.ContinueOnError)
	c.register(fs, "bench-g")
	transport := fs.String("transport", "sse", "sse (GET /api/v1/events/queues/{queue}), ws (GET /api/v1/ws?queue=) or mix (alternating)")
	subscribers := fs.Int("subscribers", 500, "subscribers, each on its own connection")
	rate := fs.Float64("rate", 20, "jobs created per second (open loop)")
	duration := fs.Duration("duration", 10*time.Second, "how long jobs are created")
	settle := fs.Duration("settle", 5*time.Second, "after the last create, wait at most this long for outstanding events")
	connectConc := fs.Int("connect-concurrency", 50, "subscribers connecting at once")
	readyTimeout := fs.Duration("ready-timeout", 60*time.Second, "give up waiting for subscribers to be ready after this long")
	if err := c.parse(fs, args); err != nil {
		return nil, err
	}
	if *transport != "sse" && *transport != "ws" && *transport != "mix" {
		return nil, usagef("-transport must be sse, ws or mix, got %q", *transport)
	}
	if err := positive("subscribers", *subscribers); err != nil {
		return nil, err
	}
	if err := positive("connect-concurrency", *connectConc); err != nil {
		return nil, err
	}
	if *rate <= 0 || *duration <= 0 || *settle < 0 || *readyTimeout <= 0 {
		return nil, usagef("-rate, -duration and -ready-timeout must be positive, -settle not negative")
	}
	raiseFileLimit(uint64(*subscribers) + 256)

	client := NewClient(c, 8)
	if err := client.Preflight(ctx, c.queue); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "fanout: %d %s subscribers on queue %s, %.0f jobs/s for %s\n",
		*subscribers, *transport, c.queue, *rate, *duration)

	// One transport for every SSE stream: each holds its own connection for the whole run.
	hc := &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true, MaxIdleConnsPerHost: *subscribers}}
	subCtx, stopSubs := context.WithCancel(ctx)
	defer stopSubs()
	var connectErrs ErrorCounts
	var received atomic.Int64
	subs := make([]*subscriber, *subscribers)
	sem := make(chan struct{}, *connectConc)
	var wg sync.WaitGroup
	connectStart := time.Now()
	for i := range subs {
		kind := *transport
		if kind == "mix" {
			kind = []string{"sse", "ws"}[i%2]
		}
		s := &subscriber{transport: kind, got: map[string]time.Time{}, ready: make(chan struct{}), received: &received}
		subs[i] = s
		wg.Add(1)
		go func() {
			defer wg.Done()
			// At most -connect-concurrency subscribers connect at once; a slot frees when its
			// subscriber is ready (or gives up).
			sem <- struct{}{}
			var once sync.Once
			release := func() { once.Do(func() { <-sem }) }
			defer release()
			go func() {
				select {
				case <-s.ready:
					release()
				case <-subCtx.Done():
				}
			}()
			var err error
			if kind == "sse" {
				err = s.runSSE(subCtx, hc, c.url+"/api/v1/events/queues/"+url.PathEscape(c.queue), "Bearer "+c.key)
			} else {
				err = s.runWS(subCtx, wsURL(c.url, c.queue), "Bearer "+c.key)
			}
			if subCtx.Err() == nil {
				s.endedEarly.Store(true)
				if err != nil && !s.isReady() {
					connectErrs.Add(err)
				}
				if err != nil {
					fmt.Fprintf(os.Stderr, "fanout: %s subscriber ended: %v\n", kind, err)
				}
			}
		}()
	}

	// Wait until every subscriber is subscribed (its first frame arrived) or gave up.
	deadline := time.Now().Add(*readyTimeout)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		ready, gone := 0, 0
		for _, s := range subs {
			if s.isReady() {
				ready++
			} else if s.endedEarly.Load() {
				gone++
			}
		}
		if ready+gone == len(subs) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var live []*subscriber
	for _, s := range subs {
		if s.isReady() && !s.endedEarly.Load() {
			live = append(live, s)
		}
	}
	connectTook := time.Since(connectStart)
	fmt.Fprintf(os.Stderr, "fanout: %d of %d subscribers ready in %.1fs\n", len(live), len(subs), connectTook.Seconds())
	if len(live) == 0 {
		return nil, fmt.Errorf("no subscriber could subscribe (connect errors: %v)", connectErrs.Snapshot())
	}

	// Produce: one create every 1/rate, each in its own goroutine so a slow answer does not
	// delay the next (open loop).
	var createLat Recorder
	var createErrs ErrorCounts
	var sentMu sync.Mutex
	sentAt := map[string]time.Time{}
	prog := StartProgress("fanout", "received", int64(*rate*duration.Seconds())*int64(len(live)))
	received.Store(0)
	go func() { // feeds the progress line from the subscribers' shared counter
		for last := int64(0); subCtx.Err() == nil; time.Sleep(200 * time.Millisecond) {
			n := received.Load()
			prog.Add(n - last)
			last = n
		}
	}()
	var creates sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
	stopAt := time.Now().Add(*duration)
	prefix := []byte(`{"queue_name":` + strconv.Quote(c.queue) + `,"payload":{"i":`)
	for n := 0; ctx.Err() == nil && time.Now().Before(stopAt); n++ {
		creates.Add(1)
		go func(n int) {
			defer creates.Done()
			body := strconv.AppendInt(append([]byte(nil), prefix...), int64(n), 10)
			body = append(body, `}}`...)
			var out struct {
				ID string `json:"id"`
			}
			sent := time.Now()
			lat, err := client.Post(ctx, "/api/v1/jobs", body, &out)
			if err != nil {
				createErrs.Add(err)
				return
			}
			createLat.Add(lat)
			sentMu.Lock()
			sentAt[out.ID] = sent
			sentMu.Unlock()
		}(n)
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	tick.Stop()
	creates.Wait()
	jobs := int64(len(sentAt))
	expected := jobs * int64(len(live))

	// Let the last events arrive: until every live subscriber has every job, or -settle.
	settleEnd := time.Now().Add(*settle)
	for ctx.Err() == nil && time.Now().Before(settleEnd) && received.Load() < expected {
		time.Sleep(20 * time.Millisecond)
	}
	stopSubs()
	wg.Wait()
	prog.Stop()

	res := fanoutResult{Scenario: "fanout", Transport: *transport, Queue: c.queue, Subscribers: *subscribers,
		Connected: len(live), ConnectS: seconds(connectTook), ConnectErrors: connectErrs.Snapshot(),
		RatePerS: *rate, DurationS: seconds(*duration), Jobs: jobs, Expected: expected,
		CreateLatency: createLat.Summary(), CreateErrors: createErrs.Snapshot()}
	var all Recorder
	per := map[string]*Recorder{}
	for _, s := range live {
		if per[s.transport] == nil {
			per[s.transport] = &Recorder{}
		}
		missing := int64(0)
		for id, sent := range sentAt {
			at, ok := s.got[id]
			if !ok {
				missing++
				continue
			}
			all.Add(at.Sub(sent))
			per[s.transport].Add(at.Sub(sent))
		}
		res.Delivered += jobs - missing
		res.Missing += missing
		if missing > 0 {
			res.MissingSubs++
		}
		res.Duplicates += s.dups
		if s.endedEarly.Load() {
			res.EndedEarly++
		}
		if s.dropNotice.Load() {
			res.DropNotices++
		}
	}
	res.Delay = all.Summary()
	if len(per) > 1 {
		res.PerTransport = map[string]LatencySummary{}
		for k, r := range per {
			res.PerTransport[k] = r.Summary()
		}
	}
	res.ErrorCount = createErrs.Total() + connectErrs.Total() + int64(res.EndedEarly)
	if res.Missing > 0 {
		fmt.Fprintf(os.Stderr, "fanout: %d of %d expected events never arrived (%d subscribers affected, %d ended early)\n",
			res.Missing, expected, res.MissingSubs, res.EndedEarly)
	}
	return res, nil
}

// raiseFileLimit lifts the soft RLIMIT_NOFILE towards the hard limit when n descriptors are
// needed (Go already does this at start-up since 1.19; this says so when it is not enough).
func raiseFileLimit(n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur < n && lim.Cur < lim.Max {
		lim.Cur = min(n, lim.Max)
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if lim.Cur < n {
		fmt.Fprintf(os.Stderr, "fanout: open-file limit is %d, fewer than the ~%d needed (raise ulimit -n)\n", lim.Cur, n)
	}
}

func wsURL(base, queue string) string {
	u, _ := url.Parse(base)
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path = "/api/v1/ws"
	u.RawQuery = url.Values{"queue": {queue}, "events": {"job.created"}}.Encode()
	return u.String()
}
