"""Blocking realtime clients: an asyncio client driven from a private background thread.

The thread runs its own event loop only while connected: `connect()` starts it,
`disconnect()` / `close()` stop it and join it, so no thread outlives the connection and none
busy-waits (the loop sleeps in the selector until the socket or a call wakes it).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Callable, Coroutine, Iterator

from .events import ConnectionState, RealtimeEvent


class _LoopThread:
    """One event loop on one thread; `run` executes a coroutine there and waits for it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._futures: set[concurrent.futures.Future[Any]] = set()
        self._futures_lock = threading.Lock()
        self._thread = threading.Thread(target=self._main, name="spooled-realtime", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()
            # A call submitted while the loop was stopping never ran: release its waiter.
            with self._futures_lock:
                for future in self._futures:
                    future.cancel()
                self._futures.clear()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    @property
    def is_current(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        with self._futures_lock:
            if not self.alive:
                coro.close()
                raise RuntimeError("the realtime client is not connected")
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
            self._futures.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: concurrent.futures.Future[Any]) -> None:
        with self._futures_lock:
            self._futures.discard(future)

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.submit(coro).result()

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if not self.is_current:
            self._thread.join()


class SyncRealtimeFacade:
    """Blocking twin of an AsyncRealtimeConnection subclass (`inner`)."""

    def __init__(self, inner: Any):
        self._inner = inner
        self._thread: _LoopThread | None = None
        self._lock = threading.Lock()

    # ---- thread plumbing
    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.alive:
                self._thread = _LoopThread()

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        thread = self._thread
        if thread is None or not thread.alive:
            return _run_offline(coro)
        if thread.is_current:
            # Called from a handler (which runs on the client's thread): schedule, do not wait.
            return asyncio.ensure_future(coro, loop=thread.loop)
        return thread.run(coro)

    def _shutdown(self, coro: Coroutine[Any, Any, Any]) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None or not thread.alive:
            coro.close()
            return
        if thread.is_current:
            task = asyncio.ensure_future(coro, loop=thread.loop)
            task.add_done_callback(lambda _t: thread.loop.stop())
            return
        try:
            thread.run(coro)
        finally:
            thread.stop()

    # ---- the public surface, mirrored
    @property
    def state(self) -> ConnectionState:
        """The connection's current state."""
        return self._inner.state

    def get_state(self) -> ConnectionState:
        """The connection's current state."""
        return self._inner.state

    @property
    def dropped_events(self) -> int:
        """Events dropped because the `events()` buffer was full."""
        return self._inner.dropped_events

    def on(self, event_type: Any, handler: Callable[[dict], Any] | None = None) -> Any:
        """Calls `handler(event.data)` for each event of `event_type`; usable as a decorator."""
        return self._inner.on(event_type, handler)

    def off(self, event_type: Any, handler: Callable[[dict], Any] | None = None) -> None:
        """Removes a handler added with `on`."""
        self._inner.off(event_type, handler)

    def on_event(self, handler: Callable[[RealtimeEvent], Any]) -> Callable[[], None]:
        """Calls `handler(event)` for every event; returns a function that removes it."""
        return self._inner.on_event(handler)

    def on_state_change(self, handler: Callable[[ConnectionState], Any] | None = None) -> Any:
        """Calls `handler(state)` on every state change; usable as a decorator."""
        return self._inner.on_state_change(handler)

    def connect(self, filter: Any = None) -> None:  # noqa: A002 - public name
        """Opens the connection (starting the client's thread), limited to `filter` if given;
        raises if the first attempt fails."""
        self._ensure_thread()
        try:
            self._call(self._inner.connect(filter))
        except BaseException:
            self._shutdown(self._release())
            raise

    def disconnect(self) -> None:
        """Closes the connection, ends `events()` and stops the client's thread."""
        self._shutdown(self._release())

    def _release(self) -> Coroutine[Any, Any, Any]:
        # What ends a connection for good; everything it opened belonged to the thread's loop.
        return self._inner.disconnect()

    def subscribe(self, filter: Any) -> None:  # noqa: A002 - public name
        """Narrows the events received (see the async twin)."""
        self._call(self._inner.subscribe(filter))

    def unsubscribe(self, filter: Any = None) -> None:  # noqa: A002 - public name
        """Widens the events received again (see the async twin)."""
        self._call(self._inner.unsubscribe(filter))

    def events(self, timeout: float | None = None) -> Iterator[RealtimeEvent]:
        """Every event until `disconnect()` or the stream's end; `timeout` (seconds) ends the
        iteration early when no event arrives for that long."""
        thread = self._thread
        if thread is None:
            return
        agen = self._inner.events()
        try:
            while thread.alive:
                try:
                    event = thread.run(_next(agen, timeout))
                except (StopAsyncIteration, concurrent.futures.CancelledError, RuntimeError):
                    return
                if event is None:
                    return
                yield event
        finally:
            if thread.alive:
                try:
                    thread.run(agen.aclose())
                except (RuntimeError, concurrent.futures.CancelledError):
                    pass

    def __enter__(self) -> "SyncRealtimeFacade":
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()


async def _next(agen: Any, timeout: float | None) -> Any:
    """The generator's next event; None at its end or after `timeout` seconds without one."""
    try:
        if timeout is None:
            return await agen.__anext__()
        return await asyncio.wait_for(agen.__anext__(), timeout)
    except (StopAsyncIteration, asyncio.TimeoutError):
        return None


def _run_offline(coro: Coroutine[Any, Any, Any]) -> Any:
    """Runs a coroutine that needs no I/O while disconnected (recording a filter, say)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("the realtime client is not connected")
