"""Drain rate of the Python SDK's own SpooledWorker (no-op handler) against a running server.

    .venv/bin/python bench/sdk_worker_drain.py --http-url http://127.0.0.1:8080 \
        --grpc-target 127.0.0.1:50051 --api-key sp_test_... [--transport grpc|rest] \
        [--jobs 5000] [--concurrency 32] [--no-coalesce]

Prefills --jobs jobs with /jobs/bulk, runs one blocking worker until every job is completed,
and prints one JSON line: jobs/s from the first claim to the last completion. --no-coalesce
turns off the worker's coalescing of completes into batch calls, to measure what it is worth.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid

from spooled import SpooledClient, SpooledWorker
from spooled.grpc import SpooledGrpcClient


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http-url", required=True)
    parser.add_argument("--grpc-target", default="127.0.0.1:50051")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--transport", choices=["grpc", "rest"], default="grpc")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-coalesce", action="store_true")
    args = parser.parse_args()

    client = SpooledClient(api_key=args.api_key, base_url=args.http_url)
    queue = f"sdk-drain-{uuid.uuid4().hex[:8]}"
    for start in range(0, args.jobs, 100):
        count = min(100, args.jobs - start)
        client.jobs.bulk_enqueue({"queue_name": queue, "jobs": [{"payload": {"n": start + i}} for i in range(count)]})
        print(f"\rprefilled {start + count}/{args.jobs}", end="", flush=True)
    print()

    grpc_client = SpooledGrpcClient(address=args.grpc_target, api_key=args.api_key) if args.transport == "grpc" else None
    worker = SpooledWorker(client, queue, concurrency=args.concurrency, transport=args.transport,
                           grpc_client=grpc_client, handle_signals=False, shutdown_timeout=5)
    if args.no_coalesce:
        worker._transport._completes._batching = False  # bench-only switch: one complete call per job
    done = 0
    lock = threading.Lock()
    finished = threading.Event()
    first: list[float] = []

    @worker.on("job:completed")
    def _completed(_event) -> None:
        nonlocal done
        with lock:
            done += 1
            if done == args.jobs:
                finished.set()

    @worker.process
    def handle(ctx):
        if not first:
            first.append(time.perf_counter())
        return {"ok": True}

    runner = threading.Thread(target=worker.start, daemon=True)
    runner.start()
    while not finished.wait(1.0):
        print(f"\rcompleted {done}/{args.jobs}", end="", flush=True)
    elapsed = time.perf_counter() - first[0]
    print()
    worker.stop()
    runner.join(10)
    print(json.dumps({"scenario": "sdk-worker-drain", "transport": args.transport, "jobs": args.jobs,
                      "concurrency": args.concurrency, "coalesce": not args.no_coalesce,
                      "seconds": round(elapsed, 2), "jobs_per_sec": round(args.jobs / elapsed)}))
    client.close()


if __name__ == "__main__":
    main()
