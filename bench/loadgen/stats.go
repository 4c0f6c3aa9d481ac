package main

import (
	"math"
	"sort"
	"sync"
	"time"
)

// Recorder collects every latency sample of a run. Keeping all samples (rather than a
// histogram) is affordable at these rates (about a million samples is 8 MB) and makes the
// percentiles exact.
type Recorder struct {
	mu      sync.Mutex
	samples []time.Duration
}

func (r *Recorder) Add(d time.Duration) {
	r.mu.Lock()
	r.samples = append(r.samples, d)
	r.mu.Unlock()
}

// LatencySummary is the latency block of a result line, in milliseconds.
type LatencySummary struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func (r *Recorder) Summary() LatencySummary {
	r.mu.Lock()
	s := append([]time.Duration(nil), r.samples...)
	r.mu.Unlock()
	if len(s) == 0 {
		return LatencySummary{}
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return LatencySummary{
		Count: len(s),
		Mean:  ms(sum / time.Duration(len(s))),
		P50:   ms(percentile(s, 50)),
		P90:   ms(percentile(s, 90)),
		P99:   ms(percentile(s, 99)),
		Max:   ms(s[len(s)-1]),
	}
}

// percentile uses the nearest-rank method on sorted samples: the smallest sample such that
// at least p% of samples are <= it. No interpolation, so every reported value was observed.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// ErrorCounts counts failed requests by errorKey (HTTP status or transport failure kind).
type ErrorCounts struct {
	mu sync.Mutex
	m  map[string]int64
}

func (e *ErrorCounts) Add(err error) { e.AddKey(errorKey(err)) }

// AddKey counts an error already bucketed, such as a ProcessJobs `error` answer's code.
func (e *ErrorCounts) AddKey(k string) {
	e.mu.Lock()
	if e.m == nil {
		e.m = map[string]int64{}
	}
	e.m[k]++
	e.mu.Unlock()
}

// Snapshot returns a copy (never nil, so JSON shows {} rather than null).
func (e *ErrorCounts) Snapshot() map[string]int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int64, len(e.m))
	for k, v := range e.m {
		out[k] = v
	}
	return out
}

func (e *ErrorCounts) Total() int64 {
	var t int64
	for _, v := range e.Snapshot() {
		t += v
	}
	return t
}
