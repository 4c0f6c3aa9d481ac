package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"google.golang.org/grpc/status"
)

// Client is the one seam between the scenarios and HTTP: every request goes through call,
// which measures latency, drains the body (so the keep-alive connection is reused) and turns
// non-2xx answers into *StatusError.
type Client struct {
	base    string
	auth    string
	timeout time.Duration
	hc      *http.Client
}

// NewClient builds a client whose connection pool holds at least maxConns idle keep-alive
// connections to the server: Go's default of 2 idle connections per host would make every
// extra concurrent request open (and TIME_WAIT) a fresh TCP connection, which measures the
// kernel rather than the server.
func NewClient(c common, maxConns int) *Client {
	tr := &http.Transport{
		// Benchmarks talk to the server directly; an environment proxy would skew figures.
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        maxConns + 16,
		MaxIdleConnsPerHost: maxConns + 16,
		IdleConnTimeout:     90 * time.Second,
		// Small JSON bodies: gzip would only cost CPU on both sides of a 2-core box.
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
	}
	return &Client{
		base:    c.url,
		auth:    "Bearer " + c.key,
		timeout: c.timeout,
		hc:      &http.Client{Transport: tr},
	}
}

// StatusError is a non-2xx answer from the server.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body)
}

// Post sends a JSON body and decodes a JSON answer into out (if non-nil). The returned
// latency runs from just before the request is written to after the body is fully read.
func (c *Client) Post(ctx context.Context, path string, body []byte, out any) (time.Duration, error) {
	return c.call(ctx, http.MethodPost, path, body, out, c.timeout)
}

// Get decodes a JSON answer into out (if non-nil).
func (c *Client) Get(ctx context.Context, path string, out any) (time.Duration, error) {
	return c.call(ctx, http.MethodGet, path, nil, out, c.timeout)
}

// PostWait is Post with an explicit timeout, for long-poll claims that legitimately outlast
// the default request timeout.
func (c *Client) PostWait(ctx context.Context, path string, body []byte, out any, timeout time.Duration) (time.Duration, error) {
	return c.call(ctx, http.MethodPost, path, body, out, timeout)
}

func (c *Client) call(ctx context.Context, method, path string, body []byte, out any, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", c.auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return time.Since(start), err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	latency := time.Since(start)
	if err != nil {
		return latency, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		snippet := string(data)
		if len(snippet) > 300 {
			snippet = snippet[:300] + "..."
		}
		return latency, &StatusError{Status: resp.StatusCode, Body: snippet}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return latency, fmt.Errorf("decoding %s answer: %w", path, err)
		}
	}
	return latency, nil
}

// errorKey buckets an error for the "errors" map of a result: the HTTP status, the gRPC status
// code, or the kind of transport failure.
func errorKey(err error) string {
	var se *StatusError
	var ne net.Error
	var ue *url.Error
	var ge interface{ GRPCStatus() *status.Status }
	switch {
	case errors.As(err, &se):
		return strconv.Itoa(se.Status)
	case errors.As(err, &ge):
		return "grpc:" + ge.GRPCStatus().Code().String()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &ue):
		return "transport"
	default:
		return "other" // an answer we could not use (undecodable, missing fields)
	}
}

// Preflight fails fast, with a message a person can act on, when the server is unreachable,
// not ready, or refuses the key, instead of letting every goroutine report the same error.
func (c *Client) Preflight(ctx context.Context, queue string) error {
	_, err := c.call(ctx, http.MethodGet, "/health/ready", nil, nil, 5*time.Second)
	var se *StatusError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("server at %s is not ready (%v)", c.base, se)
	case err != nil:
		return fmt.Errorf("cannot reach server at %s: %v", c.base, err)
	}
	// A read-only authenticated call on the run's own queue checks the key and queue access.
	_, err = c.call(ctx, http.MethodGet, "/api/v1/jobs?limit=1&queue_name="+url.QueryEscape(queue), nil, nil, 10*time.Second)
	if errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden) {
		return fmt.Errorf("the server rejected the API key: %v", se)
	}
	if err != nil {
		return fmt.Errorf("authenticated preflight request failed: %v", err)
	}
	return nil
}
