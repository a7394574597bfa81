"""Conformance checks and the verdict of one exchange.

A check is a small named function `check(exchange, expect) -> list[Finding]`, registered by name
(Schemathesis' shape). Every finding says where its rule comes from (`Provenance`): the page, the
official SDK, upstream OpenAI, or HTTP itself. `assess()` picks the checks that apply to an answer and
turns the findings that decide into one verdict; upstream-only findings decide only in strict mode.
Every check has a test that makes it fail on a violating body (tests/test_checks.py).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from anyint_conformance.judging import oracle
from anyint_conformance.contract.schemas import answer_for, missing_when_available, sdk_type, violations
from anyint_conformance.wire.transport import DONE, Exchange, is_json_value
from anyint_conformance.model.verdicts import REDACTED, Finding, Provenance, Severity, Verdict, worst

DOC, SDK, UP, HTTP = Provenance.DOCUMENTED, Provenance.SDK, Provenance.UPSTREAM, Provenance.HTTP

# Sentences of the pages that rules below quote.
CHAT_PAGE = "000_c0a4473b350488b6.txt"
EXT_PAGE = "002_4e353627b0d111a6.txt"
Q_JSON = f'{CHAT_PAGE} / Core request shape: stream — "omit or set false for a single JSON response"'
Q_SSE = f'{CHAT_PAGE} / Response behavior: "With stream: true, the route returns SSE chunks"'
Q_CHUNKS = f'{CHAT_PAGE} / Response behavior: "The published schema uses chat.completion.chunk style objects"'
Q_DONE = f'{CHAT_PAGE} / Response behavior: "The stream ends with [DONE]"'
Q_USAGE = f'{CHAT_PAGE} / Response behavior: "Final usage data can arrive near the end of the stream"'
Q_SPEECH = f'{EXT_PAGE} / Audio request fields: "POST /audio/speech | model, input, voice, response_format, speed | Text-to-speech"'
Q_INDEX = f'{EXT_PAGE} / Embeddings request fields: input — "Text or list of texts to embed"; response: data[].index — "Input index for batched requests"'
Q_IMAGE_FORMAT = f'{EXT_PAGE} / Image generation request fields: response_format — "Response format when supported" (example: url)'
NO_ANSWER = "a complete HTTP answer (no reset, timeout or cut connection)"
Q_CREDENTIAL = f'{CHAT_PAGE} / Authentication: "Authorization: Bearer <ANYINT_API_KEY>" (a key is a secret; no answer should carry it back)'


@dataclass(frozen=True)
class Expect:
    """What a route promises for a successful answer to one request (see `Expect.for_request`)."""

    response_schema: str | None = None  # JSON body of a 2xx
    chunk_schema: str | None = None  # each SSE event's JSON when streaming
    stream: bool = False
    error_schema: str = "error"
    body: str = "json"  # json | binary (bytes; audio checked by binary_audio) | text (text/plain) | any (bytes)
    extra: tuple[str, ...] = ()  # further registered checks the operation declares (they read the request)

    @classmethod
    def for_request(cls, operation: dict, body: Any) -> "Expect":
        """The answer this operation documents for this request (the request picks the shape, e.g.
        stream, encoding_format, response_format)."""
        media, target = answer_for(operation, body)
        extra = tuple(operation.get("checks", ()))
        if media == "text/event-stream":
            return cls(chunk_schema=None if target == "text" else target, stream=True, body="json" if target != "text" else "any", extra=extra)
        if target == "text":
            return cls(body="text", extra=extra)
        if target == "binary":
            return cls(body="binary" if media.startswith("audio/") else "any", extra=extra)
        return cls(response_schema=target, extra=extra)


@dataclass
class Assessment:
    """The verdict of one exchange and every finding behind it. Made by `Rules` (which says once whether
    upstream rules decide); later stages change it with dataclasses.replace, so the rule set travels along."""

    verdict: Verdict
    reason: str
    findings: list[Finding] = field(default_factory=list)
    strict: bool = False
    security: bool = False  # answered bad credentials with a 2xx, or carried the caller's key back

    @property
    def first_violation(self) -> Finding | None:
        for severity in (Severity.BROKEN, Severity.NONCONFORMING):
            for finding in self.findings:
                if finding.severity is severity and finding.decides(self.strict):
                    return finding
        return None

    @property
    def warnings(self) -> list[Finding]:
        """Findings that decide nothing here: warnings, and upstream violations outside strict mode."""
        out = []
        for f in self.findings:
            if f.severity is Severity.WARNING:
                out.append(f)
            elif f.severity in (Severity.BROKEN, Severity.NONCONFORMING) and not f.decides(self.strict):
                out.append(Finding(f.check, Severity.WARNING, f"{f.message} (an upstream rule: decides only in strict mode, --strict-upstream)", f.path, f.provenance, f.rule))
        return out

    @property
    def notes(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.NOTE]


Check = Callable[[Exchange, Expect], list[Finding]]
CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        CHECKS[name] = fn
        return fn

    return register


def _schema_findings(check_name: str, schema_id: str, value: Any, where: str = "") -> list[Finding]:
    """Documented and upstream violations of one schema, each with its provenance and quoted rule."""
    out = []
    for v in violations(schema_id, value):
        provenance = UP if v.layer == "upstream" else DOC
        path = f"{where}{v.path[1:]}" if where else v.path
        out.append(Finding(check_name, Severity.NONCONFORMING, f"{where.lstrip('$') + ' ' if where else ''}breaks {schema_id}: {v.message}".strip(), path, provenance, v.rule))
    return out


def _sdk_findings(check_name: str, schema_id: str | None, value: Any, where: str = "") -> list[Finding]:
    type_name = sdk_type(schema_id) if schema_id else None
    if not type_name:
        return []
    error = oracle.parse_error(type_name, value)
    if error is None:
        return []
    short = type_name.rsplit(".", 1)[-1]
    prefix = f"{where.lstrip('$')} " if where else ""
    return [Finding(check_name, Severity.NONCONFORMING, f"{prefix}breaks the official openai SDK ({short}): {error}", where or "$", SDK,
                    f"openai {oracle.sdk_version()}: {type_name}")]


# -- non-streaming bodies ---------------------------------------------------------------------------


@check("content_type_json")
def content_type_json(ex: Exchange, expect: Expect) -> list[Finding]:
    if ex.content_type != "application/json":
        return [Finding("content_type_json", Severity.BROKEN, f"content type is {ex.content_type or 'missing'!r}, expected application/json; body: {ex.snippet(120)!r}",
                        provenance=HTTP, rule="the route's JSON answer (Content-Type: application/json)")]
    return []


@check("json_body")
def json_body(ex: Exchange, expect: Expect) -> list[Finding]:
    if not is_json_value(ex.parsed):
        return [Finding("json_body", Severity.BROKEN, f"body is not valid JSON: {ex.snippet(120)!r}", provenance=HTTP, rule=Q_JSON)]
    return []


@check("response_schema")
def response_schema(ex: Exchange, expect: Expect) -> list[Finding]:
    if not is_json_value(ex.parsed) or not expect.response_schema:
        return []
    found = _schema_findings("response_schema", expect.response_schema, ex.parsed)
    if not found:
        found = [Finding("when_available", Severity.WARNING, f"{path} not returned (documented 'when available')", path)
                 for path in missing_when_available(expect.response_schema, ex.parsed)]
    return found


@check("sdk_parse")
def sdk_parse(ex: Exchange, expect: Expect) -> list[Finding]:
    """The second oracle: the official SDK's type for this answer must parse it."""
    if not is_json_value(ex.parsed):
        return []
    return _sdk_findings("sdk_parse", expect.response_schema, ex.parsed)


