"""Runs an AsyncSpooledWorker until it has completed a known number of jobs, then stops it:
the same steps for the REST and the gRPC transport's end-to-end tests."""

from __future__ import annotations

import asyncio

from spooled.worker import AsyncSpooledWorker

DEADLINE = 20.0


async def complete_jobs(worker: AsyncSpooledWorker, count: int) -> list[str]:
    """Echoes each job's payload["n"] as its result; returns the completed job ids once `count`
    jobs completed and the worker stopped (each step within DEADLINE)."""
    done: list[str] = []
    all_done = asyncio.Event()

    @worker.on("job:completed")
    def record(event):
        done.append(event.job_id)
        if len(done) == count:
            all_done.set()

    @worker.process
    async def handle(ctx):
        await asyncio.sleep(0)
        return {"n": ctx.payload["n"]}

    runner = asyncio.create_task(worker.start())
    await asyncio.wait_for(all_done.wait(), DEADLINE)
    await asyncio.wait_for(worker.stop(), DEADLINE)
    await runner
    return done
