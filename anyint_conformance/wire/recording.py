"""Cassettes: recording, replay, secret scrubbing, target manifests (everything that touches cassettes/).

The cassette *format* is VCR.py's (its serializer, its request/response records, one YAML file per test);
the *lookup* is ours: a cassette is indexed once by the canonical request (method, URI, query, body as
parsed JSON or as a multipart upload with its boundary removed), so replay is one dictionary lookup per
request instead of VCR.py's comparison of every request with every recorded one, and cassettes can be
played and recorded by many threads at once (VCR.py patches httpx globally, one cassette at a time).
pytest-recording's options keep their meaning: --record-mode none (replay) | once | new_episodes | all |
rewrite, and --disable-recording (live, nothing written).

Replay answers from the cassette only: it has no connection to open. A request with no recording raises
`CassetteMiss`, which says where it differs from the closest recorded request (never the unfiltered
request itself). Secrets never reach a file: credential headers are dropped and every key value is
replaced by REDACTED wherever it appears (URI, bodies, headers), even when a server echoes it back.
A failure that left no answer (reset, timeout, cut) is written as a marked answer that replay turns back
into the same failure.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import yaml

from anyint_conformance.model.paths import CASSETTES_DIR, load_yaml, write_atomic
from anyint_conformance.wire.transport import ARRIVALS, INTERACTION, ORDER, TRANSPORT_ERROR, describe_failure
from anyint_conformance.model.verdicts import REDACTED, scrub

MANIFEST = "target.yaml"
SECRET_HEADERS = ("authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie", "x-litellm-key")
# what a recorded answer keeps of the wire: httpx has decoded the body, so its encoding and length headers go
HOP_HEADERS = ("content-encoding", "transfer-encoding", "content-length", "connection", "keep-alive")
REPLAY_MODES = ("none",)


class CassetteMiss(Exception):
    """A request this cassette has no recording for; the message says where it differs (secrets removed)."""

    def __init__(self, path: Path, asked: str, where: str):
        super().__init__(f"{asked}: {where}")
        self.path, self.asked, self.where = path, asked, where


class CassetteUnreadable(Exception):
    """A cassette file that cannot be loaded (truncated, hand-edited, another format); names file and line."""

    def __init__(self, path: Path, why: str, line: int | None = None):
        super().__init__(f"{path}{f', line {line}' if line else ''}: {why}")
        self.path, self.why, self.line = path, why, line


# -- scrubbing ------------------------------------------------------------------------------------------


def _scrub_bytes(body: Any, secrets: list[str]) -> Any:
    if isinstance(body, bytes):
        for secret in secrets:
            body = body.replace(secret.encode(), REDACTED.encode())
        return body
    if isinstance(body, str):
        return scrub(body, secrets)
    return body


def _scrub_headers(headers: dict[str, list[str]], secrets: list[str]) -> dict[str, list[str]]:
    return {name: [scrub(str(v), secrets) for v in values] for name, values in headers.items() if name.lower() not in SECRET_HEADERS}


# -- canonical requests -----------------------------------------------------------------------------------

_BOUNDARY = re.compile(r"boundary=\"?([^\";]+)")


def canonical_body(body: Any, content_type: str = "") -> Any:
    """A request body as replay compares it: JSON parsed (key order and spacing ignored), a multipart
    body with its boundary replaced (so any boundary matches), anything else as it is; None when empty."""
    found = _BOUNDARY.search(content_type)
    if found and content_type.startswith("multipart/"):
        raw = body if isinstance(body, bytes) else str(body or "").encode()
        return raw.replace(found.group(1).encode(), b"<boundary>")
    if body is None or body == b"" or body == "":
        return None
    try:
        return json.loads(body)
    except (ValueError, TypeError):
        return body


def form_fields(body: bytes) -> dict:
    """A canonical multipart body (boundary replaced) as {field: value}, files as "<N bytes name>": for
    saying which field of an upload differs."""
    fields = {}
    for part in body.split(b"--<boundary>"):
        head, _, value = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        if not name:
            continue
        filename = re.search(rb'filename="([^"]*)"', head)
        value = value.removesuffix(b"\r\n")
        key = name.group(1).decode("utf-8", "replace")
        fields[key] = f"<{len(value)} bytes {filename.group(1).decode('utf-8', 'replace')}>" if filename else value.decode("utf-8", "replace")
    return fields


def request_key(method: str, uri: str, body: Any, content_type: str) -> str:
    """The lookup key of a request: VCR.py's method/scheme/host/port/path/query plus the canonical body."""
    parts = urlsplit(uri)
    canonical = canonical_body(body, content_type)
    if isinstance(canonical, bytes):
        canonical = canonical.decode("latin-1")
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    return json.dumps([method.upper(), parts.scheme, parts.hostname, parts.port, parts.path, query, canonical], sort_keys=True, default=str)