# -- streams ------------------------------------------------------------------------------------------


@check("sse_content_type")
def sse_content_type(ex: Exchange, expect: Expect) -> list[Finding]:
    if ex.content_type != "text/event-stream":
        return [Finding("sse_content_type", Severity.BROKEN, f"asked for a stream, got content type {ex.content_type or 'missing'!r}; body: {ex.snippet(120)!r}",
                        provenance=HTTP, rule=Q_SSE)]
    return []


@check("sse_events_json")
def sse_events_json(ex: Exchange, expect: Expect) -> list[Finding]:
    for i, value in ex.event_values:
        if value is None:
            return [Finding("sse_events_json", Severity.BROKEN, f"event {i} data is not JSON: {ex.events[i].data[:120]!r}", f"$events[{i}]", HTTP, Q_CHUNKS)]
        if isinstance(value, dict) and "error" in value:
            message = value["error"].get("message") if isinstance(value["error"], dict) else value["error"]
            return [Finding("sse_events_json", Severity.BROKEN, f"error event in the stream: {str(message)[:200]!r}", f"$events[{i}]", HTTP,
                            "a server error inside a 200 stream is a failed answer")]
    return []


def _chunks(ex: Exchange):
    return [(i, v) for i, v in ex.event_values if v is not None and not (isinstance(v, dict) and "error" in v)]


