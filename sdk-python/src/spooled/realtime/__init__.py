"""Realtime events from a Spooled server over Server-Sent Events or a WebSocket.

`client.realtime(type="sse"|"websocket")` returns a `SpooledRealtime`; the transport clients
(`SSEClient`, `WebSocketClient` and their asyncio twins `AsyncSSEClient`,
`AsyncWebSocketClient`) can be used directly. See sdk-python/README.md, "Realtime".
"""

from ._connection import ReconnectPolicy
from .events import (ConnectionState, RealtimeEvent, RealtimeEventType, SSEConnectionState, SubscriptionFilter,
                     UnifiedSubscriptionFilter, event_from_message, event_type_for, server_type_for)
from .sse import AsyncSSEClient, SSEClient
from .sse_parser import SSEMessage, SSEParser
from .unified import SpooledRealtime, SpooledRealtimeOptions
from .websocket import (AsyncWebSocketClient, PingCommand, SubscribeCommand, UnsubscribeCommand, WebSocketClient,
                        WebSocketConnectionOptions)

__all__ = [
    "SpooledRealtime", "SpooledRealtimeOptions", "SubscriptionFilter", "UnifiedSubscriptionFilter",
    "RealtimeEvent", "RealtimeEventType", "ConnectionState", "SSEConnectionState", "ReconnectPolicy",
    "SSEClient", "AsyncSSEClient", "SSEParser", "SSEMessage",
    "WebSocketClient", "AsyncWebSocketClient", "WebSocketConnectionOptions",
    "SubscribeCommand", "UnsubscribeCommand", "PingCommand",
    "event_type_for", "server_type_for", "event_from_message",
]