def _content_type(headers: dict) -> str:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return value[0] if isinstance(value, list) else value
    return ""


# -- one cassette -----------------------------------------------------------------------------------------


TURN_WAIT = 300.0  # seconds a request of a batch waits for the one before it to record (a safety net: it always comes)
INCOMPLETE = "anyint_incomplete"  # first line of a cassette whose test did not finish recording


class Cassette:
    """One cassette file: its interactions, indexed by request key, played in recorded order per key."""

    def __init__(self, path: Path, mode: str, secrets: list[str], cache_dir: Path | None = None, fresh: bool = False):
        self.path, self.mode, self.secrets, self.cache_dir = Path(path), mode, list(secrets), cache_dir
        self.requests: list[dict] = []  # VCR.py's request records (body, headers, method, uri)
        self.responses: list[dict] = []
        self._by_key: dict[str, list[int]] = defaultdict(list)
        self._played: dict[str, int] = defaultdict(int)
        self._loaded = 0
        self.dirty = False
        self.incomplete: str | None = None  # why its recording did not finish (the file's INCOMPLETE line), or None
        self._lock = threading.Lock()
        self._turns: dict = {}  # batch -> the next request number of it that may record (see turn)
        self._turns_changed = threading.Condition()
        if mode == "all" or fresh:
            return  # records everything anew (the file on disk is replaced when this one is saved)
        if self.path.exists():
            self._load()

    @property
    def replay_only(self) -> bool:
        """none: replay; once: replay when the file was already there (VCR.py's meaning)."""
        return self.mode in REPLAY_MODES or (self.mode == "once" and self._loaded > 0)

    def _load(self) -> None:
        cached = _cached(self.path, self.cache_dir)
        if cached is not None:
            for request, response in cached:
                self._add(request, response)
            self._loaded = len(self.requests)
            return
        from vcr.serialize import deserialize
        from vcr.serializers import yamlserializer

        try:
            text = self.path.read_text()
            if text.startswith(INCOMPLETE + ":"):
                self.incomplete = text.split("\n", 1)[0].partition(":")[2].strip().strip("'\"") or "the recording did not finish"
            requests, responses = deserialize(text, yamlserializer)[:2]
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise CassetteUnreadable(self.path, f"{type(exc).__name__}: {exc.problem or exc}", mark.line + 1 if mark else None) from None
        except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError, UnicodeDecodeError) as exc:
            raise CassetteUnreadable(self.path, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}") from None
        for request, response in zip(requests, responses):
            if not isinstance(response, dict) or "status" not in response or "body" not in response:
                raise CassetteUnreadable(self.path, "an interaction has no recorded response (status and body)")
            self._add(request._to_dict(), response)
        self._loaded = len(self.requests)
        if self.incomplete is None:  # the cache serves replays; an unfinished recording is always read from its file
            _cache(self.path, self.cache_dir, list(zip(self.requests, self.responses)))

    def _add(self, request: dict, response: dict) -> int:
        index = len(self.requests)
        self.requests.append(request)
        self.responses.append(response)
        self._by_key[request_key(request["method"], request["uri"], request["body"], _content_type(request["headers"]))].append(index)
        return index

    def play(self, method: str, uri: str, body: bytes | None, content_type: str) -> int | None:
        """The index of the next recorded answer to this request (recorded order), or None."""
        key = request_key(method, uri, body, content_type)
        with self._lock:
            indexes = self._by_key.get(key)
            if not indexes:
                return None
            seen = self._played[key]
            if seen >= len(indexes):
                return None  # every recording of this request was played: a further one is new
            self._played[key] += 1
            return indexes[seen]

    def record(self, request: httpx.Request, content: bytes | None, response: dict) -> int:
        """Append one interaction, scrubbed (the request's credential headers dropped, key values replaced)."""
        headers = _scrub_headers({k: [v] for k, v in request.headers.items()}, self.secrets)
        recorded = {"body": _scrub_bytes(content or None, self.secrets), "headers": headers, "method": request.method,
                    "uri": scrub(str(request.url), self.secrets)}
        response = {**response, "headers": _scrub_headers(response["headers"], self.secrets),
                    "body": {"string": _scrub_bytes(response["body"]["string"], self.secrets)}}
        with self._lock:
            self.dirty = True
            index = self._add(recorded, response)
            # recorded just now: played once already
            key = request_key(recorded["method"], recorded["uri"], recorded["body"], _content_type(headers))
            self._played[key] = max(self._played[key], self._by_key[key].index(index) + 1)
            return index

    @contextmanager
    def turn(self, order: tuple | None):
        """The n-th request of a batch sent at once records after the ones before it (whenever its answer
        came), so the cassette and its interaction numbers are those of one request at a time. A request
        that passed once (a retried 429) does not wait again."""
        if order is None:
            yield
            return
        batch, n = order
        with self._turns_changed:
            self._turns_changed.wait_for(lambda: self._turns.get(batch, 0) >= n, timeout=TURN_WAIT)
            yield
            self._turns[batch] = max(self._turns.get(batch, 0), n + 1)
            self._turns_changed.notify_all()

    def settle(self, order: tuple | None) -> None:
        """The n-th request of a batch is done (recorded, replayed or failed): the next may record."""
        if order is not None and self._turns.get(order[0], 0) <= order[1]:
            with self.turn(order):
                pass

    def save(self, incomplete: str | None = None) -> None:
        """Write the cassette (atomically: a kill never tears one). `incomplete`: why its test did not finish
        (interrupted, cut by the budget): the file then starts with an INCOMPLETE line, which VCR.py's reader
        ignores, and a resumed recording continues it instead of taking it for the whole test."""
        if not self.dirty and incomplete == self.incomplete:
            return
        from vcr.request import Request
        from vcr.serialize import serialize
        from vcr.serializers import yamlserializer

        requests = [Request(r["method"], r["uri"], r["body"], {k: v[0] if len(v) == 1 else v for k, v in r["headers"].items()}) for r in self.requests]
        text = serialize({"requests": requests, "responses": self.responses}, yamlserializer)
        if incomplete:
            text = f"{INCOMPLETE}: {json.dumps(' '.join(incomplete.split()))}\n" + text
        write_atomic(self.path, text)
        self.dirty, self.incomplete = False, incomplete

    def response(self, index: int, request: httpx.Request) -> httpx.Response:
        recorded = self.responses[index]
        body = recorded["body"]["string"]
        content = body.encode() if isinstance(body, str) else (body or b"")
        headers = [(name, value) for name, values in recorded["headers"].items() for value in values]
        request.extensions[INTERACTION] = index
        return httpx.Response(recorded["status"]["code"], headers=headers, content=content, request=request, extensions={"anyint.whole": True})

    def miss(self, method: str, uri: str, body: bytes | None, content_type: str) -> CassetteMiss:
        """Where a request with no recording differs from the closest recorded one (same method and path)."""
        path = urlsplit(uri).path
        asked = f"{method} {path}"
        if self.incomplete:
            return CassetteMiss(self.path, asked, f"its recording did not finish ({self.incomplete}): resume it with --record-mode=once")
        if not self.requests:
            return CassetteMiss(self.path, asked, "the cassette holds no recording (the file is missing or empty)")
        failed = canonical_body(body, content_type)
        best = None
        for index, recorded in enumerate(self.requests):
            if recorded["method"] != method or urlsplit(recorded["uri"]).path != path:
                continue
            was = canonical_body(recorded["body"], _content_type(recorded["headers"]))
            diff = _first_difference(form_fields(was) if isinstance(was, bytes) else was, form_fields(failed) if isinstance(failed, bytes) else failed, "$")
            if diff is None:
                key = request_key(method, uri, body, content_type)
                if self._played.get(key):
                    return CassetteMiss(self.path, asked, "every recording of it was already played: the request was sent more often than recorded")
                return CassetteMiss(self.path, asked, f"the body matches interaction #{index} but another part of the request differs (query or host)")
            if best is None or len(diff[0]) > len(best[1][0]):  # the deepest difference: the closest recording
                best = (index, diff)
        if best is None:
            recorded = sorted({f"{r['method']} {urlsplit(r['uri']).path}" for r in self.requests})
            return CassetteMiss(self.path, asked, f"nothing recorded for {asked} (the cassette has: {', '.join(recorded[:5])})")
        index, (where, was, now) = best
        return CassetteMiss(self.path, asked, scrub(f"closest recording is interaction #{index}; at {where} it has {was} and this request has {now}", self.secrets))