@check("sse_chunk_schema")
def sse_chunk_schema(ex: Exchange, expect: Expect) -> list[Finding]:
    out: list[Finding] = []
    for i, value in _chunks(ex):
        for finding in _schema_findings("sse_chunk_schema", expect.chunk_schema, value, f"$events[{i}]"):
            if not any(f.provenance is finding.provenance for f in out):  # the first event of each provenance
                out.append(finding)
        if any(f.provenance is DOC for f in out):
            break
    return out


@check("sse_sdk_parse")
def sse_sdk_parse(ex: Exchange, expect: Expect) -> list[Finding]:
    for i, value in _chunks(ex):
        found = _sdk_findings("sse_sdk_parse", expect.chunk_schema, value, f"$events[{i}]")
        if found:
            return found
    return []


@check("sse_done")
def sse_done(ex: Exchange, expect: Expect) -> list[Finding]:
    datas = [e.data.strip() for e in ex.events]
    if DONE not in datas:
        return [Finding("sse_done", Severity.NONCONFORMING, f"stream of {len(datas)} events ended without [DONE]", rule=Q_DONE)]
    after = len(datas) - 1 - datas.index(DONE)
    if after:
        return [Finding("sse_done", Severity.NONCONFORMING, f"{after} event(s) after [DONE]", f"$events[{datas.index(DONE) + 1}]", rule=Q_DONE)]
    return []


@check("sse_usage_near_end")
def sse_usage_near_end(ex: Exchange, expect: Expect) -> list[Finding]:
    chunks = _chunks(ex)
    with_usage = [i for i, v in chunks if isinstance(v, dict) and isinstance(v.get("usage"), dict)]
    if not with_usage:
        return [Finding("sse_usage_near_end", Severity.WARNING, "no chunk carried usage (documented 'can arrive near the end')", rule=Q_USAGE)]
    last_two = {i for i, _ in chunks[-2:]}
    early = [i for i in with_usage if i not in last_two]
    if early:
        # "can arrive near the end" does not forbid it elsewhere; OpenAI sends it in the last chunk only
        return [Finding("sse_usage_near_end", Severity.NONCONFORMING, f"usage arrived in event {early[0]}, not near the end of {len(ex.events)} events",
                        f"$events[{early[0]}].usage", UP, "upstream OpenAI: CreateChatCompletionStreamResponse.usage (only the last chunk carries it)")]
    return []


@check("transport_complete")
def transport_complete(ex: Exchange, expect: Expect) -> list[Finding]:
    if ex.error:
        return [Finding("transport_complete", Severity.BROKEN, ex.error, provenance=HTTP, rule=NO_ANSWER)]
    return []


# -- binary and text bodies ---------------------------------------------------------------------------

# response_format -> (content types a server may label it with, a test of the first bytes)
AUDIO_FORMATS = {
    "mp3": (("audio/mpeg", "audio/mp3"), lambda b: b[:3] == b"ID3" or (len(b) > 1 and b[0] == 0xFF and b[1] & 0xE0 == 0xE0)),
    "wav": (("audio/wav", "audio/x-wav", "audio/wave"), lambda b: b[:4] == b"RIFF" and b[8:12] == b"WAVE"),
    "flac": (("audio/flac", "audio/x-flac"), lambda b: b[:4] == b"fLaC"),
    "opus": (("audio/opus", "audio/ogg"), lambda b: b[:4] == b"OggS"),
    "aac": (("audio/aac",), lambda b: b[:4] == b"ADIF" or (len(b) > 1 and b[0] == 0xFF and b[1] & 0xF6 == 0xF0)),
    "pcm": (("audio/pcm", "audio/l16"), lambda b: len(b) > 0),  # raw samples: no header to check
}


def _asked(ex: Exchange, name: str, default: Any = None) -> Any:
    return ex.body.get(name, default) if isinstance(ex.body, dict) else default


@check("binary_audio")
def binary_audio(ex: Exchange, expect: Expect) -> list[Finding]:
    """Audio bytes of the asked format (default mp3), not a JSON error wearing a 200."""
    asked = _asked(ex, "response_format", "mp3")
    types, magic = AUDIO_FORMATS.get(asked, AUDIO_FORMATS["mp3"])
    if ex.content_type in ("application/json", "text/html", "text/plain") or not ex.content:
        return [Finding("binary_audio", Severity.BROKEN, f"asked for {asked} audio, got {ex.content_type or 'no content type'} ({len(ex.content)} bytes): {ex.snippet(100)!r}",
                        provenance=HTTP, rule=Q_SPEECH)]
    if not magic(ex.content):
        return [Finding("binary_audio", Severity.NONCONFORMING, f"asked for {asked}, the bytes start {ex.content[:8]!r} (content type {ex.content_type})", rule=Q_SPEECH)]
    if ex.content_type not in types and ex.content_type != "application/octet-stream":
        return [Finding("binary_audio", Severity.WARNING, f"{asked} bytes labelled {ex.content_type!r}", provenance=UP)]
    return []


