package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// subscriber is one SSE or WebSocket consumer of a fan-out run: when each job.created event
// first reached it, by job id.
type subscriber struct {
	transport  string
	mu         sync.Mutex
	got        map[string]time.Time
	dups       int64
	ready      chan struct{} // closed at the first frame: the server has subscribed it
	readyOnce  sync.Once
	endedEarly atomic.Bool // its stream ended (or never opened) before the run stopped it
	dropNotice atomic.Bool // the server said it dropped events for it
	received   *atomic.Int64
}

func (s *subscriber) markReady() { s.readyOnce.Do(func() { close(s.ready) }) }

func (s *subscriber) isReady() bool {
	select {
	case <-s.ready:
		return true
	default:
		return false
	}
}

func (s *subscriber) record(jobID string, at time.Time) {
	s.mu.Lock()
	_, dup := s.got[jobID]
	if dup {
		s.dups++
	} else {
		s.got[jobID] = at
	}
	s.mu.Unlock()
	if !dup {
		s.received.Add(1)
	}
}

// eventMessage is the {type, data} envelope both transports carry.
type eventMessage struct {
	Type string `json:"type"`
	Data struct {
		JobID   string `json:"job_id"`
		Message string `json:"message"`
	} `json:"data"`
}

// handle records one message read at `at`. Any message marks the subscriber ready: SSE's
// first frame is an immediate queue.stats, WebSocket's an immediate Ping, both sent after the
// server registered the subscription.
func (s *subscriber) handle(data []byte, at time.Time) {
	s.markReady()
	var m eventMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return
	}
	switch m.Type {
	case "JobCreated":
		s.record(m.Data.JobID, at)
	case "Error":
		s.dropNotice.Store(true)
		logSubscriberError(s.transport, m.Data.Message)
	}
}

var errorLogs atomic.Int64

// logSubscriberError prints the first few server-sent Error events (e.g. "dropped N events").
func logSubscriberError(transport, msg string) {
	if errorLogs.Add(1) <= 5 {
		fmt.Fprintf(os.Stderr, "fanout: %s subscriber got Error event: %s\n", transport, msg)
	}
}

// runSSE reads `event:`/`data:` frames until ctx is cancelled or the stream ends.
func (s *subscriber) runSSE(ctx context.Context, hc *http.Client, url, auth string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return &StatusError{Status: resp.StatusCode, Body: string(body)}
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		at := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if err == io.EOF {
				return fmt.Errorf("the server ended the SSE stream")
			}
			return err
		}
		// Only data lines matter: each carries the whole {type, data} message.
		if data, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			s.handle(bytes.TrimSpace(data), at)
		}
	}
}

// runWS reads text messages until ctx is cancelled or the connection closes.
func (s *subscriber) runWS(ctx context.Context, url, auth string) error {
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {auth}},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			return &StatusError{Status: resp.StatusCode, Body: string(body)}
		}
		return err
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	for {
		_, data, err := conn.Read(ctx)
		at := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		s.handle(data, at)
	}
}
