"""VCR.py configuration through its own hooks: secret filtering, body matching, target manifests.

Secrets never reach a cassette: credential headers are dropped by `filter_headers`, and every known
key value is replaced wherever it appears (URI, bodies, response headers) by `before_record_*`,
even when a server echoes it back.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import yaml

from anyint_conformance.verdicts import REDACTED

ROOT = Path(__file__).resolve().parent.parent
CASSETTES_DIR = ROOT / "cassettes"
MANIFEST = "target.yaml"
SECRET_HEADERS = ("authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie", "x-litellm-key")
MATCH_ON = ("method", "scheme", "host", "port", "path", "query", "json_body")


def scrub_text(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _scrub_bytes(body: Any, secrets: list[str]) -> Any:
    if isinstance(body, bytes):
        for secret in secrets:
            body = body.replace(secret.encode(), REDACTED.encode())
        return body
    if isinstance(body, str):
        return scrub_text(body, secrets)
    return body


def before_record_request(secrets: list[str]) -> Callable:
    def hook(request):
        request.uri = scrub_text(request.uri, secrets)
        request.body = _scrub_bytes(request.body, secrets)
        for name in list(request.headers):
            if name.lower() in SECRET_HEADERS:
                del request.headers[name]
            else:
                request.headers[name] = scrub_text(str(request.headers[name]), secrets)
        return request

    return hook


def before_record_response(secrets: list[str]) -> Callable:
    def hook(response):
        headers = response.get("headers", {})
        for name in list(headers):
            if name.lower() in SECRET_HEADERS:
                del headers[name]
            else:
                headers[name] = [scrub_text(str(v), secrets) for v in headers[name]]
        body = response.get("body", {})
        if "string" in body:
            body["string"] = _scrub_bytes(body["string"], secrets)
        return response

    return hook


_BOUNDARY = re.compile(r"boundary=\"?([^\";]+)")


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


def _content_type(request) -> str:
    for name, value in request.headers.items():
        if name.lower() == "content-type":
            return value if isinstance(value, str) else value[0]
    return ""


def json_body_matcher(r1, r2) -> None:
    """Bodies equal by canonical_body. VCR wants an AssertionError."""
    b1, b2 = canonical_body(r1.body, _content_type(r1)), canonical_body(r2.body, _content_type(r2))
    assert b1 == b2, f"bodies differ: {str(b1)[:200]!r} != {str(b2)[:200]!r}"


def register(vcr) -> None:
    vcr.register_matcher("json_body", json_body_matcher)


def vcr_config(secrets: list[str], recording: bool = True) -> dict:
    if not recording and not secrets:
        # replaying with no key to scrub: the hooks can change nothing, and VCR.py runs them on every comparison
        return {"match_on": MATCH_ON, "allow_playback_repeats": False, "decode_compressed_response": True}
    return {
        "filter_headers": list(SECRET_HEADERS),
        "before_record_request": before_record_request(secrets),
        "before_record_response": before_record_response(secrets),
        "match_on": MATCH_ON,
        # Hypothesis examples repeat early on; the same request may be answered twice from one recording.
        "allow_playback_repeats": False,
        "decode_compressed_response": True,
    }


class InteractionTracker:
    """Which interaction of the current cassette answered each request: the one whose play count rose
    (replay), or the one just appended (recording). Used as an httpx response hook, it tags the request
    so the exchange can cite `cassette #index` as its evidence, whatever its body looks like."""

    KEY = "anyint.interaction"

    def __init__(self) -> None:
        self.cassette = None
        self._counts: dict[int, int] = {}
        self._length = 0

    def use(self, cassette) -> None:
        self.cassette = cassette
        self._snapshot()

    def _snapshot(self) -> None:
        if self.cassette is not None:
            self._counts = dict(self.cassette.play_counts)
            self._length = len(self.cassette.data)

    def __call__(self, response) -> None:
        if self.cassette is None:
            return
        index = None
        if len(self.cassette.data) > self._length:
            index = len(self.cassette.data) - 1
        else:
            index = next((i for i, n in self.cassette.play_counts.items() if n > self._counts.get(i, 0)), None)
        self._snapshot()
        if index is not None:
            response.request.extensions[self.KEY] = index


def record_failure(cassette, request, kind: str, error: str) -> int | None:
    """Write a transport failure (no answer to record) into the cassette being recorded, as a 599 answer
    whose header names the error; replay turns it back into the error (transport.TRANSPORT_ERROR).
    Returns the interaction's index."""
    from vcr.request import Request

    from anyint_conformance.transport import TRANSPORT_ERROR

    try:
        content = request.read()  # a multipart body is a stream until read
    except Exception:  # noqa: BLE001 - a body that cannot be read again is recorded without it
        content = None
    recorded = Request(request.method, str(request.url), content or None, {k: v for k, v in request.headers.items()})
    before = len(cassette.data)
    cassette.append(recorded, {
        "status": {"code": 599, "message": "anyint-conformance: no answer (transport failure)"},
        "headers": {TRANSPORT_ERROR: [f"{kind}: {error}"], "content-type": ["text/plain"]},
        "body": {"string": b""},
    })
    return before if len(cassette.data) > before else None