# -- a parse cache: YAML is the record, JSON the fast read (about 20x faster to load) --------------------------

CACHE_FORMAT = 1


def _cache_file(path: Path, cache_dir: Path) -> Path:
    import hashlib

    return cache_dir / (hashlib.sha1(str(path.resolve()).encode()).hexdigest() + ".json")


def _stamp(path: Path) -> list:
    stat = path.stat()
    return [CACHE_FORMAT, stat.st_size, stat.st_mtime_ns]


def _cached(path: Path, cache_dir: Path | None) -> list | None:
    """The interactions of a cassette as parsed before, if the file has not changed since (size, mtime)."""
    if cache_dir is None:
        return None
    try:
        data = json.loads(_cache_file(path, cache_dir).read_text(), object_hook=_unbytes)
    except (OSError, ValueError):
        return None
    return data["interactions"] if data.get("stamp") == _stamp(path) else None


def _cache(path: Path, cache_dir: Path | None, interactions: list) -> None:
    if cache_dir is None:
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        target = _cache_file(path, cache_dir)
        temporary = target.with_suffix(f".{threading.get_ident()}.tmp")
        temporary.write_text(json.dumps({"stamp": _stamp(path), "interactions": interactions}, default=_bytes))
        temporary.replace(target)  # atomic: threads and workers may write the same entry
    except OSError:
        pass  # a cache that cannot be written is only slower