@check("text_body")
def text_body(ex: Exchange, expect: Expect) -> list[Finding]:
    if ex.content_type != "text/plain":
        return [Finding("text_body", Severity.BROKEN, f"asked for text, got content type {ex.content_type or 'missing'!r}: {ex.snippet(100)!r}",
                        provenance=HTTP, rule="upstream AudioResponseFormat text/srt/vtt: a plain-text body")]
    return []


@check("one_vector_per_input")
def one_vector_per_input(ex: Exchange, expect: Expect) -> list[Finding]:
    body = ex.parsed if isinstance(ex.parsed, dict) else {}
    data = body.get("data") if isinstance(body.get("data"), list) else None
    request_input = _asked(ex, "input")
    if data is None or request_input is None:
        return []  # the schema check speaks for a missing data array
    wanted = len(request_input) if isinstance(request_input, list) else 1
    if len(data) != wanted:
        return [Finding("one_vector_per_input", Severity.NONCONFORMING, f"{wanted} input(s), {len(data)} embedding(s)", "$.data", rule=Q_INDEX)]
    indexes = [item.get("index") if isinstance(item, dict) else None for item in data]
    if indexes != list(range(wanted)):
        return [Finding("one_vector_per_input", Severity.NONCONFORMING, f"data[].index is {indexes}, expected {list(range(wanted))}", "$.data", rule=Q_INDEX)]
    return []


@check("base64_embeddings")
def base64_embeddings(ex: Exchange, expect: Expect) -> list[Finding]:
    """encoding_format base64: each vector must decode to float32 values, as the SDK decodes it."""
    if _asked(ex, "encoding_format") != "base64" or not isinstance(ex.parsed, dict):
        return []
    for i, item in enumerate(ex.parsed.get("data") or []):
        vector = item.get("embedding") if isinstance(item, dict) else None
        if isinstance(vector, str):
            try:
                oracle.decode_float32(vector)
            except ValueError as exc:
                return [Finding("base64_embeddings", Severity.NONCONFORMING, f"encoding_format base64 asked, data[{i}].embedding {vector[:30]!r} does not decode to float32: {exc}",
                                f"$.data[{i}].embedding", SDK, f"openai {oracle.sdk_version()}: embeddings.create decodes base64 as little-endian float32")]
    return []


@check("images_as_asked")
def images_as_asked(ex: Exchange, expect: Expect) -> list[Finding]:
    """Each image in the asked form (default url); a url must be absolute, a b64_json must decode."""
    body = ex.parsed if isinstance(ex.parsed, dict) else {}
    asked = _asked(ex, "response_format", "url")
    data = body.get("data") if isinstance(body.get("data"), list) else []
    for i, item in enumerate(data):
        value = item.get(asked) if isinstance(item, dict) else None
        if not isinstance(value, str) or not value:
            return [Finding("images_as_asked", Severity.NONCONFORMING, f"asked for {asked}, data[{i}] has no {asked}", f"$.data[{i}].{asked}", rule=Q_IMAGE_FORMAT)]
    for i, item in enumerate(data):
        item = item if isinstance(item, dict) else {}
        url, b64 = item.get("url"), item.get("b64_json")
        if isinstance(url, str) and not _absolute_url(url):
            return [Finding("images_as_asked", Severity.NONCONFORMING, f"data[{i}].url is not an absolute http(s) or data: URL: {url[:60]!r}", f"$.data[{i}].url", rule=Q_IMAGE_FORMAT)]
        if isinstance(b64, str) and _image_bytes(b64) is None:
            return [Finding("images_as_asked", Severity.NONCONFORMING, f"data[{i}].b64_json does not decode as base64: {b64[:30]!r}", f"$.data[{i}].b64_json", rule=Q_IMAGE_FORMAT)]
    return []


def _absolute_url(url: str) -> bool:
    parts = urlsplit(url)
    return (parts.scheme in ("http", "https") and bool(parts.netloc)) or (parts.scheme == "data" and "," in url)


def _image_bytes(b64: str) -> bytes | None:
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw or None


# -- refusals and every answer ---------------------------------------------------------------------------