def describe_miss(cassette, failed_request, secrets: list[str]) -> str:
    """Where a request that has no recording differs from the closest recorded one (same method and path):
    the first JSON path whose values differ, both values shown, secrets removed."""
    failed = canonical_body(failed_request.body, _content_type(failed_request))
    candidates = [r for r in getattr(cassette, "requests", []) if r.method == failed_request.method and r.path == failed_request.path]
    if not candidates:
        recorded = sorted({f"{r.method} {r.path}" for r in getattr(cassette, "requests", [])})
        return f"nothing recorded for {failed_request.method} {failed_request.path}" + (f" (the cassette has: {', '.join(recorded[:5])})" if recorded else " (the cassette is empty)")
    best = None
    for index, recorded in enumerate(getattr(cassette, "requests", [])):
        if recorded not in candidates:
            continue
        was = canonical_body(recorded.body, _content_type(recorded))
        diff = _first_difference(form_fields(was) if isinstance(was, bytes) else was, form_fields(failed) if isinstance(failed, bytes) else failed, "$")
        if diff is None:
            return f"the body matches interaction #{index} but another part of the request differs (query or host)"
        if best is None or len(diff[0]) > len(best[1][0]):  # the deepest difference: the closest recording
            best = (index, diff)
    index, (path, was, now) = best
    return scrub_text(f"closest recording is interaction #{index}; at {path} it has {was} and this request has {now}", secrets)


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


def recorded_targets(base: Path = CASSETTES_DIR) -> list[str]:
    """Targets with committed cassettes (a manifest says where they came from)."""
    return sorted(p.parent.name for p in base.glob(f"*/{MANIFEST}"))


def read_manifest(target_dir: Path) -> dict:
    path = target_dir / MANIFEST
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: unreadable target manifest ({exc})") from None
    if not isinstance(data, dict) or "base_url" not in data:
        raise ValueError(f"{path}: a target manifest needs at least base_url")
    return data


def write_manifest(target_dir: Path, target: str, base_url: str, describes: str, suite_version: str, recorded_at: str, cassettes: list[str] = ()) -> Path:
    """Say what answered and when. `cassettes` (paths relative to the target's folder) were written by this
    run at `recorded_at`; the times of cassettes it did not touch are kept, so every cell can say when
    its own evidence was recorded."""
    path = target_dir / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        earlier = read_manifest(target_dir).get("recordings") or {}
    except ValueError:
        earlier = {}
    recordings = {**earlier, **{name: recorded_at for name in cassettes}}
    data = {
        "target": target,
        "base_url": base_url,
        "describes": describes,
        "recorded_at": recorded_at,
        "recorded_with": f"anyint-conformance {suite_version}",
        "note": "Recorded live by the suite against this target; key values are scrubbed. Re-record with --record-mode=rewrite.",
        "recordings": dict(sorted(recordings.items())),
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
