"""One HTTP exchange with a target over httpx, SSE parsed by httpx-sse; every failure becomes data.

Nothing here raises for what a server does: timeouts, refused connections, cut streams, undecodable
bodies all land in `Exchange.error` so the checks can classify them. Bounds everywhere: a per-request
timeout, a body size cap, an event cap, so a misbehaving server can neither hang nor flood a run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

DEFAULT_TIMEOUT = 60.0
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_EVENTS = 5000
_NOT_JSON = object()


@dataclass
class SSEEvent:
    event: str
    data: str


@dataclass
class Exchange:
    """What was sent and what came back (or why nothing did)."""

    method: str
    url: str
    body: Any
    stream: bool = False
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""
    events: list[SSEEvent] = field(default_factory=list)
    error: str | None = None  # transport-level failure, in words
    error_kind: str | None = None  # timeout | connection | protocol | too-large | sse
    elapsed: float = 0.0

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    @cached_property
    def parsed(self) -> Any:
        """The body parsed as JSON once, or a marker that `is_json_value` rejects."""
        try:
            return json.loads(self.content)
        except ValueError:
            return _NOT_JSON

    def snippet(self, limit: int = 300) -> str:
        text = self.text.strip().replace("\n", " ")
        return text if len(text) <= limit else text[:limit] + "…"


def is_json_value(value: Any) -> bool:
    return value is not _NOT_JSON


def send(
    client: httpx.Client,
    method: str,
    url: str,
    body: Any = None,
    *,
    stream: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    headers: dict[str, str] | None = None,
) -> Exchange:
    """Send one request; for `stream=True` read the SSE events of a text/event-stream answer."""
    exchange = Exchange(method=method, url=url, body=body, stream=stream)
    started = time.monotonic()
    try:
        with client.stream(method, url, json=body, headers=headers, timeout=timeout) as response:
            exchange.status = response.status_code
            exchange.headers = {k.lower(): v for k, v in response.headers.items()}
            if stream and exchange.content_type == "text/event-stream":
                _read_events(response, exchange)
            else:
                _read_body(response, exchange)
    except httpx.TimeoutException as exc:
        exchange.error, exchange.error_kind = f"timed out after {timeout:g} s ({type(exc).__name__})", "timeout"
    except httpx.RemoteProtocolError as exc:
        what = f"after {len(exchange.events)} events" if exchange.events else "before a complete response"
        exchange.error, exchange.error_kind = f"connection closed {what}: {exc}", "protocol"
    except httpx.TransportError as exc:
        exchange.error, exchange.error_kind = f"{type(exc).__name__}: {exc}", "connection"
    finally:
        exchange.elapsed = time.monotonic() - started
    return exchange


def _read_body(response: httpx.Response, exchange: Exchange) -> None:
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            exchange.error = f"body larger than {MAX_BODY_BYTES} bytes; stopped reading"
            exchange.error_kind = "too-large"
            break
        chunks.append(chunk)
    exchange.content = b"".join(chunks)


def _read_events(response: httpx.Response, exchange: Exchange) -> None:
    raw: list[str] = []
    try:
        for sse in EventSource(response).iter_sse():
            exchange.events.append(SSEEvent(event=sse.event, data=sse.data))
            raw.append(f"event: {sse.event}\ndata: {sse.data}\n")
            if len(exchange.events) >= MAX_EVENTS:
                exchange.error = f"more than {MAX_EVENTS} events; stopped reading"
                exchange.error_kind = "too-large"
                break
    except SSEError as exc:
        exchange.error, exchange.error_kind = f"unreadable event stream: {exc}", "sse"
    exchange.content = "\n".join(raw).encode()
