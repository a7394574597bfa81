#!/usr/bin/env python3
"""The `stateful` live target: one OpenAI-compatible prefix (http://127.0.0.1:14200/v1) in front of two
real backends, so every stateful lifecycle can run to its end on loopback.

  /v1/assistants[/...] and /v1/threads[/...]   answered in-process by openai-responses (PyPI, pinned in
                                               targets/stateful-requirements.txt): its stateful in-memory
                                               OpenAI mock (assistants, threads, messages, runs), reached
                                               through its respx router.
  every other path (and any assistants/threads request openai-responses has no route for)
                                               forwarded to aimock (npm @copilotkit/aimock) on
                                               127.0.0.1:14201: method, path, query, headers and body go
                                               upstream as received; status, headers and body come back as
                                               aimock sent them, streamed (SSE included) as they arrive.

The adapter is deliberately thin: it does not fix, reshape or complete either backend's answers. Their
deviations from the OpenAI API are what the conformance suite is meant to report. What it adds:

  * Runs advance one state per GET /v1/threads/{thread_id}/runs/{run_id}: queued -> in_progress ->
    completed (started_at / completed_at are stamped at the matching step), the way aimock advances
    batches on successive GETs. openai-responses creates runs `queued` and never advances them by
    itself, so without this no run could ever be polled to a terminal state. Nothing else about the
    run changes: no assistant message is added to the thread, no run steps, no usage.
  * Transport framing only: hop-by-hop headers (Connection, Keep-Alive, Transfer-Encoding, TE, Trailer,
    Upgrade, Proxy-*, and Expect, which this server already answered) are not forwarded; a chunked
    request body is de-chunked and sent with Content-Length; an upstream body without Content-Length
    (SSE) is relayed to the client chunked, flushed chunk by chunk.
  * When openai-responses raises (e.g. a run created without `assistant_id`, a body that is not JSON)
    the adapter answers 500 with an OpenAI-style error envelope naming the exception; when aimock
    cannot be reached it answers 502. Neither backend produced those answers, and they say so.

Binds 127.0.0.1 only. Run with the venv .targets/stateful (see targets/local.sh).
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import respx
from openai_responses import OpenAIMock

# Routes answered by openai-responses (the rest of the path is matched by its own router).
STATEFUL = re.compile(r"^/v1/(?:assistants|threads)(?:/|$|\?)")
# The one route the adapter acts on before openai-responses answers (see the module docstring).
RUN_RETRIEVE = re.compile(r"^/v1/threads/(?P<thread_id>[^/?]+)/runs/(?P<run_id>[^/?]+)(?:\?.*)?$")
RUN_ADVANCE = {"queued": ("in_progress", "started_at"), "in_progress": ("completed", "completed_at")}

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade", "expect",
}
UPSTREAM_TIMEOUT = 300.0


class Backends:
    """openai-responses' in-memory state (guarded by one lock: it is not thread-safe) and aimock's address."""

    def __init__(self, origin: str, upstream_host: str, upstream_port: int) -> None:
        self.origin = origin
        self.mock = OpenAIMock(base_url=origin + "/v1")
        self.lock = threading.Lock()
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port

    def advance_run(self, thread_id: str, run_id: str) -> None:
        runs = self.mock.state.beta.threads.runs
        run = runs.get(run_id)
        if run is None or run.thread_id != thread_id or run.status not in RUN_ADVANCE:
            return
        status, stamp = RUN_ADVANCE[run.status]
        runs.put(run.model_copy(update={"status": status, stamp: int(time.time())}))

    def answer(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> httpx.Response | None:
        """openai-responses' answer, or None when it has no route for the request."""
        request = httpx.Request(method, self.origin + path, headers=headers, content=body)
        with self.lock:
            try:
                if method == "GET" and (m := RUN_RETRIEVE.match(path)):
                    self.advance_run(m["thread_id"], m["run_id"])
                return self.mock.router.resolve(request).response
            except respx.models.AllMockedAssertionError:
                return None
            finally:
                self.mock.router.reset()  # drops respx's per-call log (it would grow forever); state is untouched


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "anyint-conformance-stateful-adapter"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stalls
    backends: Backends

    # every method the same way
    def do_GET(self) -> None:
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def read_body(self) -> tuple[bytes, bool]:
        """The request body and whether it came chunked."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                    return b"".join(parts), True
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return (self.rfile.read(length) if length else b""), False

    def dispatch(self) -> None:
        body, chunked = self.read_body()
        if STATEFUL.match(self.path):
            try:
                answer = self.backends.answer(self.command, self.path, list(self.headers.items()), body)
            except Exception as exc:  # openai-responses raised: say so, do not guess what it meant
                self.send_error_envelope(500, "server_error", f"openai-responses raised {type(exc).__name__}: {exc}")
                return
            if answer is not None:
                self.send_answer(answer)
                return
        self.forward(body, chunked)

    def send_answer(self, answer: httpx.Response) -> None:
        content = answer.content
        self.send_response(answer.status_code)
        for name, value in answer.headers.multi_items():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        if "content-length" not in answer.headers:
            self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    def send_error_envelope(self, status: int, kind: str, message: str) -> None:
        payload = json.dumps({"error": {"message": f"stateful adapter: {message}", "type": kind, "param": None, "code": None}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def forward(self, body: bytes, chunked: bool) -> None:
        b = self.backends
        conn = http.client.HTTPConnection(b.upstream_host, b.upstream_port, timeout=UPSTREAM_TIMEOUT)
        try:
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        conn.putheader(name, value)
                if chunked:
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body or None)
                upstream = conn.getresponse()
            except OSError as exc:
                self.send_error_envelope(502, "upstream_error", f"aimock on {b.upstream_host}:{b.upstream_port} unreachable: {exc}")
                return
            self.relay(upstream)
        finally:
            conn.close()

    def relay(self, upstream: http.client.HTTPResponse) -> None:
        has_body = self.command != "HEAD" and upstream.status not in (204, 304) and not 100 <= upstream.status < 200
        length = upstream.getheader("Content-Length")
        rechunk = has_body and length is None
        self.log_request(upstream.status)
        self.send_response_only(upstream.status, upstream.reason)  # no Server/Date of ours: aimock's headers as sent
        for name, value in upstream.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        if rechunk:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if not has_body:
            self.wfile.flush()
            return
        try:
            while True:
                data = upstream.read1(65536)
                if not data:
                    break
                if rechunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                else:
                    self.wfile.write(data)
                self.wfile.flush()
            if rechunk:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except (http.client.HTTPException, OSError) as exc:
            # upstream broke off mid-body (or the client went away): end this connection, as aimock did
            self.log_error("relay of %s %s interrupted: %r", self.command, self.path, exc)
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=14200)
    ap.add_argument("--upstream", default="127.0.0.1:14201", help="aimock's host:port")
    args = ap.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        ap.error("binds loopback only")
    up_host, _, up_port = args.upstream.rpartition(":")
    Handler.backends = Backends(f"http://{args.host}:{args.port}", up_host, int(up_port))
    server = Server((args.host, args.port), Handler)

    def stop(signum, frame):  # SIGTERM: leave serve_forever, close the socket
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"stateful adapter on http://{args.host}:{args.port}/v1 "
          f"(assistants/threads: openai-responses; everything else: aimock on {args.upstream})", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("stateful adapter stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
