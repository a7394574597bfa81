"""A loopback HTTP server in front of the run's own transport stack, so that any client, in any language,
can be run against a target: on replay it answers from the test's cassette with the same lookup the
suite uses; live it forwards to the target (recording through the same scrubbing when recording).

The client is given this server's base URL and a placeholder key: the target's real credentials are added
here, on the way out, and never reach the client's process. Every exchange served is kept (status,
headers, body) for the cell to judge. One server per run, on 127.0.0.1 and a free port; each test has
an address of its own on it.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from typing import Iterator

import httpx

from anyint_conformance.wire.recording import CassetteMiss, CassetteUnreadable
from anyint_conformance.wire.transport import ATTEMPTS, INTERACTION, SENT_BODY, TRANSPORT_ERROR, Exchange, describe_failure, parse_sse

PLACEHOLDER_KEY = "anyint-conformance-replay-server"  # what clients send: the server replaces it with the target's own
# what a client's request keeps on the way to the target (the rest is the client's own business)
DROPPED = {"host", "authorization", "x-api-key", "api-key", "content-length", "connection", "accept-encoding", "transfer-encoding", "keep-alive"}


class Session:
    """One test's share of the server: clients use `base_url`; `transport` answers (the run's stack around
    the test's cassette, or a live pool); `target_base_url` is where requests go; `headers` are the
    target's credentials. `served`: every exchange, in order; `problem`: a cassette miss or an unreadable
    cassette (the test's own failure)."""

    def __init__(self, base_url: str, transport: httpx.BaseTransport, target_base_url: str, headers: dict[str, str], timeout: float):
        self.base_url, self.transport, self.target_base_url, self.headers, self.timeout = base_url, transport, target_base_url.rstrip("/"), headers, timeout
        self.served: list[Exchange] = []
        self.problem: Exception | None = None
        self._lock = threading.Lock()

    def answer(self, handler: BaseHTTPRequestHandler, path: str, content: bytes) -> None:
        url = self.target_base_url + path
        headers = [(k, v) for k, v in handler.headers.items() if k.lower() not in DROPPED] + list(self.headers.items())
        request = httpx.Request(handler.command, url, headers=headers, content=content, extensions={"timeout": {"connect": self.timeout, "read": self.timeout,
                                                                                                              "write": self.timeout, "pool": self.timeout}})
        ex = Exchange(handler.command, url, _body(content, handler.headers.get("content-type", "")))
        response = None
        try:
            response = self.transport.handle_request(request)
            ex.attempts = response.extensions.get(ATTEMPTS, 1)
            if TRANSPORT_ERROR in response.headers:  # a failure the recorder wrote down: the same failure again
                ex.error_kind, _, ex.error = response.headers[TRANSPORT_ERROR].partition(": ")
                response = None
            else:
                ex.status, ex.content = response.status_code, response.read()
                ex.headers = {k.lower(): v for k, v in response.headers.items()}
                if ex.content_type == "text/event-stream":
                    ex.events, ex.stream = parse_sse(ex.content), True
        except (CassetteMiss, CassetteUnreadable) as exc:
            self.problem = self.problem or exc
        except httpx.TransportError as exc:
            ex.error_kind, ex.error = describe_failure(exc, self.timeout)
        ex.interaction = request.extensions.get(INTERACTION)  # the cassette interaction that answered, for the evidence
        ex.body = request.extensions.get(SENT_BODY, ex.body)  # as sent: after the token cap
        with self._lock:
            self.served.append(ex)  # before the client hears the answer: the cell is judged as soon as the client returns
        handler.close_connection = True  # one request per connection: no client keeps a socket to a server that is gone
        if response is None:
            if self.problem is not None and ex.error is None:
                _refuse(handler, 599, b"anyint-conformance: no recorded answer")  # the client fails; the test reports the miss
            return  # a transport failure: the client sees the connection close, as it would have
        handler.send_response(response.status_code)
        for k, v in response.headers.multi_items():
            if k.lower() not in ("content-length", "transfer-encoding", "content-encoding", "connection"):
                handler.send_header(k, v)
        handler.send_header("content-length", str(len(ex.content)))
        handler.send_header("connection", "close")
        handler.end_headers()
        handler.wfile.write(ex.content)


class ReplayServer:
    """One server per run, started on first use: `with server.session(transport, base_url, headers) as s:`
    gives a test its own base URL (`/s/<n>/v1`), so tests in flight at once (--concurrency) never share a
    cassette. Stopped by `close()`."""

    def __init__(self):
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._count = 0
        self._httpd: ThreadingHTTPServer | None = None

    def _start(self) -> int:
        if self._httpd is None:
            server = self

            class Handler(BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"
                disable_nagle_algorithm = True

                def log_message(self, *args):
                    pass

                def _serve(self):
                    length = int(self.headers.get("content-length") or 0)
                    content = self.rfile.read(length) if length else b""
                    parts = self.path.split("/", 3)  # "", "s", the session, "v1/<the route>"
                    session = server._sessions.get(parts[2]) if len(parts) == 4 and parts[1] == "s" else None
                    if session is None or not (parts[3] == "v1" or parts[3].startswith(("v1/", "v1?"))):
                        _refuse(self, 404, b"anyint-conformance: no test is using this address")
                        return
                    session.answer(self, parts[3][2:], content)

                do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

            self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            self._httpd.daemon_threads = True
            threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()  # close() waits one poll
        return self._httpd.server_address[1]

    @contextmanager
    def session(self, transport: httpx.BaseTransport, target_base_url: str, headers: dict[str, str], timeout: float = 60.0) -> Iterator[Session]:
        with self._lock:
            port = self._start()
            self._count += 1
            name = str(self._count)
            session = self._sessions[name] = Session(f"http://127.0.0.1:{port}/s/{name}/v1", transport, target_base_url, headers, timeout)
        try:
            yield session
        finally:
            with self._lock:
                del self._sessions[name]

    def close(self) -> None:
        with self._lock:
            if self._httpd is not None:
                self._httpd.shutdown()
                self._httpd.server_close()
                self._httpd = None


def _body(content: bytes, content_type: str):
    if content_type.startswith("application/json"):
        try:
            return json.loads(content)
        except ValueError:
            pass
    return content.decode("utf-8", "replace") if content else None


def _refuse(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("content-type", "text/plain")
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


__all__ = ["PLACEHOLDER_KEY", "ReplayServer", "Session"]
