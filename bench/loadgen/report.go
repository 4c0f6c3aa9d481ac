package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
)

// target is one goal from bench/README.md; the report marks each figure against it so a run
// answers "are we there yet" without a second look-up.
type target struct {
	value   float64
	atLeast bool // true: figure must be >= value; false: <= value
}

func (t target) String() string {
	if t.atLeast {
		return fmt.Sprintf(">= %g", t.value)
	}
	return fmt.Sprintf("<= %g", t.value)
}

func (t target) verdict(v float64) string {
	if (t.atLeast && v >= t.value) || (!t.atLeast && v <= t.value) {
		return "ok"
	}
	return "MISS"
}

// runReport prints a summary table of a results .jsonl file written by bench/run.
func runReport(args []string) error {
	if len(args) != 1 {
		return usagef("usage: loadgen report RESULTS.jsonl")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tfigure\tvalue\ttarget\t\tdetail")
	fmt.Fprintln(tw, "--------\t------\t-----\t------\t\t------")
	row := func(name, figure string, v float64, t *target, detail string) {
		ts, verdict := "", ""
		if t != nil {
			ts, verdict = t.String(), t.verdict(v)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%s\t%s\t%s\n", name, figure, v, ts, verdict, detail)
	}

	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("%s: not a JSON line: %.80s", args[0], line)
		}
		num := func(path ...string) float64 {
			var cur any = r
			for _, p := range path {
				m, ok := cur.(map[string]any)
				if !ok {
					return 0
				}
				cur = m[p]
			}
			v, _ := cur.(float64)
			return v
		}
		lat := func(block string) string {
			return fmt.Sprintf("p50 %.1f / p90 %.1f / p99 %.1f / max %.1f ms",
				num(block, "p50_ms"), num(block, "p90_ms"), num(block, "p99_ms"), num(block, "max_ms"))
		}
		errs := fmt.Sprintf("errors %.0f", num("error_count"))

		switch name, _ := r["scenario"].(string); name {
		case "meta":
			continue
		case "pgbench":
			row("pgbench", fmt.Sprintf("tps (-N -c %.0f)", num("clients")), num("tps"), nil,
				fmt.Sprintf("latency avg %.2f ms, scale %.0f", num("latency_avg_ms"), num("scale")))
		case "create":
			row("a create", fmt.Sprintf("req/s (%.0f clients)", num("concurrency")), num("req_per_s"),
				&target{3000, true}, lat("latency")+", "+errs)
		case "bulk":
			row("b bulk", fmt.Sprintf("jobs/s (%.0f x %.0f)", num("concurrency"), num("batch")), num("jobs_per_s"),
				&target{30000, true}, "request "+lat("latency")+", "+errs)
		case "drain":
			detail := fmt.Sprintf("claim p50 %.1f / p99 %.1f ms, complete p50 %.1f / p99 %.1f ms, %.0f/%.0f done, %s",
				num("claim_latency", "p50_ms"), num("claim_latency", "p99_ms"),
				num("complete_latency", "p50_ms"), num("complete_latency", "p99_ms"),
				num("completed"), num("jobs"), errs)
			row("c drain", fmt.Sprintf("jobs/s (%.0f workers x %.0f)", num("workers"), num("batch")), num("jobs_per_s"),
				&target{10000, true}, detail)
		case "latency":
			row("d latency", "enqueue->claim p99 ms", num("enqueue_to_claim", "p99_ms"), &target{25, false},
				lat("enqueue_to_claim")+fmt.Sprintf(", %.0f samples, %.0f lost, %s", num("samples"), num("lost"), errs))
		case "grpc-drain":
			mode, _ := r["mode"].(string)
			check := "exactly-once ok"
			if ok, _ := r["exactly_once"].(bool); !ok {
				check = "exactly-once FAILED"
			}
			detail := fmt.Sprintf("complete p50 %.1f / p99 %.1f ms, %.0f/%.0f done, %.0f duplicates, %s, %s",
				num("complete_latency", "p50_ms"), num("complete_latency", "p99_ms"),
				num("completed"), num("jobs"), num("duplicate_deliveries"), check, errs)
			row("e grpc-drain", fmt.Sprintf("jobs/s (%.0f workers, %s)", num("workers"), mode), num("jobs_per_s"),
				&target{20000, true}, detail)
		case "grpc-latency":
			row("f grpc-latency", "enqueue->delivery p99 ms", num("enqueue_to_delivery", "p99_ms"), &target{10, false},
				lat("enqueue_to_delivery")+fmt.Sprintf(", %.0f samples, %.0f lost, %s", num("samples"), num("lost"), errs))
		case "fanout":
			transport, _ := r["transport"].(string)
			detail := lat("delivery_latency") + fmt.Sprintf(", %.0f/%.0f delivered, %.0f missing, %.0f/%.0f subscribers connected, %s",
				num("delivered"), num("expected"), num("missing"), num("connected"), num("subscribers"), errs)
			row("g fanout", fmt.Sprintf("delivery p99 ms (%.0f %s)", num("subscribers"), transport),
				num("delivery_latency", "p99_ms"), &target{100, false}, detail)
		default:
			fmt.Fprintf(tw, "%s\t(unknown result)\t\t\t\t\n", name)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return tw.Flush()
}