@check("error_envelope")
def error_envelope(ex: Exchange, expect: Expect) -> list[Finding]:
    """A refusal in OpenAI's error shape. The pages publish no error shape: an upstream note, never a verdict."""
    if not is_json_value(ex.parsed):
        return [Finding("error_envelope", Severity.NOTE, f"HTTP {ex.status} without the OpenAI error envelope (body is not JSON: {ex.snippet(120)!r})",
                        provenance=UP, rule="upstream OpenAI: ErrorResponse")]
    found = _schema_findings("error_envelope", expect.error_schema, ex.parsed)
    if found:
        return [Finding("error_envelope", Severity.NOTE, f"HTTP {ex.status} without the OpenAI error envelope ({found[0].path}: {found[0].message.split(': ', 1)[-1]}); body: {ex.snippet(120)!r}",
                        found[0].path, UP, found[0].rule)]
    return []


def credential_reflected(ex: Exchange, secrets: tuple[str, ...] = ()) -> list[Finding]:
    """The caller's key in the answer (a header or the body): live, the key itself; replayed or recorded,
    the scrubbing marker that replaced it in the cassette."""
    needles = [s for s in secrets if s] + [REDACTED]
    headers = "\n".join(f"{k}: {v}" for k, v in ex.headers.items())
    text = ex.content.decode("utf-8", "replace") + "\n".join(e.data for e in ex.events)
    for where, haystack in (("a response header", headers), ("the response body", text)):
        if any(n in haystack for n in needles):
            return [Finding("credential_reflected", Severity.NONCONFORMING, f"the answer carries the caller's credential back in {where} (security finding)",
                            provenance=DOC, rule=Q_CREDENTIAL)]
    return []


NON_STREAM_CHECKS = ("transport_complete", "content_type_json", "json_body", "response_schema", "sdk_parse")
STREAM_CHECKS = ("transport_complete", "sse_content_type", "sse_events_json", "sse_chunk_schema", "sse_sdk_parse", "sse_done", "sse_usage_near_end")
BINARY_CHECKS = ("transport_complete",)
TEXT_CHECKS = ("transport_complete", "text_body")
ANY_CHECKS = ("transport_complete",)


def assess(ex: Exchange, expect: Expect, strict: bool = False) -> Assessment:
    """The verdict of one exchange against what its route promises (upstream rules decide only when strict)."""
    if ex.status is None:
        return Assessment(Verdict.BROKEN, f"no answer: {ex.error}", [Finding("transport_complete", Severity.BROKEN, ex.error or "no answer", provenance=HTTP, rule=NO_ANSWER)], strict)
    if ex.status in (401, 403):
        return Assessment(Verdict.UNTESTED, f"HTTP {ex.status}: credentials refused, so support is unknown (is the key variable set?)", error_envelope(ex, expect), strict)
    if ex.status == 429:
        return Assessment(Verdict.UNTESTED, "HTTP 429: rate limited past the retry budget", error_envelope(ex, expect), strict)
    if 400 <= ex.status < 500:
        return Assessment(Verdict.UNSUPPORTED, f"HTTP {ex.status}: {error_message(ex)}", error_envelope(ex, expect), strict)
    if ex.status >= 500:
        finding = Finding("status", Severity.BROKEN, f"HTTP {ex.status}: {error_message(ex)}", provenance=HTTP, rule="a 5xx is a server error, never a correct answer")
        return Assessment(Verdict.BROKEN, finding.message, [finding, *error_envelope(ex, expect)], strict)
    if not 200 <= ex.status < 300:
        finding = Finding("status", Severity.BROKEN, f"unexpected HTTP {ex.status}", provenance=HTTP, rule="a 2xx answer, or a 4xx/5xx refusal")
        return Assessment(Verdict.BROKEN, finding.message, [finding], strict)
    names = {"binary": BINARY_CHECKS, "text": TEXT_CHECKS, "any": ANY_CHECKS}.get(expect.body, STREAM_CHECKS if expect.stream else NON_STREAM_CHECKS)
    findings = [f for name in (*names, *expect.extra) for f in CHECKS[name](ex, expect)]
    result = Assessment(Verdict.SUPPORTED, f"HTTP {ex.status}, conforms", findings, strict)
    first = result.first_violation
    if first is not None:
        result.verdict = Verdict.BROKEN if first.severity is Severity.BROKEN else Verdict.NONCONFORMING
        result.reason = f"HTTP {ex.status}, {first.message}" + (f" at {first.path}" if first.path and first.path != "$" else "")
    elif result.warnings and any(f.provenance is UP for f in result.warnings):
        result.reason += f" ({sum(f.provenance is UP for f in result.warnings)} upstream deviation(s))"
    return result


