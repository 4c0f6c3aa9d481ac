package main

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"
)

// BenchmarkProcessJobsClientCost is the load generator's own protobuf work per job in a
// ProcessJobs drain (decode the job answer, build and encode its complete, decode the
// complete answer), to check that dynamicpb leaves the server most of the CPU at 20,000 jobs/s:
//
//	go test -run X -bench ProcessJobsClientCost
func BenchmarkProcessJobsClientCost(b *testing.B) {
	s, err := LoadSchema(context.Background(), "../../proto/spooled.proto")
	if err != nil {
		b.Fatal(err)
	}
	job := s.New("Job", "id", "0194f1a2-7c3e-7b1a-9c2d-1f2e3d4c5b6a", "queue_name", "bench-e-0123abcd",
		"lease_id", "0194f1a2-7c3e-7b1a-9c2d-ffeeddccbbaa", "assigned_worker_id", "loadgen-w0", "max_retries", 3)
	SetStruct(job, "payload", map[string]any{"i": 42})
	answer, _ := proto.Marshal(s.New("ProcessResponse", "job", job))
	done, _ := proto.Marshal(s.New("ProcessResponse", "complete", s.New("CompleteResponse", "success", true)))
	b.ReportAllocs()
	for b.Loop() {
		resp := s.New("ProcessResponse")
		if err := proto.Unmarshal(answer, resp); err != nil {
			b.Fatal(err)
		}
		j := Sub(resp, "job")
		req := s.New("ProcessRequest", "complete", s.New("CompleteRequest", "job_id", Str(j, "id"),
			"worker_id", "loadgen-w0", "lease_id", Str(j, "lease_id")))
		if _, err := proto.Marshal(req); err != nil {
			b.Fatal(err)
		}
		if err := proto.Unmarshal(done, resp); err != nil {
			b.Fatal(err)
		}
	}
}
