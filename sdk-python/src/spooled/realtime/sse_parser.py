"""The Server-Sent Events wire format, parsed line by line (WHATWG HTML, "event stream").

    parser = SSEParser()
    for line in lines:                      # lines without their CR / LF / CRLF ending
        message = parser.feed_line(line)
        if message is not None:
            handle(message.event, message.data)

A blank line ends a message. `data:` lines accumulate (joined by newlines), `event:` names the
message (default "message"), `id:` sets the last event id (kept across messages), `retry:`
sets the reconnection delay in milliseconds (digits only), and lines starting with `:` are
comments, which servers send as keep-alives. A message without any `data:` line is not
dispatched, and an unterminated message at the end of the stream is discarded.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SSEMessage:
    """One dispatched message."""

    event: str
    data: str
    id: str | None = None


class SSEParser:
    """Incremental parser; one instance per connection."""

    def __init__(self) -> None:
        self.last_event_id: str | None = None
        self.retry_ms: int | None = None
        self._first_line = True
        self._reset()

    def _reset(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def feed_line(self, line: str) -> SSEMessage | None:
        """Consumes one line; returns the message a blank line completes, if any."""
        if self._first_line:
            self._first_line = False
            line = line.removeprefix("\ufeff")
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry":
            if value.isascii() and value.isdigit():
                self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SSEMessage | None:
        if not self._data:
            self._reset()
            return None
        message = SSEMessage(self._event or "message", "\n".join(self._data), self.last_event_id)
        self._reset()
        return message

    def feed(self, text: str) -> list[SSEMessage]:
        """Consumes complete lines of `text` (CR, LF or CRLF endings); for tests and small inputs."""
        out = []
        for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")[:-1]:
            message = self.feed_line(line)
            if message is not None:
                out.append(message)
        return out
