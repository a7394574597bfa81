"""VCR.py configuration through its own hooks: secret filtering, body matching, target manifests.

Secrets never reach a cassette: credential headers are dropped by `filter_headers`, and every known
key value is replaced wherever it appears (URI, bodies, response headers) by `before_record_*`,
even when a server echoes it back.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any, Callable

import yaml

ROOT = Path(__file__).resolve().parent.parent
CASSETTES_DIR = ROOT / "cassettes"
MANIFEST = "target.yaml"
REDACTED = "<REDACTED>"
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
        return {"match_on": MATCH_ON, "allow_playback_repeats": True, "decode_compressed_response": True}
    return {
        "filter_headers": list(SECRET_HEADERS),
        "before_record_request": before_record_request(secrets),
        "before_record_response": before_record_response(secrets),
        "match_on": MATCH_ON,
        # Hypothesis examples repeat early on; the same request may be answered twice from one recording.
        "allow_playback_repeats": True,
        "decode_compressed_response": True,
    }


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


def write_manifest(target_dir: Path, target: str, base_url: str, describes: str, suite_version: str) -> Path:
    path = target_dir / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "target": target,
        "base_url": base_url,
        "describes": describes,
        "recorded_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "recorded_with": f"anyint-conformance {suite_version}",
        "note": "Recorded live by the suite against this target; key values are scrubbed. Re-record with --record-mode=rewrite.",
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
