"""One HTTP exchange with a target over httpx, SSE parsed by httpx-sse; every failure becomes data.

Nothing here raises for what a server does: timeouts, refused connections, cut streams, undecodable
bodies all land in `Exchange.error` so the checks can classify them. Bounds everywhere: a per-request
timeout, a body size cap, an event cap, so a misbehaving server can neither hang nor flood a run.

The run's transport policies are httpx transports stacked around the one that answers (a real
connection, or a cassette), each testable alone:
    CapTransport(RetryTransport(MeteredTransport(PacedTransport(answering))))
  cap     the token cap, the one place it is applied: an integer max_tokens above --token-cap is lowered
          (every JSON body: probes, examples, negative and auth cases, lifecycle steps, the SDK's own calls)
  retry   429 answers retried within a bound, honouring Retry-After (every attempt is a request sent)
  meter   counts every request sent and its estimated price (the budgets read it)
  pace    --rps: a pyrate-limiter rate per target, shared by the threads of a run
"""

from __future__ import annotations

import functools
import json
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

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
# A failure that never produced an answer (reset, timeout, cut) is recorded as an answer carrying this
# header (recording.py); replay turns it back into the same error.
TRANSPORT_ERROR = "x-anyint-conformance-transport-error"
ATTEMPTS = "anyint.attempts"  # response extension: how many requests a retried answer took
INTERACTION = "anyint.interaction"  # request extension: the cassette interaction that answered it
ORDER = "anyint.order"  # request extension: (batch, n) for requests sent at once: their recordings keep the order n
SENT_BODY = "anyint.sent_body"  # request extension: the JSON body as it went to the wire, when a policy changed it
# A recorded stream keeps when its chunks arrived (seconds after the request, comma-separated): replay then
# judges its pacing as the live run did.
ARRIVALS = "x-anyint-conformance-arrivals"
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
    arrivals: list[float] | None = None  # a stream: when each chunk of bytes arrived (s after sending); None: unknown

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


TOKEN_FIELDS = ("max_tokens", "max_completion_tokens")


def cap_tokens(body: Any, cap: int) -> Any:
    """The cost narrowing: an integer `max_tokens` (or `max_completion_tokens`) above the cap is lowered to
    it (anything else, e.g. a deliberately wrong type in a negative case, is left as it is). Applied by
    CapTransport; a body the transport cannot see (a batch file's lines inside an upload) is narrowed with
    it by the suite's runner."""
    if not isinstance(body, dict):
        return body
    over = {k: cap for k in TOKEN_FIELDS if isinstance(body.get(k), int) and not isinstance(body[k], bool) and body[k] > cap}
    return {**body, **over} if over else body


def structured(body: Any) -> bool:
    """A body whose answer must hold a whole structure (a tool call's arguments, a JSON object): it gets the
    larger cap, so that our own cap never cuts what the cell judges."""
    response_format = body.get("response_format") if isinstance(body, dict) else None
    return isinstance(body, dict) and (bool(body.get("tools")) or (isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema")))


class CapTransport(httpx.BaseTransport):
    """The token cap on the way to the wire: a JSON body whose max_tokens passes the cap goes out capped
    (re-encoded as httpx encodes JSON); what was sent is left on the request for the evidence. A body
    that offers tools or asks for JSON gets `tool_cap`: a structure cut by our own cap would decide nothing."""

    def __init__(self, inner: httpx.BaseTransport, cap: int, tool_cap: int | None = None):
        self.inner, self.cap, self.tool_cap = inner, cap, tool_cap if tool_cap is not None else cap

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = json.loads(request.read())
            except ValueError:
                body = None  # a malformed body (a negative case) goes as it is
            capped = cap_tokens(body, self.tool_cap if structured(body) else self.cap)
            if capped is not body:
                headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "content-length"]
                sent = httpx.Request(request.method, request.url, headers=headers, json=capped)
                sent.extensions = request.extensions  # shared: the cassette's interaction index reaches the caller
                request.extensions[SENT_BODY] = capped
                request = sent
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class RetryTransport(httpx.BaseTransport):
    """Bounded retries of 429 answers, honouring Retry-After. `sleep` is injected: replay passes a no-op."""

    def __init__(self, inner: httpx.BaseTransport, retries: int = 2, sleep: Callable[[float], None] = time.sleep, default_wait: float = 1.0):
        self.inner, self.retries, self.sleep, self.default_wait = inner, retries, sleep, default_wait

    def wait_for(self, response: httpx.Response) -> float | None:
        """Seconds to wait before retrying, or None when the answer must stand."""
        if response.status_code not in RETRY_STATUSES:
            return None
        raw = response.headers.get("retry-after", "")
        try:
            wait = float(raw) if raw else self.default_wait
        except ValueError:
            wait = self.default_wait  # an HTTP-date or garbage: fall back to the default
        return wait if 0 <= wait <= MAX_RETRY_AFTER else None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            response = self.inner.handle_request(request)
            wait = self.wait_for(response)
            if wait is None or attempt > self.retries:
                response.extensions = {**response.extensions, ATTEMPTS: attempt}
                return response
            response.read()
            response.close()
            self.sleep(wait)

    def close(self) -> None:
        self.inner.close()


class Meter:
    """Requests sent and their estimated price, shared by every client of a run (thread-safe)."""

    def __init__(self, price: Callable[[httpx.Request], float] | None = None):
        self.requests, self.spent, self.price = 0, 0.0, price
        self._lock = threading.Lock()

    def count(self, request: httpx.Request) -> None:
        amount = self.price(request) if self.price else 0.0
        with self._lock:
            self.requests += 1
            self.spent += amount


class MeteredTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, meter: Meter):
        self.inner, self.meter = inner, meter

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.meter.count(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class PacedTransport(httpx.BaseTransport):
    """At most `rps` requests per second through one limiter (pyrate-limiter), blocking until a slot is free."""

    def __init__(self, inner: httpx.BaseTransport, limiter, name: str):
        self.inner, self.limiter, self.name = inner, limiter, name

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.limiter.try_acquire(self.name, blocking=True)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def rate_limiter(rps: float):
    """A pyrate-limiter Limiter for `rps` requests per second (fractions allowed: 0.5 = one per 2 s)."""
    from pyrate_limiter import Duration, Limiter, Rate

    if rps >= 1:
        return Limiter(Rate(int(rps), Duration.SECOND))
    return Limiter(Rate(1, int(Duration.SECOND / rps)))


def policies(answering: httpx.BaseTransport, *, retries: int, sleep: Callable[[float], None], meter: Meter, token_cap: int,
             tool_token_cap: int | None = None, limiter=None, name: str = "") -> httpx.BaseTransport:
    """The run's stack: the token cap around retry around meter around pace around whatever answers."""
    inner = PacedTransport(answering, limiter, name) if limiter is not None else answering
    return CapTransport(RetryTransport(MeteredTransport(inner, meter), retries=retries, sleep=sleep), token_cap, tool_token_cap)


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
    order: tuple | None = None,
) -> Exchange:
    """Send one request and read its answer (SSE events when streaming); the client's transport applies
    the run's policies (retries among them).

    `content` sends raw bytes instead of `body` as JSON (malformed JSON, wrong content types);
    `files` makes it multipart/form-data: `body` becomes the form fields, `files` the uploads;
    `order` (batch, n): one of several requests sent at once, recorded as n-th of its batch."""
    return _send_once(client, method, url, body, stream, timeout, headers, content, files, order)