@dataclass(frozen=True)
class Rules:
    """The rule set every answer of a run is judged by, made once: strict (upstream rules decide too) or
    not, and the secrets whose reflection in any answer is a security finding (checked on every exchange)."""

    strict: bool = False
    secrets: tuple[str, ...] = ()

    def judge(self, ex: Exchange, expect: Expect) -> Assessment:
        """An answer to a valid request."""
        return self._reflected(ex, assess(ex, expect, self.strict))

    def judge_rejection(self, ex: Exchange, rule: Finding, statuses: tuple[int, ...] | None = None, auth: bool = False) -> Assessment:
        """An answer to a request that must be refused (see assess_rejection)."""
        result = assess_rejection(ex, Expect(), rule, statuses, auth=auth, strict=self.strict)
        result.security = auth and result.verdict is Verdict.ACCEPTED
        return self._reflected(ex, result)

    def _reflected(self, ex: Exchange, result: Assessment) -> Assessment:
        leaked = credential_reflected(ex, self.secrets)
        if leaked:
            result.findings, result.security = [*leaked, *result.findings], True
            if result.verdict in (Verdict.SUPPORTED, Verdict.UNVERIFIED, Verdict.IGNORED, Verdict.REJECTED, Verdict.LENIENT):
                result.verdict, result.reason = Verdict.NONCONFORMING, f"HTTP {ex.status}, {leaked[0].message}"
        return result


# -- effects: is an accepted optional parameter honoured? ----------------------------------------------
# An effect returns None when the promised effect is observed, a sentence saying what was ignored, or
# raises Unobservable when this answer cannot show it either way (then the cell is `unverified`).

Effect = Callable[[dict, Exchange], "str | None"]
EFFECTS: dict[str, Effect] = {}


class Unobservable(Exception):
    """The answer lacks what the effect needs (e.g. no usage): neither honoured nor ignored."""


def effect(name: str) -> Callable[[Effect], Effect]:
    def register(fn: Effect) -> Effect:
        EFFECTS[name] = fn
        return fn

    return register


def _body(ex: Exchange) -> dict:
    return ex.parsed if isinstance(ex.parsed, dict) else {}


def _chat_text(ex: Exchange) -> str:
    parts = []
    for choice in _body(ex).get("choices") or []:
        content = ((choice or {}).get("message") or {}).get("content")
        if isinstance(content, str):
            parts.append(content)
    return "".join(parts)


def _tool_calls(ex: Exchange) -> list[dict]:
    return [c for ch in _body(ex).get("choices") or [] for c in (((ch or {}).get("message") or {}).get("tool_calls") or []) if isinstance(c, dict)]


@effect("max_tokens_bounds_completion")
def max_tokens_bounds_completion(request: dict, ex: Exchange) -> str | None:
    usage = _body(ex).get("usage")
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if not isinstance(tokens, int):
        raise Unobservable("no usage.completion_tokens to compare with max_tokens")
    if tokens > request["max_tokens"]:
        return f"usage.completion_tokens {tokens} > max_tokens {request['max_tokens']}"
    return None


@effect("stop_sequence_absent")
def stop_sequence_absent(request: dict, ex: Exchange) -> str | None:
    """The reply to "Say hello." all but certainly holds the stop sequence ("o"); a reply without it was cut
    there. An empty reply shows nothing."""
    stops = request["stop"] if isinstance(request["stop"], list) else [request["stop"]]
    text = _chat_text(ex)
    if not text:
        raise Unobservable("no generated text to look for the stop sequence in")
    hit = next((s for s in stops if s in text), None)
    return f"the output contains the stop sequence {hit!r}: {text[:80]!r}" if hit else None


def _usable_call(wanted: str, calls: list[dict], cut: bool) -> str | None:
    """None when a call of `wanted` has an id and JSON arguments, else what is missing. `cut`: the answer
    ended at max_tokens (finish_reason length), so arguments cut short show nothing either way."""
    named = [c for c in calls if c.get("name") == wanted]
    if not named:
        return f"tool_choice forced {wanted!r}, the answer has tool calls {[c.get('name') for c in calls]}"
    call = named[0]
    if not call.get("id"):
        return f"the call of {wanted!r} has no id to answer with a tool message"
    try:
        json.loads(call.get("arguments") or "")
    except ValueError:
        if cut:
            raise Unobservable(f"the call's arguments were cut at max_tokens (finish_reason length): {str(call.get('arguments'))[:60]!r}") from None
        return f"the call of {wanted!r} has arguments that do not parse as JSON: {str(call.get('arguments'))[:60]!r}"
    return None


