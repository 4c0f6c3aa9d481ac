package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// The gRPC seam. The scenarios never see generated code: proto/spooled.proto is compiled at
// start-up (protocompile), messages are dynamicpb, and calls go through ClientConn.Invoke and
// NewStream with the method paths below. This keeps bench/ out of scripts/generate (nothing
// generated to commit or keep in sync) and always speaks the contract in the checkout.

const (
	queueService  = "/spooled.v1.QueueService/"
	workerService = "/spooled.v1.WorkerService/"
)

var (
	streamJobsDesc  = &grpc.StreamDesc{StreamName: "StreamJobs", ServerStreams: true}
	processJobsDesc = &grpc.StreamDesc{StreamName: "ProcessJobs", ServerStreams: true, ClientStreams: true}
)

// Schema is the parsed spooled.v1 package: message descriptors by short name.
type Schema struct {
	msgs map[string]protoreflect.MessageDescriptor
}

// LoadSchema compiles the .proto file (google/protobuf imports come from protocompile's
// bundled copies).
func LoadSchema(ctx context.Context, path string) (*Schema, error) {
	comp := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			ImportPaths: []string{filepath.Dir(path)},
		}),
	}
	files, err := comp.Compile(ctx, filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", path, err)
	}
	s := &Schema{msgs: map[string]protoreflect.MessageDescriptor{}}
	all := files[0].Messages()
	for i := 0; i < all.Len(); i++ {
		s.msgs[string(all.Get(i).Name())] = all.Get(i)
	}
	for _, need := range []string{"Job", "EnqueueRequest", "EnqueueResponse", "CompleteRequest", "CompleteResponse",
		"DequeueRequest", "StreamJobsRequest", "ProcessRequest", "ProcessResponse", "RenewLeaseRequest",
		"RegisterWorkerRequest", "RegisterWorkerResponse", "DeregisterRequest", "DeregisterResponse",
		"GetQueueStatsRequest", "GetQueueStatsResponse"} {
		if s.msgs[need] == nil {
			return nil, fmt.Errorf("%s has no message %s", path, need)
		}
	}
	return s, nil
}

// New makes an empty message of the named type and sets the given fields (by proto field
// name; int values become int32, strings stay strings, *dynamicpb.Message are sub-messages).
func (s *Schema) New(name string, fields ...any) *dynamicpb.Message {
	m := dynamicpb.NewMessage(s.msgs[name])
	for i := 0; i+1 < len(fields); i += 2 {
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(fields[i].(string)))
		if fd == nil {
			panic(fmt.Sprintf("%s has no field %v", name, fields[i]))
		}
		var v protoreflect.Value
		switch x := fields[i+1].(type) {
		case string:
			v = protoreflect.ValueOfString(x)
		case int:
			v = protoreflect.ValueOfInt32(int32(x))
		case bool:
			v = protoreflect.ValueOfBool(x)
		case *dynamicpb.Message:
			v = protoreflect.ValueOfMessage(x)
		case []*dynamicpb.Message: // a repeated message field
			list := m.Mutable(fd).List()
			for _, item := range x {
				list.Append(protoreflect.ValueOfMessage(item))
			}
			continue
		default:
			panic(fmt.Sprintf("unsupported value %T for %s.%v", x, name, fields[i]))
		}
		m.Set(fd, v)
	}
	return m
}

// SetStruct sets a google.protobuf.Struct field from a Go map. The compiled schema carries
// its own descriptor for Struct, so the value goes through the wire format rather than being
// assigned as a structpb message.
func SetStruct(m *dynamicpb.Message, field string, v map[string]any) {
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(field))
	st, err := structpb.NewStruct(v)
	if err != nil {
		panic(err) // only our own plain maps are converted here
	}
	b, err := proto.Marshal(st)
	if err != nil {
		panic(err)
	}
	dm := dynamicpb.NewMessage(fd.Message())
	if err := proto.Unmarshal(b, dm); err != nil {
		panic(err)
	}
	m.Set(fd, protoreflect.ValueOfMessage(dm))
}

// Str reads a string field.
func Str(m protoreflect.Message, field string) string {
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(field))).String()
}

// Int64 reads an int64 field.
func Int64(m protoreflect.Message, field string) int64 {
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(field))).Int()
}

// Bool reads a bool field.
func Bool(m protoreflect.Message, field string) bool {
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(field))).Bool()
}

