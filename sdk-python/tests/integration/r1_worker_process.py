"""One SpooledWorker process for the R1 churn test (test_r1_worker_churn.py), which SIGKILLs
and restarts it. Run as a script:

    python r1_worker_process.py <base_url> <api_key> <queue> <worker_id> <log_path>

It records to <log_path>, one line per fact, each with its own write(2) on an O_APPEND file
descriptor (no Python buffering), so a SIGKILL can lose no line that was written:

    S <job_id>            the handler started the job (an execution)
    C <job_id>            the server accepted this worker's result for the job
    E <status> <error>    the worker survived a SpooledError with an HTTP status >= 500

The handler sleeps 5-50 ms. SIGTERM stops the worker gracefully (the test's cleanup).
"""

from __future__ import annotations

import os
import random
import sys
import time

from spooled import SpooledClient, SpooledWorker
from spooled.errors import SpooledError

CONCURRENCY = 8
LEASE_SECONDS = 5  # the SDK's minimum, so a killed worker's jobs come back quickly


def main(base_url: str, api_key: str, queue: str, worker_id: str, log_path: str) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def record(line: str) -> None:
        os.write(fd, (line + "\n").encode())

    with SpooledClient(api_key, base_url=base_url) as client:
        worker = SpooledWorker(client, queue, worker_id=worker_id, concurrency=CONCURRENCY,
                               lease_duration=LEASE_SECONDS, claim_wait=1, poll_interval=0.1,
                               shutdown_timeout=2)

        @worker.process
        def handle(ctx):
            record(f"S {ctx.job_id}")
            time.sleep(random.uniform(0.005, 0.050))
            return {"by": worker_id}

        @worker.on("job:completed")
        def completed(event):
            record(f"C {event.job_id}")

        @worker.on("error")
        def error(event):
            status = getattr(event.error, "status_code", None)
            if isinstance(event.error, SpooledError) and isinstance(status, int) and status >= 500:
                record(f"E {status} {type(event.error).__name__}")

        worker.start()


if __name__ == "__main__":
    main(*sys.argv[1:6])
