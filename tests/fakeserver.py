"""A small OpenAI-ish server on loopback that misbehaves on purpose, one behaviour per path.

Each conformance check is proven against it: the good paths pass, every bad path trips the check
that guards against it. Real sockets, real HTTP, so the transport's bounds are exercised too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
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
    # usage in the last chunk, beside its finish_reason: choices stay non-empty (a client reading choices[0] is safe)
    "/stream-ok": (200, "text/event-stream", _sse(CHUNK, {**CHUNK, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": USAGE}, "[DONE]")),
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
    "/speech-garbage": (200, "audio/mpeg", b"this is no audio at all"),
    "/transcript-html": (200, "text/html", b"<html>502</html>"),
    "/images-none": (200, "application/json", json.dumps({"created": 1, "data": [{"revised_prompt": "x"}]}).encode()),
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



# -- a stateful OpenAI shape (files, batches, assistants, threads, runs, videos), correct unless a fault is set ---
# FakeServer(faults={...}) switches one deviation on; each integrity rule has its fault (tests/test_integrity.py).
FAULTS = {
    "upload.bytes": "the upload answers another size than uploaded",
    "upload.filename": "the upload answers another filename",
    "files.list-missing": "the file list leaves the uploaded file out",
    "retrieve.id": "a retrieve answers another id than asked",
    "content.bytes": "the content download is not the bytes uploaded",
    "delete.false": "a delete answers deleted: false",
    "delete.still-there": "a deleted resource still answers 200",
    "files.retrieve-500": "retrieving a file breaks (500)",
    "batch.create.endpoint": "a created batch names another endpoint than asked",
    "batch.no-output": "a completed batch has no output file",
    "batch.output.custom_id": "the output file answers another custom_id",
    "batch.cancel.status": "a cancelled batch answers in_progress",
    "batch.unknown-file": "a batch on a never-uploaded file is accepted",
    "batch.poll.id": "polling a batch answers another batch",
    "assistant.model": "a created assistant names another model",
    "assistant.list-missing": "the assistant list leaves the created one out",
    "message.role": "an added user message comes back as assistant",
    "messages.list-missing": "the message list leaves the added message out",
    "run.assistant": "a run names another assistant than asked",
    "video.size": "a created video names another size than asked",
    "videos.list-missing": "the video list leaves the created video out",
}


class State:
    """In-memory resources; ids count up per kind."""

    def __init__(self, faults: set):
        self.faults = set(faults)
        self.files, self.batches, self.assistants, self.threads, self.messages, self.runs, self.videos = {}, {}, {}, {}, {}, {}, {}
        self.counter = 0
        self.deleted: list[str] = []

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"


def _multipart(raw: bytes, content_type: str) -> dict:
    """The fields of a multipart body: {name: bytes} (uploads' content included)."""
    boundary = content_type.split("boundary=", 1)[-1].strip('"').encode()
    out = {}
    for part in raw.split(b"--" + boundary):
        head, _, value = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        filename = re.search(rb'filename="([^"]*)"', head)
        if name:
            out[name.group(1).decode()] = (value.removesuffix(b"\r\n"), filename.group(1).decode() if filename else None)
    return out


def stateful(state: State, method: str, path: str, body: bytes, content_type: str):
    """(status, content type, body) for a stateful route, or None when the path is not one."""
    f = state.faults
    parts = path.strip("/").split("/")
    kind = parts[0]
    if kind not in ("files", "batches", "assistants", "threads", "videos"):
        return None
    request = json.loads(body) if body and content_type.startswith("application/json") else {}
    ok = lambda obj: (200, "application/json", json.dumps(obj).encode())  # noqa: E731
    gone = (404, "application/json", json.dumps({"error": {"message": "no such object", "type": "invalid_request_error"}}).encode())

    def listing(items, missing_fault, newest=None):
        data = [v for k, v in items.items() if not (missing_fault in f and k == newest)]
        return ok({"object": "list", "data": data, "has_more": False})

    def delete(store, key, obj):
        if key not in store:
            return gone
        state.deleted.append(key)
        if "delete.still-there" not in f:
            del store[key]
        return ok({"id": key, "object": obj, "deleted": "delete.false" not in f})

    if kind == "files":
        if method == "POST" and len(parts) == 1:
            fields = _multipart(body, content_type)
            content, name = fields.get("file", (b"", None))
            file_id = state.new_id("file")
            state.files[file_id] = {"id": file_id, "object": "file", "bytes": len(content) + ("upload.bytes" in f), "created_at": 1,
                                    "filename": "other.jsonl" if "upload.filename" in f else name, "purpose": fields.get("purpose", (b"",))[0].decode(),
                                    "status": "processed", "_content": content}
            return ok(_public(state.files[file_id]))
        if method == "GET" and len(parts) == 1:
            newest = max(state.files, default=None, key=lambda k: int(k.split("-")[1]))
            return ok({"object": "list", "data": [_public(v) for k, v in state.files.items() if not ("files.list-missing" in f and k == newest)], "has_more": False})
        file_id = parts[1]
        if method == "DELETE":
            return delete(state.files, file_id, "file")
        if file_id not in state.files:
            return gone
        if len(parts) == 3:
            content = state.files[file_id]["_content"]
            return 200, "application/octet-stream", content + b"x" if "content.bytes" in f else content
        if "files.retrieve-500" in f:
            return 500, "application/json", json.dumps({"error": {"message": "disk on fire", "type": "server_error"}}).encode()
        return ok({**_public(state.files[file_id]), **({"id": "file-other"} if "retrieve.id" in f else {})})
    if kind == "batches":
        if method == "POST" and len(parts) == 1:
            if request.get("input_file_id") not in state.files and "batch.unknown-file" not in f:
                return gone
            batch_id = state.new_id("batch")
            state.batches[batch_id] = {"id": batch_id, "object": "batch", "endpoint": "/v1/embeddings" if "batch.create.endpoint" in f else request.get("endpoint"),
                                       "input_file_id": request.get("input_file_id"), "completion_window": request.get("completion_window"),
                                       "status": "validating", "created_at": 1, "output_file_id": None, "error_file_id": None,
                                       "request_counts": {"total": 0, "completed": 0, "failed": 0}, "_polls": 0}
            return ok(_public(state.batches[batch_id]))
        if method == "GET" and len(parts) == 1:
            return ok({"object": "list", "data": [_public(v) for v in state.batches.values()], "has_more": False})
        batch = state.batches.get(parts[1])
        if batch is None:
            return gone
        if len(parts) == 3 and parts[2] == "cancel":
            batch["status"] = "in_progress" if "batch.cancel.status" in f else "cancelling"
            return ok(_public(batch))
        batch["_polls"] += 1
        if batch["_polls"] >= 2 and batch["status"] in ("validating", "in_progress"):
            lines = [json.loads(line) for line in state.files[batch["input_file_id"]]["_content"].decode().splitlines() if line.strip()]
            output = "".join(json.dumps({"id": f"r{i}", "custom_id": "other" if "batch.output.custom_id" in f else line["custom_id"],
                                         "response": {"status_code": 200, "body": {**COMPLETION, "model": line["body"].get("model", "m")}}, "error": None}) + "\n"
                             for i, line in enumerate(lines)).encode()
            out_id = state.new_id("file")
            state.files[out_id] = {"id": out_id, "object": "file", "bytes": len(output), "created_at": 1, "filename": "output.jsonl", "purpose": "batch_output",
                                   "status": "processed", "_content": output}
            batch.update(status="completed", output_file_id=None if "batch.no-output" in f else out_id,
                         request_counts={"total": len(lines), "completed": len(lines), "failed": 0})
        elif batch["status"] == "validating":
            batch["status"] = "in_progress"
        return ok({**_public(batch), **({"id": "batch-other"} if "batch.poll.id" in f else {})})
    if kind == "assistants":
        if method == "POST" and len(parts) == 1:
            assistant_id = state.new_id("asst")
            state.assistants[assistant_id] = {"id": assistant_id, "object": "assistant", "created_at": 1, "name": request.get("name"),
                                              "model": "another-model" if "assistant.model" in f else request.get("model"),
                                              "instructions": request.get("instructions"), "tools": []}
            return ok(state.assistants[assistant_id])
        if method == "GET" and len(parts) == 1:
            newest = max(state.assistants, default=None, key=lambda k: int(k.split("-")[1]))
            return listing(state.assistants, "assistant.list-missing", newest)
        if method == "DELETE":
            return delete(state.assistants, parts[1], "assistant.deleted")
        return ok(state.assistants[parts[1]]) if parts[1] in state.assistants else gone
    if kind == "threads":
        if method == "POST" and len(parts) == 1:
            thread_id = state.new_id("thread")
            state.threads[thread_id] = {"id": thread_id, "object": "thread", "created_at": 1, "metadata": {}}
            return ok(state.threads[thread_id])
        thread_id = parts[1]
        if len(parts) == 2:
            if method == "DELETE":
                return delete(state.threads, thread_id, "thread.deleted")
            return ok(state.threads[thread_id]) if thread_id in state.threads else gone
        if thread_id not in state.threads:
            return gone
        if parts[2] == "messages":
            if method == "POST":
                message_id = state.new_id("msg")
                state.messages[message_id] = {"id": message_id, "object": "thread.message", "created_at": 1, "thread_id": thread_id,
                                              "role": "assistant" if "message.role" in f else request.get("role"), "assistant_id": None, "run_id": None,
                                              "attachments": [], "metadata": {}, "status": "completed",
                                              "content": [{"type": "text", "text": {"value": request.get("content"), "annotations": []}}]}
                return ok(state.messages[message_id])
            mine = {k: v for k, v in state.messages.items() if v["thread_id"] == thread_id}
            return listing(mine, "messages.list-missing", max(mine, default=None, key=lambda k: int(k.split("-")[1])))
        if method == "POST" and len(parts) == 3:
            run_id = state.new_id("run")
            state.runs[run_id] = {"id": run_id, "object": "thread.run", "created_at": 1, "thread_id": thread_id, "status": "queued",
                                  "assistant_id": "asst-other" if "run.assistant" in f else request.get("assistant_id"), "model": "m", "instructions": "",
                                  "tools": [], "metadata": {}, "parallel_tool_calls": True}
            return ok(state.runs[run_id])
        run = state.runs.get(parts[3])
        if run is None:
            return gone
        run["status"] = {"queued": "in_progress", "in_progress": "completed"}.get(run["status"], run["status"])
        return ok(run)
    if kind == "videos":
        if method == "POST" and len(parts) == 1:
            video_id = state.new_id("video")
            state.videos[video_id] = {"id": video_id, "object": "video", "created_at": 1, "status": "queued", "model": request.get("model"),
                                      "progress": 0, "seconds": request.get("seconds"), "size": "1280x720" if "video.size" in f else request.get("size")}
            return ok(state.videos[video_id])
        if method == "GET" and len(parts) == 1:
            newest = max(state.videos, default=None, key=lambda k: int(k.split("-")[1]))
            return listing(state.videos, "videos.list-missing", newest)
        video = state.videos.get(parts[1])
        if method == "DELETE":
            return delete(state.videos, parts[1], "video.deleted")
        if video is None:
            return gone
        if len(parts) == 3:
            return 200, "video/mp4", b"\x00\x00\x00\x18ftypmp42fake video"
        video["status"] = "completed"
        return ok(video)
    return None


def _public(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


# -- chat, embeddings, moderations, images, audio: the model name picks the behaviour -----------------

def _completion(content="hi", tool_calls=None, index=0, usage=USAGE, finish="stop", **extra) -> dict:
    message = {"role": "assistant", "content": content, **({"tool_calls": tool_calls} if tool_calls else {})}
    return {**COMPLETION, "choices": [{"index": index, "message": message, "finish_reason": finish}], "usage": usage, **extra}


def _call(name="get_weather", arguments='{"city": "Paris"}', call_id="call_1") -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


WORDS = "Hello there how are you doing today my good friend said the model".split()


def _told(request: dict) -> str | None:
    """What a model that reads every message form answers: the system message's word, the word an earlier
    turn asked it to remember, the tool result's temperature, the colour of an image (the project's PNGs)."""
    import zlib

    messages = request.get("messages") or []
    for message in messages:
        text = message.get("content") if isinstance(message.get("content"), str) else ""
        said = re.search(r"(?:single word|Remember this word:) (\w+)", text)
        if said and message.get("role") in ("system", "user"):
            return said.group(1)
    if messages and messages[-1].get("role") == "tool":
        return f"It is clear and {json.loads(messages[-1]['content'])['temperature_c']} C in Paris."
    for part in (messages[-1].get("content") if messages and isinstance(messages[-1].get("content"), list) else []):
        if part.get("type") == "image_url":
            png = base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
            red, _, blue = zlib.decompress(png[png.index(b"IDAT") + 4:png.index(b"IEND") - 8])[1:4]
            return "Red." if red > blue else "Blue."
    return None


def _honouring(request: dict, count: int = 0) -> dict:
    """A model that does what it is asked: max_tokens and max_completion_tokens, stop, tool_choice,
    parallel_tool_calls, n, seed, temperature and top_p (sampled answers vary unless pinned), logprobs,
    response_format, and what the messages tell it (_told)."""
    import random

    told = _told(request)
    if told is not None and not (request.get("tools") and request["messages"][-1].get("role") != "tool"):
        return _completion(told, usage={"prompt_tokens": 9, "completion_tokens": _tokens(told), "total_tokens": 9 + _tokens(told)})
    cap = min(request.get("max_tokens", 50), request.get("max_completion_tokens", 50))
    sampled = request.get("temperature", 1) > 0 and request.get("top_p", 1) > 0.05
    rng = random.Random(request["seed"] if "seed" in request else (count if sampled else 0))
    words = [WORDS[0], *(rng.sample(WORDS[1:], len(WORDS) - 1) if sampled else WORDS[1:])][:cap]
    text = " ".join(words)
    format_ = (request.get("response_format") or {}).get("type")
    if format_ in ("json_object", "json_schema"):
        text = json.dumps({"greeting": "hello"})
    for stop in (request.get("stop") if isinstance(request.get("stop"), list) else [request["stop"]] if request.get("stop") else []):
        text = text.split(stop)[0]
    choice = request.get("tool_choice")
    usage = {"prompt_tokens": 3, "completion_tokens": _tokens(text), "total_tokens": 3 + _tokens(text)}
    if request.get("tools") and choice not in (None, "none") and not (choice == "auto" and len(request["tools"]) > 1):  # auto: it uses the tool asked for
        name = choice["function"]["name"] if isinstance(choice, dict) else request["tools"][0]["function"]["name"]
        return _completion(None, [_call(name)], finish="tool_calls", usage={"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9})
    if len(request.get("tools") or []) > 1 and choice != "none":  # two tools asked for at once: two calls, unless parallel calls are off
        calls = [_call(t["function"]["name"], call_id=f"call_{i}") for i, t in enumerate(request["tools"])]
        return _completion(None, calls[:1] if request.get("parallel_tool_calls") is False else calls, finish="tool_calls",
                           usage={"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12})
    answer = _completion(text, usage=usage)
    answer["choices"] = [{**answer["choices"][0], "index": i} for i in range(request.get("n", 1))]
    if request.get("logprobs"):
        for choice_ in answer["choices"]:
            choice_["logprobs"] = {"content": [{"token": w, "logprob": -0.1, "top_logprobs": [{"token": w, "logprob": -0.1}] * request.get("top_logprobs", 0)}
                                               for w in text.split()]}
    return answer


def _random(request: dict, count: int) -> dict:
    """Another answer every time, whatever sampling or seed was asked for."""
    import random

    return _completion(" ".join(random.Random(count).sample(WORDS, 6)), usage={"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9})


def _ignoring(request: dict) -> dict:
    """A fixed long answer, whatever was asked (a mock): every parameter ignored."""
    text = "Hello from a fixed answer that goes on"
    return _completion(text, usage={"prompt_tokens": 3, "completion_tokens": 20, "total_tokens": 23})


def _fixed_short(request: dict) -> dict:
    """A fixed two-token answer: no effect can show on it (the control answers the same)."""
    return _completion("Hi there", usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5})


def _calling(request: dict) -> dict:
    """Calls the first offered tool whatever tool_choice says (and answers text without tools)."""
    if request.get("tools"):
        return _completion(None, [_call(request["tools"][0]["function"]["name"])], finish="tool_calls", usage={"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9})
    return _honouring(request)


def _alternating(request: dict, count: int) -> dict:
    """Honours the request on every other call: a flaky model."""
    return _honouring(request) if count % 2 == 0 else _ignoring(request)


def _halves(text: str) -> list[str]:
    """A call's arguments in two deltas, as streaming servers send them."""
    return [text[: len(text) // 2], text[len(text) // 2:]]


def _asks_usage(request: dict) -> bool:
    return bool((request.get("stream_options") or {}).get("include_usage"))


def _chunk(delta: dict, finish=None, **extra) -> dict:
    return {**CHUNK, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


CHAT_BEHAVIOURS = {
    # the SDK, really called on the answer
    "sdk-no-choices": lambda r: _without(COMPLETION, "choices"),
    "sdk-content-number": lambda r: _completion(5),
    "sdk-arguments-object": lambda r: _completion(None, [{"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}], finish="tool_calls"),
    "sdk-created-string": lambda r: {**_completion(), "created": "2024"},
    "sdk-no-model-created": lambda r: _without(_completion(), "created"),
    # integrity: the answer against the request and itself
    "int-choices-index": lambda r: _completion(index=3),
    "int-tool-not-offered": lambda r: _completion(None, [_call("launch_rockets")], finish="tool_calls"),
    "int-arguments-not-json": lambda r: _completion(None, [_call(arguments='{"city": "Par')], finish="tool_calls", usage={"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}),
    "int-arguments-cut": lambda r: _completion(None, [_call(arguments='{"city": "Par')], finish="length", usage={"prompt_tokens": 3, "completion_tokens": r.get("max_tokens", 8), "total_tokens": 3 + r.get("max_tokens", 8)}),
    "int-usage": lambda r: _completion(usage={"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 40}),
    "int-no-answer": lambda r: _completion("" if r.get("messages", [{}])[-1].get("role") == "tool" else "hi"),
    # calls when forced, then one fixed answer whatever the tool returned (as a fixture-driven mock does)
    "fx-fixed-tool-answer": lambda r: _completion("It is 18 C and clear in Paris.") if r.get("messages", [{}])[-1].get("role") == "tool"
    else _completion(None, [_call()], finish="tool_calls", usage={"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9}),
    # effects against their controls
    "fx-ignores": _ignoring,
    "fx-json-always": lambda r: _completion(json.dumps({"greeting": "hello"})),
    "fx-json-other-always": lambda r: _completion(json.dumps({"hello": 1})),
    "fx-json-wrong": lambda r: _completion(json.dumps({"hello": 1}) if r.get("response_format") else "plain words"),
    "fx-two-choices": lambda r: {**_completion(), "choices": [{"index": i, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"} for i in range(2)]},
    "fx-logprobs-wrong": lambda r: {**_completion(), "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop",
                                                                   "logprobs": {"content": [{"token": "hi", "logprob": -0.1, "top_logprobs": [{"token": "hi", "logprob": -0.1}]}]}}]},
    "fx-two-calls-always": lambda r: _completion(None, [_call(t["function"]["name"], call_id=f"call_{i}") for i, t in enumerate(r.get("tools") or [])] or None,
                                                 finish="tool_calls") if r.get("tools") else _completion(),
    "fx-fixed": _fixed_short,
    "fx-calls": _calling,
}
STREAM_BEHAVIOURS = {
    "stream-name-repeated": lambda r: [_chunk({"role": "assistant"}), *[_chunk({"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": a}}]})
                                                                         for a in ('{"city"', ': "Paris"}')], _chunk({}, "tool_calls"), "[DONE]"],
    "stream-no-index": lambda r: [_chunk({"tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}),
                                  _chunk({}, "tool_calls"), "[DONE]"],
    "stream-usage-unasked": lambda r: [_chunk({"content": "hi"}), {**CHUNK, "choices": [], "usage": USAGE}, "[DONE]"],
    # usage only where stream_options.include_usage asks for it: right, early, twice, beside the last choice
    "stream-usage-asked": lambda r: [_chunk({"content": "hi"}), *([{**CHUNK, "choices": [], "usage": USAGE}] if _asks_usage(r) else []), "[DONE]"],
    "stream-usage-early": lambda r: [*([{**CHUNK, "choices": [], "usage": USAGE}] if _asks_usage(r) else []), _chunk({"content": "hi"}), "[DONE]"],
    "stream-usage-twice": lambda r: [_chunk({"content": "hi"}), *([{**CHUNK, "choices": [], "usage": USAGE}] * (2 if _asks_usage(r) else 0)), "[DONE]"],
    "stream-length": lambda r: [_chunk({"role": "assistant", "content": "The weather"}), _chunk({"content": " is"}), _chunk({}, "length"), "[DONE]"],
    "stream-usage-with-choices": lambda r: [_chunk({"content": "hi"}), {**_chunk({}, "stop"), **({"usage": USAGE} if _asks_usage(r) else {})}, "[DONE]"],
    "stream-tool-ok": lambda r: [_chunk({"role": "assistant"}), _chunk({"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
                                 _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Paris"}'}}]}), _chunk({}, "tool_calls"), "[DONE]"],
}
VECTOR = [0.1, 0.2, 0.3, 0.4]


def _embeddings(model: str, request: dict) -> dict:
    inputs = request.get("input") if isinstance(request.get("input"), list) else [request.get("input")]
    dims = request.get("dimensions")
    out = []
    for i, text in enumerate(inputs):
        vector = [float(len(str(text)) % 7) / 10 + x for x in VECTOR]
        if (model == "emb-dims-honoured" and dims) or model == "emb-eight":
            size = 8 if model == "emb-eight" else dims
            vector = vector[:size] + [0.0] * max(0, size - len(vector))
        if model == "emb-same-vector":
            vector = list(VECTOR)
        if model == "emb-lengths" and i:
            vector = vector[:2]
        if (request.get("encoding_format") == "base64" and model != "emb-base64-ignored") or model == "emb-always-base64":
            vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        out.append({"object": "embedding", "index": i, "embedding": vector})
    return {"object": "list", "model": model, "data": out, "usage": {"prompt_tokens": 2, "total_tokens": 2}}


def _moderation(model: str, request: dict) -> dict:
    inputs = request.get("input") if isinstance(request.get("input"), list) else [request.get("input")]
    categories = {"hate": model == "mod-flag-disagrees", "violence": False}
    results = [{"flagged": "false" if model == "mod-flagged-string" else False, "categories": categories,
                "category_scores": {"hate": 0.9 if categories["hate"] else 0.01, "violence": 0.01}} for _ in inputs]
    return {"id": "modr-1", "model": model, "results": results[:1] if model == "mod-one-result" else results}


def _images(model: str, request: dict) -> dict:
    n = request.get("n", 1) if model == "img-honours" else (2 if model == "img-two" else 1)
    if model == "img-always-b64":
        return {"created": 1, "data": [{"b64_json": base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()}]}
    if model == "img-no-image":
        return {"created": 1, "data": [{"revised_prompt": "x"}]}
    if request.get("response_format") == "b64_json" and model == "img-honours":
        return {"created": 1, "data": [{"b64_json": base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()} for _ in range(n)]}
    return {"created": 1, "data": [{"url": "https://example.invalid/x.png"} for _ in range(n)]}


WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 24


def _speech(model: str, request: dict) -> tuple[str, bytes]:
    if model == "speech-not-audio":
        return "audio/mpeg", b"this is not audio at all"
    if (request.get("response_format") == "wav" and model == "speech-honours") or model == "speech-always-wav":
        return "audio/wav", WAV
    return "audio/mpeg", MP3


def _transcript(model: str, fields: dict) -> tuple[str, bytes]:
    asked = fields.get("response_format", (b"json",))[0].decode()
    if model == "tx-always-text" or (model == "tx-honours" and asked in ("text", "srt", "vtt")):
        return "text/plain", b"Hello there."
    if model == "tx-honours" and asked == "verbose_json":
        return "application/json", json.dumps({"text": "Hello there.", "language": "en", "duration": 0.7, "segments": []}).encode()
    return "application/json", json.dumps({"text": "Hello there."}).encode()



class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: without this each answer waits ~40 ms

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        with self.server.counting:
            self.server.requests += 1  # every request the fake was sent (a resumed recording must not send one twice)
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
        answer = stateful(self.server.state, self.command, path, body, self.headers.get("content-type", ""))
        if answer is not None:
            self._send(*answer)
            return
        if path == "/models" and self.server.models_body is not None:
            self._send(200, "application/json", self.server.models_body)
            return
        if path in ("/embeddings", "/moderations", "/images/generations", "/audio/speech") and self._by_model(path, body):
            return
        if path in ("/audio/transcriptions", "/audio/translations"):
            fields = _multipart(body, self.headers.get("content-type", ""))
            model = fields.get("model", (b"",))[0].decode()
            if model in BY_MODEL:
                self._send(200, *_transcript(model, fields))
                return
        if path == "/models":
            # every scenario the model name can pick (a stream scenario /stream-x is the model x)
            names = sorted({name.strip("/").removeprefix("stream-") for name in ROUTES} | {"429-then-ok", "echo-auth", "echo-auth-stream", "fx-flaky", "ok-jitter", "fx-honours", "fx-random", *DECLARING,
                            *CHAT_BEHAVIOURS, *STREAM_BEHAVIOURS, *BY_MODEL})
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

    def _by_model(self, path: str, raw: bytes) -> bool:
        """Embeddings, moderations, images and speech answered by the model's behaviour (BY_MODEL)."""
        try:
            request = json.loads(raw)
        except ValueError:
            return False
        model = str(request.get("model"))
        if model not in BY_MODEL:
            return False
        if path == "/audio/speech":
            ctype, content = _speech(model, request)
            self._send(200, ctype, content)
        else:
            answer = {"/embeddings": _embeddings, "/moderations": _moderation, "/images/generations": _images}[path](model, request)
            self._send(200, "application/json", json.dumps(answer).encode())
        return True

    def _scenario(self, raw: bytes) -> str:
        try:
            request = json.loads(raw)
        except ValueError:
            return "/refusal"
        model, stream = str(request.get("model")), bool(request.get("stream"))
        count = self.server.seen.get(model, 0)
        self.server.seen[model] = count + 1
        if model == "fx-flaky":  # alternates per request body: the same request answered differently each time
            key = (model, raw)
            self.server.seen[key] = self.server.seen.get(key, 0) + 1
            return self._json(_alternating(request, self.server.seen[key] - 1))
        if model == "echo-auth-stream":
            # a stream that carries the caller's credential back in its data (the SDK example reads it)
            return self._events([_chunk({"content": f"your key is {self.headers.get('authorization', '')}"}), "[DONE]"])
        if stream and model in STREAM_BEHAVIOURS:
            return self._events(STREAM_BEHAVIOURS[model](request))
        if model in CHAT_BEHAVIOURS or model in ("fx-honours", "fx-random"):
            # fx-honours and fx-random may answer differently per call: the call's count seeds them
            behaviour = {"fx-honours": _honouring, "fx-random": _random}[model](request, count) if model in ("fx-honours", "fx-random") else CHAT_BEHAVIOURS[model](request)
            if stream:
                message = behaviour.get("choices", [{}])[0].get("message", {}) if behaviour.get("choices") else {}
                calls = [_chunk({"tool_calls": [{"index": i, "id": c["id"], "type": "function", "function": {"name": c["function"]["name"], "arguments": part}}]})
                         if n == 0 else _chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
                         for i, c in enumerate(message.get("tool_calls") or []) for n, part in enumerate(_halves(c["function"]["arguments"]))]
                return self._events([_chunk({"role": "assistant", "content": message.get("content")}), *calls, _chunk({}, "tool_calls" if calls else "stop"), "[DONE]"])
            return self._json(behaviour)
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
        if model == "ok-jitter":  # as ok, after 0-40 ms that depend on the body: requests sent at once answer out of order
            time.sleep(int(hashlib.sha256(raw).hexdigest(), 16) % 40 / 1000)
            model = "ok"
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

    def _json(self, obj) -> str:
        self._send(200, "application/json", json.dumps(obj).encode())
        return "/handled"

    def _events(self, events: list) -> str:
        self._send(200, "text/event-stream", _sse(*events))
        return "/handled"

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


BY_MODEL = {"emb-ok", "emb-dims-honoured", "emb-same-vector", "emb-lengths", "emb-base64-ignored", "emb-eight", "emb-always-base64",
            "mod-ok", "mod-flagged-string", "mod-flag-disagrees", "mod-one-result",
            "img-ok", "img-honours", "img-no-image", "img-two", "img-always-b64",
            "speech-ok", "speech-honours", "speech-not-audio", "speech-always-wav", "tx-honours", "tx-json", "tx-always-text"}


class FakeServer:
    """`faults`: deviations of the stateful routes to switch on (FAULTS); `models_body`: what GET /models answers."""

    def __init__(self, faults: set | tuple = (), models_body: bytes | None = None):
        unknown = set(faults) - set(FAULTS)
        assert not unknown, f"no such fault: {unknown}"
        self.faults, self.models_body = set(faults), models_body

    def __enter__(self) -> "FakeServer":
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.seen = {}
        self.httpd.requests, self.httpd.counting = 0, threading.Lock()
        self.httpd.state = State(self.faults)
        self.httpd.models_body = self.models_body
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        return self

    @property
    def requests(self) -> int:
        return self.httpd.requests

    @property
    def deleted(self) -> list[str]:
        return self.httpd.state.deleted

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