// List returns a repeated field.
func List(m protoreflect.Message, field string) protoreflect.List {
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(field))).List()
}

// Sub reads a message field.
func Sub(m protoreflect.Message, field string) protoreflect.Message {
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(field))).Message()
}

// Which names the set member of a oneof ("" when none).
func Which(m protoreflect.Message, oneof string) string {
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName(protoreflect.Name(oneof)))
	if fd == nil {
		return ""
	}
	return string(fd.Name())
}

// grpcFlags are the flags of the gRPC scenarios, beside the REST ones in common (REST is
// still used to prefill and to verify counts).
type grpcFlags struct {
	addr  string
	proto string
}

func (g *grpcFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.addr, "grpc", "127.0.0.1:50051", "gRPC address host:port")
	fs.StringVar(&g.proto, "proto", "", "path of spooled.proto (default: proto/spooled.proto in the working directory or a parent)")
}

func (g *grpcFlags) resolve() error {
	if g.addr == "" {
		return usagef("-grpc must be host:port")
	}
	if g.proto != "" {
		return nil
	}
	dir, _ := os.Getwd()
	for dir != "" {
		p := filepath.Join(dir, "proto", "spooled.proto")
		if _, err := os.Stat(p); err == nil {
			g.proto = p
			return nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return usagef("cannot find proto/spooled.proto from the working directory; pass -proto")
}

// GrpcConn is one HTTP/2 connection to the server with the API key attached to every call.
// Each simulated worker gets its own, as separate worker processes would: with
// WEB_CONCURRENCY > 1 the kernel spreads connections over the server processes.
type GrpcConn struct {
	cc  *grpc.ClientConn
	key string
}

func DialGrpc(addr, key string) (*GrpcConn, error) {
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// Flow-control windows sized for a stream carrying tens of thousands of small messages/s.
		grpc.WithInitialWindowSize(1<<20), grpc.WithInitialConnWindowSize(4<<20))
	if err != nil {
		return nil, err
	}
	return &GrpcConn{cc: cc, key: key}, nil
}

func (g *GrpcConn) Close() { g.cc.Close() }

func (g *GrpcConn) ctx(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-api-key", g.key)
}

// Call is a unary RPC; out must be an empty message of the answer type. The returned latency
// covers the whole call.
func (g *GrpcConn) Call(ctx context.Context, method string, in, out *dynamicpb.Message) (time.Duration, error) {
	start := time.Now()
	err := g.cc.Invoke(g.ctx(ctx), method, in, out)
	return time.Since(start), err
}

func (g *GrpcConn) Stream(ctx context.Context, desc *grpc.StreamDesc, method string) (grpc.ClientStream, error) {
	return g.cc.NewStream(g.ctx(ctx), desc, method)
}

// GrpcPreflight checks that the gRPC port answers and accepts the key, with a message a person
// can act on: a GetQueueStats of the run's queue.
func GrpcPreflight(ctx context.Context, s *Schema, conn *GrpcConn, addr, queue string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := fetchQueueCounts(ctx, s, conn, queue)
	switch status.Code(err) {
	case codes.OK:
		return nil
	case codes.Unauthenticated, codes.PermissionDenied:
		return fmt.Errorf("the gRPC server at %s rejected the API key: %v", addr, err)
	default:
		return fmt.Errorf("gRPC preflight to %s failed: %v", addr, err)
	}
}

// registerWorker registers a worker with the given max_concurrency (StreamJobs keeps at most
// that many unsettled jobs on the stream) and returns its id.
func registerWorker(ctx context.Context, s *Schema, conn *GrpcConn, queue string, concurrency int) (string, error) {
	host, _ := os.Hostname()
	out := s.New("RegisterWorkerResponse")
	_, err := conn.Call(ctx, workerService+"Register", s.New("RegisterWorkerRequest", "queue_name", queue,
		"hostname", host, "worker_type", "loadgen", "max_concurrency", concurrency), out)
	if err != nil {
		return "", fmt.Errorf("registering a worker: %w", err)
	}
	return Str(out, "worker_id"), nil
}

func deregisterWorker(ctx context.Context, s *Schema, conn *GrpcConn, id string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, _ = conn.Call(ctx, workerService+"Deregister", s.New("DeregisterRequest", "worker_id", id), s.New("DeregisterResponse"))
}
