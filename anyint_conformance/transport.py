"""One HTTP exchange with a target over httpx, SSE parsed by httpx-sse; every failure becomes data.

Nothing here raises for what a server does: timeouts, refused connections, cut streams, undecodable
bodies all land in `Exchange.error` so the checks can classify them. Bounds everywhere: a per-request
timeout, a body size cap, an event cap, so a misbehaving server can neither hang nor flood a run.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

DEFAULT_TIMEOUT = 60.0
RETRY_STATUSES = (429,)
# A fixed multipart boundary: httpx would draw a random one and the recorded body would never match again.
BOUNDARY = "anyint-conformance-boundary"
MAX_RETRY_AFTER = 30.0  # seconds; a longer Retry-After is not waited for, the cell is left untested
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_EVENTS = 5000
DONE = "[DONE]"
# A failure that never produced an answer (reset, timeout, cut) cannot be recorded by VCR.py. A client
# may carry a hook under this attribute (the recorder sets one) that writes it into the cassette as an
# answer carrying this header, which replay turns back into the same error.
FAILURE_HOOK = "anyint_record_failure"
TRANSPORT_ERROR = "x-anyint-conformance-transport-error"
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
    attempts: int = 1  # > 1 when a 429 was retried
    interaction: int | None = None  # the cassette interaction that answered (set by a tracking response hook)

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

    @cached_property
    def event_values(self) -> list[tuple[int, Any]]:
        """(index, parsed JSON or None when not JSON) for every event but [DONE]: parsed once for all checks."""
        out = []
        for i, event in enumerate(self.events):
            if event.data.strip() == DONE:
                continue
            try:
                out.append((i, json.loads(event.data)))
            except ValueError:
                out.append((i, None))
        return out

    def snippet(self, limit: int = 300) -> str:
        text = self.text.strip().replace("\n", " ")
        return text if len(text) <= limit else text[:limit] + "…"


@functools.lru_cache(maxsize=1)
def ssl_context():
    """One SSL context per process: httpx builds one per Client (~40 ms: it loads the CA bundle), even for http:// URLs."""
    return httpx.create_ssl_context()


def is_json_value(value: Any) -> bool:
    return value is not _NOT_JSON


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries of 429 answers, honouring Retry-After. `sleep` is injected: replay passes a no-op."""

    retries: int = 2
    default_wait: float = 1.0
    sleep: Any = time.sleep

    def wait_for(self, exchange: "Exchange") -> float | None:
        """Seconds to wait before retrying, or None when the answer must stand."""
        if exchange.status not in RETRY_STATUSES:
            return None
        raw = exchange.headers.get("retry-after", "")
        try:
            wait = float(raw) if raw else self.default_wait
        except ValueError:
            wait = self.default_wait  # an HTTP-date or garbage: fall back to the default
        return wait if 0 <= wait <= MAX_RETRY_AFTER else None


NO_RETRY = RetryPolicy(retries=0)


def send(
    client: httpx.Client,
    method: str,
    url: str,
    body: Any = None,
    *,
    stream: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    files: dict[str, tuple[str, bytes, str]] | None = None,
    retry: RetryPolicy = NO_RETRY,
) -> Exchange:
    """Send one request (retrying 429s within `retry`'s budget); read SSE events when streaming.

    `content` sends raw bytes instead of `body` as JSON (malformed JSON, wrong content types);
    `files` makes it multipart/form-data: `body` becomes the form fields, `files` the uploads."""
    attempt = 0
    while True:
        attempt += 1
        exchange = _send_once(client, method, url, body, stream, timeout, headers, content, files)
        exchange.attempts = attempt
        wait = retry.wait_for(exchange)
        if wait is None or attempt > retry.retries:
            return exchange
        retry.sleep(wait)


def _send_once(client, method, url, body, stream, timeout, headers, content, files) -> Exchange:
    shown = body if content is None else content.decode("utf-8", "replace")
    if files:
        shown = {**(body or {}), **{name: f"<{len(data)} bytes {ctype} {filename}>" for name, (filename, data, ctype) in files.items()}}
    exchange = Exchange(method=method, url=url, body=shown, stream=stream)
    started = time.monotonic()
    if files:
        fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (body or {}).items()}
        headers = {**(headers or {}), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        payload = {"data": fields, "files": files}
    else:
        payload = {"content": content} if content is not None else ({"json": body} if body is not None else {})
    request = client.build_request(method, url, headers=headers, timeout=timeout, **payload)
    try:
        response = client.send(request, stream=True)
        try:
            if TRANSPORT_ERROR in response.headers:  # a recorded failure (see FAILURE_HOOK): the same error again
                exchange.error_kind, _, exchange.error = response.headers[TRANSPORT_ERROR].partition(": ")
                exchange.interaction = response.request.extensions.get("anyint.interaction")
                return exchange
            exchange.status = response.status_code
            exchange.headers = {k.lower(): v for k, v in response.headers.items()}
            exchange.interaction = response.request.extensions.get("anyint.interaction")
            if stream and exchange.content_type == "text/event-stream":
                _read_events(response, exchange)
            else:
                _read_body(response, exchange)
        finally:
            response.close()
    except httpx.TimeoutException as exc:
        exchange.error, exchange.error_kind = f"timed out after {timeout:g} s ({type(exc).__name__})", "timeout"
    except httpx.RemoteProtocolError as exc:
        what = f"after {len(exchange.events)} events" if exchange.events else "before a complete response"
        exchange.error, exchange.error_kind = f"connection closed {what}: {exc}", "protocol"
    except httpx.TransportError as exc:
        exchange.error, exchange.error_kind = f"{type(exc).__name__}: {exc}", "connection"
    finally:
        exchange.elapsed = time.monotonic() - started
    hook = getattr(client, FAILURE_HOOK, None)
    if exchange.status is None and exchange.error and hook is not None:
        exchange.interaction = hook(request, exchange)
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