def _bytes(value):
    if isinstance(value, bytes):
        import base64

        return {"__bytes__": base64.b64encode(value).decode()}
    raise TypeError(f"cannot cache {type(value).__name__}")


def _unbytes(value: dict):
    if "__bytes__" in value and len(value) == 1:
        import base64

        return base64.b64decode(value["__bytes__"])
    return value


_MISSING = object()


def _first_difference(a: Any, b: Any, path: str):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a.keys(), *[k for k in b if k not in a]]:
            found = _first_difference(a.get(key, _MISSING), b.get(key, _MISSING), f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            found = _first_difference(a[i] if i < len(a) else _MISSING, b[i] if i < len(b) else _MISSING, f"{path}[{i}]")
            if found:
                return found
        return None
    if a == b:
        return None
    return path, _short(a), _short(b)


def _short(value: Any) -> str:
    if value is _MISSING:
        return "nothing"
    text = json.dumps(value) if not isinstance(value, bytes) else repr(value[:80])
    return text if len(text) <= 80 else text[:80] + "…"


# -- the transport that answers from (or records into) a cassette -------------------------------------------


class CassetteTransport(httpx.BaseTransport):
    """Answers from the cassette; records through `inner` (a real connection) what it has not recorded,
    unless the cassette is replay-only. Without `inner` it can only replay: no socket is ever opened."""

    def __init__(self, cassette: Cassette, inner: httpx.BaseTransport | None = None):
        self.cassette, self.inner = cassette, inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()
        content_type = request.headers.get("content-type", "")
        method, uri = request.method, str(request.url)
        order = request.extensions.get(ORDER)
        try:
            if self.cassette.mode != "all":
                index = self.cassette.play(method, uri, content, content_type)
                if index is not None:
                    return self.cassette.response(index, request)
            if self.inner is None or self.cassette.replay_only:
                raise self.cassette.miss(method, uri, content, content_type)
            return self._record(request, content, order)
        finally:
            self.cassette.settle(order)  # a request of a batch that recorded nothing lets the next one record

    def _record(self, request: httpx.Request, content: bytes, order: tuple | None = None) -> httpx.Response:
        started = time.monotonic()
        arrivals = []
        try:
            response = self.inner.handle_request(request)
            parts = []
            for part in response.iter_bytes():  # recorded whole, as VCR.py does: a stream is replayed from its bytes
                arrivals.append(round(time.monotonic() - started, 3))
                parts.append(part)
            body = b"".join(parts)
        except httpx.TransportError as exc:
            kind, text = describe_failure(exc, (request.extensions.get("timeout") or {}).get("read"))
            with self.cassette.turn(order):
                request.extensions[INTERACTION] = self.cassette.record(request, content, {
                    "status": {"code": 599, "message": "anyint-conformance: no answer (transport failure)"},
                    "headers": {TRANSPORT_ERROR: [f"{kind}: {text}"], "content-type": ["text/plain"]},
                    "body": {"string": b""},
                })
            raise
        headers: dict[str, list[str]] = {}
        for name, value in response.headers.multi_items():
            if name.lower() not in HOP_HEADERS:
                headers.setdefault(name.lower(), []).append(value)
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            headers[ARRIVALS] = [",".join(map(str, arrivals))]  # when each chunk came, for replay to judge the pacing as live did
        with self.cassette.turn(order):  # requests sent at once are recorded in the order they were sent, as one at a time would be
            index = self.cassette.record(request, content, {"status": {"code": response.status_code, "message": response.reason_phrase},
                                                             "headers": headers, "body": {"string": body}})
        request.extensions[INTERACTION] = index
        return httpx.Response(response.status_code, headers=[(k, v) for k, vs in headers.items() for v in vs], content=body, request=request,
                              extensions={**{k: v for k, v in response.extensions.items() if k != "network_stream"}, "anyint.whole": True})

    def close(self) -> None:
        pass  # the real connection is shared by every cassette of a target; the engine closes it


# -- targets: what is recorded, what answered ---------------------------------------------------------------


def recorded_targets(base: Path = CASSETTES_DIR) -> list[str]:
    """Targets with committed cassettes (a manifest says where they came from)."""
    return sorted(p.parent.name for p in base.glob(f"*/{MANIFEST}"))


def read_manifest(target_dir: Path) -> dict:
    path = target_dir / MANIFEST
    try:
        data = load_yaml(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: unreadable target manifest ({exc})") from None
    if not isinstance(data, dict) or "base_url" not in data:
        raise ValueError(f"{path}: a target manifest needs at least base_url")
    return data


def write_manifest(target_dir: Path, target: str, base_url: str, describes: str, suite_version: str, recorded_at: str, cassettes: list[str] = ()) -> Path:
    """Say what answered and when. `cassettes` (paths relative to the target's folder) were written by this
    run at `recorded_at`; every other cassette on disk keeps the time it was recorded. `recordings` lists
    only the cassettes recorded at another time than `recorded_at`, so a complete recording leaves it empty."""
    path = target_dir / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        earlier = read_manifest(target_dir)
    except ValueError:
        earlier = {}
    written = set(cassettes)
    on_disk = [p.relative_to(target_dir).as_posix() for p in target_dir.rglob("*.yaml") if p.name != MANIFEST]
    times = {name: recorded_at if name in written else (earlier.get("recordings") or {}).get(name, earlier.get("recorded_at", recorded_at)) for name in on_disk}
    data = {
        "target": target,
        "base_url": base_url,
        "describes": describes,
        "recorded_at": recorded_at,
        "recorded_with": f"anyint-conformance {suite_version}",
        "note": "Recorded live by the suite against this target; key values are scrubbed. Re-record with --record-mode=rewrite.",
        "recordings": dict(sorted((name, when) for name, when in times.items() if when != recorded_at)),
    }
    return write_atomic(path, yaml.safe_dump(data, sort_keys=False))
