package main

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Progress prints one line per second on stderr (elapsed, operations so far, rate over the
// last second) so a person watching a 20 s run can see it is alive and whether the rate is
// steady. It never writes to stdout, which carries only the result line.
type Progress struct {
	label string
	unit  string
	total int64 // 0 when the run is time-bound rather than count-bound
	ops   atomic.Int64
	start time.Time
	done  chan struct{}
	wg    sync.WaitGroup
}

// NewProgress makes a counter that may be added to before Start, so warm-up work can run
// without being counted or printed.
func NewProgress(label, unit string, total int64) *Progress {
	return &Progress{label: label, unit: unit, total: total, done: make(chan struct{})}
}

// StartProgress is NewProgress followed by Start.
func StartProgress(label, unit string, total int64) *Progress {
	p := NewProgress(label, unit, total)
	p.Start()
	return p
}

// Start begins the once-a-second lines; elapsed time is measured from here.
func (p *Progress) Start() {
	p.start = time.Now()
	p.wg.Add(1)
	go p.loop()
}

func (p *Progress) Add(n int64) { p.ops.Add(n) }

func (p *Progress) Count() int64 { return p.ops.Load() }

func (p *Progress) loop() {
	defer p.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last, lastAt := int64(0), p.start
	for {
		select {
		case <-p.done:
			return
		case now := <-t.C:
			n := p.ops.Load()
			rate := float64(n-last) / now.Sub(lastAt).Seconds()
			of := ""
			if p.total > 0 {
				of = fmt.Sprintf("/%d", p.total)
			}
			fmt.Fprintf(os.Stderr, "  [%s] %5.1fs  %s=%d%s  rate=%.0f/s\n",
				p.label, now.Sub(p.start).Seconds(), p.unit, n, of, rate)
			last, lastAt = n, now
		}
	}
}

// Stop ends the lines; safe to call whether or not Start was called.
func (p *Progress) Stop() {
	close(p.done)
	p.wg.Wait()
}