def _finish_reasons(ex: Exchange) -> set:
    if ex.events:
        return {(ch or {}).get("finish_reason") for _, v in ex.event_values if isinstance(v, dict) for ch in v.get("choices") or []}
    return {(ch or {}).get("finish_reason") for ch in _body(ex).get("choices") or []}


@effect("forced_tool_call")
def forced_tool_call(request: dict, ex: Exchange) -> str | None:
    """The forced function is called, with an id and JSON arguments: a call a client can run and answer."""
    calls = [{"id": c.get("id"), "name": (c.get("function") or {}).get("name"), "arguments": (c.get("function") or {}).get("arguments")} for c in _tool_calls(ex)]
    return _usable_call(request["tool_choice"]["function"]["name"], calls, "length" in _finish_reasons(ex))


@effect("streamed_tool_call")
def streamed_tool_call(request: dict, ex: Exchange) -> str | None:
    """Streamed tool-call deltas assemble (by index) into a whole call of the forced function."""
    calls: dict = {}
    for _, value in ex.event_values:
        for choice in (value or {}).get("choices") or [] if isinstance(value, dict) else []:
            for delta in ((choice or {}).get("delta") or {}).get("tool_calls") or []:
                call = calls.setdefault(delta.get("index", 0), {"id": None, "name": "", "arguments": ""})
                call["id"] = delta.get("id") or call["id"]
                function = delta.get("function") or {}
                call["name"] += function.get("name") or ""
                call["arguments"] += function.get("arguments") or ""
    return _usable_call(request["tool_choice"]["function"]["name"], list(calls.values()), "length" in _finish_reasons(ex))


@effect("tool_call_required")
def tool_call_required(request: dict, ex: Exchange) -> str | None:
    return None if _tool_calls(ex) else 'tool_choice "required", the answer has no tool call'


@effect("no_tool_call")
def no_tool_call(request: dict, ex: Exchange) -> str | None:
    calls = _tool_calls(ex)
    return f'tool_choice "none", the answer calls {[((c.get("function") or {}).get("name")) for c in calls]}' if calls else None


@effect("dimensions_honoured")
def dimensions_honoured(request: dict, ex: Exchange) -> str | None:
    sizes = {len(d["embedding"]) for d in _body(ex).get("data", []) if isinstance(d, dict) and isinstance(d.get("embedding"), list)}
    if not sizes:
        raise Unobservable("no float embedding to measure")
    return None if sizes == {request["dimensions"]} else f"dimensions {request['dimensions']} asked, vectors of length {sorted(sizes)}"


@effect("base64_encoding")
def base64_encoding(request: dict, ex: Exchange) -> str | None:
    """Every vector a base64 string that decodes to float32 values (a string that does not decode was
    already judged by base64_embeddings; a list of floats means the parameter was ignored)."""
    vectors = [d.get("embedding") for d in _body(ex).get("data", []) if isinstance(d, dict)]
    if not vectors:
        raise Unobservable("no embedding in the answer")
    kinds = sorted({type(v).__name__ for v in vectors})
    if kinds != ["str"]:
        return f"encoding_format base64 asked, embeddings are {kinds}"
    try:
        for v in vectors:
            oracle.decode_float32(v)
    except ValueError as exc:
        return f"encoding_format base64 asked, a vector does not decode to float32: {exc}"
    return None


@effect("one_embedding_per_input")
def one_embedding_per_input(request: dict, ex: Exchange) -> str | None:
    """An array input: as many vectors as inputs, in order (a mismatch was already non-conforming)."""
    return None if len(_body(ex).get("data") or []) == len(request["input"]) else "not one vector per input"


@effect("n_images")
def n_images(request: dict, ex: Exchange) -> str | None:
    got = len(_body(ex).get("data") or [])
    return None if got == request["n"] else f"n={request['n']} asked, {got} image(s) returned"


@effect("images_in_asked_format")
def images_in_asked_format(request: dict, ex: Exchange) -> str | None:
    asked = request["response_format"]
    data = _body(ex).get("data") or []
    if not data:
        raise Unobservable("no image in the answer")
    missing = [i for i, d in enumerate(data) if not (isinstance(d, dict) and isinstance(d.get(asked), str) and d[asked])]
    return f"response_format {asked} asked, data{missing} lack it" if missing else None