def _send_once(client, method, url, body, stream, timeout, headers, content, files, order=None) -> Exchange:
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
    if order is not None:
        request.extensions[ORDER] = order
    try:
        response = client.send(request, stream=True)
        try:
            if SENT_BODY in request.extensions:
                exchange.body = request.extensions[SENT_BODY]
            exchange.interaction = request.extensions.get(INTERACTION)
            exchange.attempts = response.extensions.get(ATTEMPTS, 1)
            if TRANSPORT_ERROR in response.headers:  # a recorded failure (recording.py): the same error again
                exchange.error_kind, _, exchange.error = response.headers[TRANSPORT_ERROR].partition(": ")
                return exchange
            exchange.status = response.status_code
            exchange.headers = {k.lower(): v for k, v in response.headers.items()}
            if stream and exchange.content_type == "text/event-stream":
                _read_events(response, exchange, started)
            else:
                _read_body(response, exchange)
        finally:
            response.close()
    except httpx.TransportError as exc:
        exchange.error_kind, exchange.error = describe_failure(exc, timeout, len(exchange.events))
    finally:
        exchange.elapsed = time.monotonic() - started
    if exchange.status is None and exchange.interaction is None:
        exchange.interaction = request.extensions.get(INTERACTION)  # a failure the recorder wrote down
    return exchange


def describe_failure(exc: httpx.TransportError, timeout: float | None, events: int = 0) -> tuple[str, str]:
    """(kind, words) for a request that got no complete answer: timeout | protocol | connection."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", f"timed out after {timeout:g} s ({type(exc).__name__})" if timeout else f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "protocol", f"connection closed {f'after {events} events' if events else 'before a complete response'}: {exc}"
    return "connection", f"{type(exc).__name__}: {exc}"


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


def arrival_times(response: httpx.Response) -> list[float] | None:
    """The recorded arrival times of a stream's chunks, if its recording kept them."""
    raw = response.headers.get(ARRIVALS)
    try:
        return [float(x) for x in raw.split(",")] if raw else None
    except ValueError:
        return None


def _read_events(response: httpx.Response, exchange: Exchange, started: float) -> None:
    """The stream's bytes as they came (bounded), then its events: the bytes are what an SDK would read."""
    chunks, size = [], 0
    recorded = arrival_times(response)
    timed: list[float] = []
    try:
        for chunk in response.iter_bytes():
            timed.append(round(time.monotonic() - started, 3))
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                exchange.error, exchange.error_kind = f"stream larger than {MAX_BODY_BYTES} bytes; stopped reading", "too-large"
                break
            chunks.append(chunk)
    finally:  # a cut stream still shows the events that came before the cut
        # a recording's own times; else this read's, unless the answer came whole from a cassette
        exchange.arrivals = recorded if recorded is not None else (None if response.extensions.get("anyint.whole") else timed)
        exchange.content = b"".join(chunks)
        exchange.events = parse_sse(exchange.content)
        if len(exchange.events) > MAX_EVENTS:
            exchange.events = exchange.events[:MAX_EVENTS]
            exchange.error, exchange.error_kind = f"more than {MAX_EVENTS} events; stopped reading", "too-large"


def parse_sse(content: bytes) -> list[SSEEvent]:
    """Server-sent events as httpx-sse reads them (comments skipped, multi-line data joined)."""
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=content)
    try:
        return [SSEEvent(event=sse.event, data=sse.data) for sse in EventSource(response).iter_sse()]
    except SSEError:  # not an event stream at all
        return []
