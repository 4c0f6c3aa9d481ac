// Command loadgen drives a Spooled server over its REST, gRPC and real-time (SSE, WebSocket)
// APIs and reports throughput and latency. Each subcommand prints exactly one JSON line of results on stdout (so runs can be
// appended to a .jsonl file) and human progress on stderr.
//
//	loadgen create  -url U -key K [-concurrency 32] [-duration 20s] [-queue bench-a]
//	loadgen bulk    -url U -key K [-concurrency 4] [-duration 20s] [-batch 100] [-queue bench-b]
//	loadgen drain   -url U -key K [-workers 4] [-batch 100] [-jobs 50000] [-prefill] [-queue bench-c]
//	loadgen latency -url U -key K [-claimers 4] [-samples 500] [-queue bench-d]
//	loadgen grpc-drain   -url U -key K [-grpc H:P] [-mode process|stream] [-workers 4] [-jobs 50000] [-prefill] [-queue bench-e]
//	loadgen grpc-latency -url U -key K [-grpc H:P] [-workers 4] [-samples 500] [-queue bench-f]
//	loadgen fanout       -url U -key K [-transport sse|ws|mix] [-subscribers 500] [-rate 20] [-duration 10s] [-queue bench-g]
//	loadgen report  FILE.jsonl
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// scenario runs one benchmark and returns the value printed as the JSON result line.
type scenario func(ctx context.Context, args []string) (any, error)

var scenarios = map[string]scenario{
	"create":  runCreate,
	"bulk":    runBulk,
	"drain":   runDrain,
	"latency": runLatency,
	// gRPC and real-time scenarios (e, f, g of bench/run).
	"grpc-drain":   runGrpcDrain,
	"grpc-latency": runGrpcLatency,
	"fanout":       runFanout,
}

// usageError marks a problem with the command line (exit 2) as opposed to a failed run (exit 1).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "help" || os.Args[1] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: loadgen {create|bulk|drain|latency|grpc-drain|grpc-latency|fanout} -url URL -key KEY [flags]  (loadgen SUBCOMMAND -h for flags)")
		fmt.Fprintln(os.Stderr, "       loadgen report RESULTS.jsonl")
		os.Exit(2)
	}
	name, args := os.Args[1], os.Args[2:]

	if name == "report" {
		if err := runReport(args); err != nil {
			fail(err)
		}
		return
	}
	run, ok := scenarios[name]
	if !ok {
		fail(usagef("unknown subcommand %q (want create, bulk, drain, latency, grpc-drain, grpc-latency, fanout or report)", name))
	}

	// Ctrl-C stops the run early; each scenario still reports what it measured so far
	// where that makes sense, or returns the context error.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	result, err := run(ctx, args)
	if err != nil {
		fail(err)
	}
	line, err := json.Marshal(result)
	if err != nil {
		fail(err)
	}
	fmt.Println(string(line))
}

func fail(err error) {
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	var ue usageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}

// common holds the flags every scenario shares.
type common struct {
	url        string
	key        string
	queue      string
	exactQueue bool
	timeout    time.Duration
}

func (c *common) register(fs *flag.FlagSet, defaultQueue string) {
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "server base URL")
	fs.StringVar(&c.key, "key", os.Getenv("SPOOLED_API_KEY"), "API key (default $SPOOLED_API_KEY)")
	fs.StringVar(&c.queue, "queue", defaultQueue, "queue name prefix; a random suffix is appended so runs never share a queue")
	fs.BoolVar(&c.exactQueue, "exact-queue", false, "use -queue verbatim (no random suffix), e.g. to drain a queue filled elsewhere")
	fs.DurationVar(&c.timeout, "request-timeout", 30*time.Second, "timeout of one HTTP request")
}

// parse parses the flag set and validates the shared flags.
func (c *common) parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	u, err := url.Parse(c.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("-url must be an http(s) URL like http://127.0.0.1:8080, got %q", c.url)
	}
	c.url = strings.TrimRight(c.url, "/")
	if c.key == "" {
		return usagef("-key is required (or set SPOOLED_API_KEY)")
	}
	if c.queue == "" {
		return usagef("-queue must not be empty")
	}
	if !c.exactQueue {
		c.queue += "-" + randomSuffix()
	}
	if len(c.queue) > 100 || c.queue[0] == '.' || c.queue[0] == '-' {
		return usagef("queue name %q is invalid (1-100 characters, not starting with . or -)", c.queue)
	}
	if c.timeout <= 0 {
		return usagef("-request-timeout must be positive")
	}
	return nil
}

func positive(name string, v int) error {
	if v <= 0 {
		return usagef("-%s must be positive, got %d", name, v)
	}
	return nil
}

func randomSuffix() string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffff)
	}
	return hex.EncodeToString(b)
}

// seconds rounds a duration to milliseconds precision, in seconds, for JSON output.
func seconds(d time.Duration) float64 { return round3(d.Seconds()) }