@effect("audio_in_asked_format")
def audio_in_asked_format(request: dict, ex: Exchange) -> str | None:
    asked = request["response_format"]
    _, magic = AUDIO_FORMATS[asked]
    return None if magic(ex.content) else f"response_format {asked} asked, the bytes start {ex.content[:8]!r}"


@effect("transcript_in_asked_format")
def transcript_in_asked_format(request: dict, ex: Exchange) -> str | None:
    asked = request["response_format"]
    if asked in ("text", "srt", "vtt"):
        return None if ex.content_type == "text/plain" else f"response_format {asked} asked, content type {ex.content_type!r}"
    if asked == "verbose_json":
        body = _body(ex)
        return None if "duration" in body or "segments" in body else "response_format verbose_json asked, the answer has no duration or segments"
    return None


def assess_rejection(ex: Exchange, expect: Expect, rule: Finding, statuses: tuple[int, ...] | None = None, auth: bool = False, strict: bool = False) -> Assessment:
    """The verdict of a request that must be refused. `rule` says why it must be refused and where that
    comes from: a 2xx is `accepted` when the page forbids the request (for auth: a security finding),
    `lenient` when only upstream OpenAI refuses it (accepted with --strict). A 5xx is `broken` whatever
    the rule. A refusal is `rejected`; the wrong status (`statuses`, an upstream rule) and a refusal
    without OpenAI's envelope are findings that decide only with --strict."""
    wanted = "HTTP " + "/".join(map(str, statuses)) if statuses else "a 4xx"
    if ex.status is None:
        return Assessment(Verdict.BROKEN, f"no answer: {ex.error}", [Finding("transport_complete", Severity.BROKEN, ex.error or "no answer", provenance=HTTP, rule=NO_ANSWER)], strict)
    if 200 <= ex.status < 300:
        what = "answered without valid credentials (security finding)" if auth else "accepted a request the contract forbids"
        finding = Finding("rejected", Severity.NONCONFORMING, f"HTTP {ex.status}: {what}: {rule.message}", provenance=rule.provenance, rule=rule.rule)
        if finding.decides(strict):
            return Assessment(Verdict.ACCEPTED, finding.message, [finding], strict)
        lenient = Finding("rejected", Severity.WARNING, f"HTTP {ex.status}: accepted what only upstream OpenAI refuses: {rule.message}", provenance=rule.provenance, rule=rule.rule)
        return Assessment(Verdict.LENIENT, lenient.message, [lenient], strict)
    if ex.status == 429:
        return Assessment(Verdict.UNTESTED, "HTTP 429: rate limited past the retry budget", [], strict)
    if ex.status >= 500:
        finding = Finding("rejected", Severity.BROKEN, f"HTTP {ex.status} for a client error (expected {wanted}): {error_message(ex)}", provenance=HTTP,
                          rule="a 5xx is a server error, never a correct answer")
        return Assessment(Verdict.BROKEN, finding.message, [finding, *error_envelope(ex, expect)], strict)
    findings = [Finding(f.check, Severity.NONCONFORMING, f.message, f.path, f.provenance, f.rule) for f in error_envelope(ex, expect)]
    if not 400 <= ex.status < 500:
        findings.insert(0, Finding("rejected", Severity.BROKEN, f"HTTP {ex.status}, expected {wanted}: {error_message(ex)}", provenance=HTTP, rule="a refusal is a 4xx"))
    elif statuses and ex.status not in statuses:
        findings.insert(0, Finding("rejected", Severity.NONCONFORMING, f"HTTP {ex.status}, expected {wanted}: {error_message(ex)}", provenance=UP,
                                   rule="upstream OpenAI: 401 for missing or invalid credentials"))
    if isinstance(ex.parsed, dict) and "choices" in ex.parsed:
        findings.append(Finding("rejected", Severity.NONCONFORMING, "the refusal carries model output (choices)", "$.choices", DOC, rule.rule))
    result = Assessment(Verdict.REJECTED, f"HTTP {ex.status}, refused: {error_message(ex)}", findings, strict)
    first = result.first_violation
    if first is not None:
        result.verdict = Verdict.BROKEN if first.severity is Severity.BROKEN else Verdict.NONCONFORMING
        result.reason = first.message
    return result


def error_message(ex: Exchange) -> str:
    body = ex.parsed
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"][:300]
        if isinstance(err, str):
            return err[:300]
        if "detail" in body:
            return str(body["detail"])[:300]
    return ex.snippet(200) or "(empty body)"


__all__ = ["Assessment", "CHECKS", "EFFECTS", "Expect", "Finding", "Provenance", "Rules", "Severity", "Unobservable", "Verdict", "assess", "assess_rejection", "worst"]
