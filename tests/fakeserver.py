"""A small OpenAI-ish server on loopback that misbehaves on purpose, one behaviour per path.

Each conformance check is proven against it: the good paths pass, every bad path trips the check
that guards against it. Real sockets, real HTTP, so the transport's bounds are exercised too.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": "hi"}}]}
USAGE = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
COMPLETION = {
    "id": "r1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": USAGE,
}
ENVELOPE = {"error": {"message": "model not found", "type": "invalid_request_error", "param": "model", "code": "model_not_found"}}


def _sse(*events: object) -> bytes:
    return b"".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events)


def _without(obj: dict, key: str) -> dict:
    return {k: v for k, v in obj.items() if k != key}


EMBEDDINGS = {"object": "list", "model": "m", "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}, {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]}],
              "usage": {"prompt_tokens": 2, "total_tokens": 2}}
FLOAT32_B64 = base64.b64encode(struct.pack("<2f", 0.5, -0.25)).decode()  # what a base64 embedding really is
IMAGES = {"created": 1, "data": [{"url": "https://example.invalid/x.png"}]}
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 8

# models that answer like "ok" but declare something else in GET /models (declared vs observed)
DECLARING = {"declares-embedding": {"mode": "embedding", "supported_parameters": ["tools"], "x-vendor-tier": "gold"}}

# path -> (status, content type, body bytes, extra behaviour)
ROUTES: dict[str, tuple] = {
    "/ok": (200, "application/json", json.dumps(COMPLETION).encode()),
    "/ok-no-usage": (200, "application/json", json.dumps(_without(COMPLETION, "usage")).encode()),
    "/missing-choices": (200, "application/json", json.dumps(_without(COMPLETION, "choices")).encode()),
    "/wrong-object": (200, "application/json", json.dumps({**COMPLETION, "object": "text_completion"}).encode()),
    "/content-number": (200, "application/json", json.dumps({**COMPLETION, "choices": [{"index": 0, "message": {"content": 7}}]}).encode()),
    "/html-200": (200, "text/html", b"<html><body>502 Bad Gateway</body></html>"),
    "/invalid-json-200": (200, "application/json", b'{"id": "r1", "choices": ['),
    "/refusal": (404, "application/json", json.dumps(ENVELOPE).encode()),
    "/refusal-detail": (400, "application/json", json.dumps({"detail": "Not Found"}).encode()),
    "/refusal-html": (405, "text/html", b"<h1>Method Not Allowed</h1>"),
    "/error-500": (500, "application/json", json.dumps({"error": {"message": "boom", "type": "server_error"}}).encode()),
    "/auth": (401, "application/json", json.dumps({"error": {"message": "bad key", "type": "auth_error"}}).encode()),
    "/stream-ok": (200, "text/event-stream", _sse(CHUNK, {**CHUNK, "choices": [], "usage": USAGE}, "[DONE]")),
    "/stream-no-usage": (200, "text/event-stream", _sse(CHUNK, CHUNK, "[DONE]")),
    "/stream-no-done": (200, "text/event-stream", _sse(CHUNK, CHUNK)),
    "/stream-wrong-object": (200, "text/event-stream", _sse({**CHUNK, "object": "chat.completion"}, "[DONE]")),
    "/stream-not-json": (200, "text/event-stream", _sse(CHUNK, "{not json", "[DONE]")),
    "/stream-error-event": (200, "text/event-stream", _sse(CHUNK, {"error": {"message": "upstream died"}}, "[DONE]")),
    "/stream-after-done": (200, "text/event-stream", _sse(CHUNK, "[DONE]", CHUNK)),
    "/stream-early-usage": (200, "text/event-stream", _sse({**CHUNK, "usage": USAGE}, CHUNK, CHUNK, CHUNK, "[DONE]")),
    "/stream-as-json": (200, "application/json", json.dumps(COMPLETION).encode()),
    "/stream-cut": (200, "text/event-stream", _sse(CHUNK), "cut"),
    "/speech-ok": (200, "audio/mpeg", MP3),
    "/speech-json-200": (200, "application/json", json.dumps({"error": {"message": "no tts"}}).encode()),
    "/speech-wrong-format": (200, "audio/mpeg", b"RIFF\x00\x00\x00\x00WAVEfmt "),
    "/transcript-text": (200, "text/plain", b"Hello there."),
    "/transcript-json-for-text": (200, "application/json", b'{"text": "Hello there."}'),
    "/embeddings-ok": (200, "application/json", json.dumps(EMBEDDINGS).encode()),
    "/embeddings-one-missing": (200, "application/json", json.dumps({**EMBEDDINGS, "data": EMBEDDINGS["data"][:1]}).encode()),
    "/embeddings-bad-index": (200, "application/json", json.dumps({**EMBEDDINGS, "data": [{**d, "index": 0} for d in EMBEDDINGS["data"]]}).encode()),
    "/images-url-for-b64": (200, "application/json", json.dumps(IMAGES).encode()),
    # one violation each, for the checks that know the request (embeddings, images) and the SDK oracle
    "/embeddings-string-for-float": (200, "application/json", json.dumps({**EMBEDDINGS, "data": [{"object": "embedding", "index": 0, "embedding": "Hello from a mock."}]}).encode()),
    "/embeddings-base64-ok": (200, "application/json", json.dumps({**EMBEDDINGS, "data": [{"object": "embedding", "index": 0, "embedding": FLOAT32_B64}]}).encode()),
    "/embeddings-bad-base64": (200, "application/json", json.dumps({**EMBEDDINGS, "data": [{"object": "embedding", "index": 0, "embedding": "Hello from a mock."}]}).encode()),
    "/images-text-url": (200, "application/json", json.dumps({"created": 1, "data": [{"url": "Hello from mock-chat-a."}]}).encode()),
    "/images-bad-b64": (200, "application/json", json.dumps({"created": 1, "data": [{"b64_json": "%%% not base64 %%%"}]}).encode()),
    "/images-b64-ok": (200, "application/json", json.dumps({"created": 1, "data": [{"b64_json": base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()}]}).encode()),
    # our schema has no rule for finish_reason; the SDK's ChatCompletion requires one of its values
    "/sdk-rejects": (200, "application/json", json.dumps({**COMPLETION, "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": None}]}).encode()),
    "/models-bad-shape": (200, "application/json", json.dumps({"object": "list", "data": [{"id": 7, "object": "model"}]}).encode()),
    "/models-ok": (200, "application/json", json.dumps({"object": "list", "data": [{"id": "m", "object": "model", "created": 1, "owned_by": "x"}]}).encode()),
    "/hang": (200, "application/json", b"", "hang"),
    "/huge": (200, "application/json", b"", "huge"),
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        if self.path.split("?")[0].endswith("/echo-auth"):
            # a careless server that echoes the credential back in a header and in the body
            seen = self.headers.get("authorization", "")
            body = json.dumps({**COMPLETION, "echo": seen}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("x-echo-authorization", seen)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        path = self.path.split("?")[0].removeprefix("/v1")
        if path.startswith("/files"):
            self._files(path, body)
            return
        if path == "/models":
            # every scenario the model name can pick (a stream scenario /stream-x is the model x)
            names = sorted({name.strip("/").removeprefix("stream-") for name in ROUTES} | {"429-then-ok", "echo-auth", *DECLARING})
            models = [{"id": name, "object": "model", "created": 1, "owned_by": "fake", **DECLARING.get(name, {})} for name in names]
            self._send(200, "application/json", json.dumps({"object": "list", "data": models}).encode())
            return
        if path == "/chat/completions":
            # the model name picks the behaviour, so the whole plugin can be run against every fault
            path = self._scenario(body)
            if path == "/handled":
                return
        route = ROUTES.get(path)
        if route is None:
            self._send(404, "text/plain", b"no such fake route")
            return
        status, ctype, body, *extra = route
        behaviour = extra[0] if extra else None
        if behaviour == "hang":
            time.sleep(5)
            return
        if behaviour == "huge":
            self.send_response(200)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(20 * 1024 * 1024))
            self.end_headers()
            try:
                for _ in range(20):
                    self.wfile.write(b" " * 1024 * 1024)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if behaviour == "cut":
            # promise more than is sent, then close: a stream cut before [DONE]
            self.send_response(200)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(body) + 500))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
            return
        self._send(status, ctype, body)

    do_GET = do_POST
    do_DELETE = do_POST

    def _files(self, path: str, raw: bytes) -> None:
        """Upload works, retrieve breaks (500), delete works and is remembered in server.deleted."""
        file = {"id": "file-1", "object": "file", "bytes": len(raw), "created_at": 1, "filename": "x.jsonl", "purpose": "batch", "status": "processed"}
        if self.command == "POST" and path == "/files":
            self._send(200, "application/json", json.dumps(file).encode())
        elif self.command == "GET" and path == "/files":
            self._send(200, "application/json", json.dumps({"object": "list", "data": [file]}).encode())
        elif self.command == "DELETE":
            self.server.deleted.append(path.rsplit("/", 1)[-1])
            self._send(200, "application/json", json.dumps({"id": "file-1", "object": "file", "deleted": True}).encode())
        else:
            self._send(500, "application/json", json.dumps({"error": {"message": "disk on fire", "type": "server_error"}}).encode())

    def _scenario(self, raw: bytes) -> str:
        try:
            request = json.loads(raw)
        except ValueError:
            return "/refusal"
        model, stream = str(request.get("model")), bool(request.get("stream"))
        if model == "echo-auth":
            # a careless gateway that puts the caller's credential into an error message and a header
            seen = self.headers.get("authorization", "")
            payload = json.dumps({"error": {"message": f"upstream rejected {seen}", "type": "server_error"}}).encode()
            self.send_response(500)
            self.send_header("content-type", "application/json")
            self.send_header("x-debug-auth", seen)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return "/handled"
        if model in DECLARING:
            model = "ok"  # answers as a plain chat model, whatever it declares
        if model == "429-then-ok":
            # the first request of each distinct body is rate-limited, its retry succeeds
            count = self.server.seen.get(raw, 0)
            self.server.seen[raw] = count + 1
            if count == 0:
                self.send_response(429)
                self.send_header("retry-after", "0")
                self.send_header("content-type", "application/json")
                payload = json.dumps({"error": {"message": "slow down", "type": "rate_limit"}}).encode()
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return "/handled"
            model = "ok"
        if stream and f"/stream-{model}" in ROUTES:
            return f"/stream-{model}"
        if stream and model == "ok":
            return "/stream-ok"
        return f"/{model}"

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FakeServer:
    def __enter__(self) -> "FakeServer":
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.seen = {}
        self.httpd.deleted = []
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
