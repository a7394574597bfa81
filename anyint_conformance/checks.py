"""Conformance checks and the verdict of one exchange.

A check is a small named function `check(exchange, expect) -> list[Finding]`, registered by name
(Schemathesis' shape). `assess()` picks the checks that apply to an answer and turns their findings
into one of the verdicts of DESIGN.md. Every check has a test that makes it fail on a violating body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Callable

from anyint_conformance.schemas import first_violation, missing_when_available
from anyint_conformance.transport import DONE, Exchange, is_json_value


class Verdict(str, Enum):
    SUPPORTED = "supported"
    UNSUPPORTED = "unsupported"
    NONCONFORMING = "non-conforming"
    IGNORED = "ignored"
    BROKEN = "broken"
    UNTESTED = "untested"
    # negative and auth cells: the contract is a refusal
    REJECTED = "rejected"  # 4xx (401 for auth) with the OpenAI error envelope: as documented
    ACCEPTED = "accepted"  # 2xx for nonsense or without valid credentials (auth: a security finding)


# Worst first: a cell takes the worst verdict among its exchanges.
SEVERITY_ORDER = [
    Verdict.BROKEN,
    Verdict.ACCEPTED,
    Verdict.NONCONFORMING,
    Verdict.IGNORED,
    Verdict.UNSUPPORTED,
    Verdict.UNTESTED,
    Verdict.REJECTED,
    Verdict.SUPPORTED,
]


class Severity(str, Enum):
    BROKEN = "broken"  # makes the exchange broken
    NONCONFORMING = "non-conforming"  # makes the exchange non-conforming
    WARNING = "warning"  # e.g. a "when available" field left out
    NOTE = "note"  # a conformance finding that does not decide support (a refusal without the envelope)


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    message: str
    path: str | None = None

    def to_dict(self) -> dict:
        return {"check": self.check, "severity": self.severity.value, "message": self.message, "path": self.path}


@dataclass(frozen=True)
class Expect:
    """What a route promises for a successful answer."""

    response_schema: str | None = None  # JSON body of a 2xx
    chunk_schema: str | None = None  # each SSE event's JSON when streaming
    stream: bool = False
    error_schema: str = "error"
    body: str = "json"  # json | binary (audio of the asked format) | text (text/plain) | any (bytes, e.g. file content)
    extra: tuple[str, ...] = ()  # further registered checks that need the request (e.g. one vector per input)


@dataclass
class Assessment:
    verdict: Verdict
    reason: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def first_violation(self) -> Finding | None:
        for severity in (Severity.BROKEN, Severity.NONCONFORMING):
            for finding in self.findings:
                if finding.severity is severity:
                    return finding
        return None

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]

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


# -- non-streaming bodies ---------------------------------------------------------------------------


@check("content_type_json")
def content_type_json(ex: Exchange, expect: Expect) -> list[Finding]:
    if ex.content_type != "application/json":
        return [Finding("content_type_json", Severity.BROKEN, f"content type is {ex.content_type or 'missing'!r}, expected application/json; body: {ex.snippet(120)!r}")]
    return []


@check("json_body")
def json_body(ex: Exchange, expect: Expect) -> list[Finding]:
    if not is_json_value(ex.parsed):
        return [Finding("json_body", Severity.BROKEN, f"body is not valid JSON: {ex.snippet(120)!r}")]
    return []


@check("response_schema")
def response_schema(ex: Exchange, expect: Expect) -> list[Finding]:
    if not is_json_value(ex.parsed):
        return []
    violation = first_violation(expect.response_schema, ex.parsed)
    if violation:
        return [Finding("response_schema", Severity.NONCONFORMING, f"breaks {expect.response_schema}: {violation.message}", violation.path)]
    return [Finding("when_available", Severity.WARNING, f"{path} not returned (documented 'when available')", path) for path in missing_when_available(expect.response_schema, ex.parsed)]


# -- streams ------------------------------------------------------------------------------------------



@check("sse_content_type")
def sse_content_type(ex: Exchange, expect: Expect) -> list[Finding]:
    if ex.content_type != "text/event-stream":
        return [Finding("sse_content_type", Severity.BROKEN, f"asked for a stream, got content type {ex.content_type or 'missing'!r}; body: {ex.snippet(120)!r}")]
    return []


@check("sse_events_json")
def sse_events_json(ex: Exchange, expect: Expect) -> list[Finding]:
    for i, value in ex.event_values:
        if value is None:
            return [Finding("sse_events_json", Severity.BROKEN, f"event {i} data is not JSON: {ex.events[i].data[:120]!r}", f"$events[{i}]")]
        if isinstance(value, dict) and "error" in value:
            message = value["error"].get("message") if isinstance(value["error"], dict) else value["error"]
            return [Finding("sse_events_json", Severity.BROKEN, f"error event in the stream: {str(message)[:200]!r}", f"$events[{i}]")]
    return []


@check("sse_chunk_schema")
def sse_chunk_schema(ex: Exchange, expect: Expect) -> list[Finding]:
    for i, value in ex.event_values:
        if value is None or (isinstance(value, dict) and "error" in value):
            continue
        violation = first_violation(expect.chunk_schema, value)
        if violation:
            path = f"$events[{i}]" + violation.path[1:]
            return [Finding("sse_chunk_schema", Severity.NONCONFORMING, f"event {i} breaks {expect.chunk_schema}: {violation.message}", path)]
    return []


@check("sse_done")
def sse_done(ex: Exchange, expect: Expect) -> list[Finding]:
    datas = [e.data.strip() for e in ex.events]
    if DONE not in datas:
        return [Finding("sse_done", Severity.NONCONFORMING, f"stream of {len(datas)} events ended without [DONE]")]
    after = len(datas) - 1 - datas.index(DONE)
    if after:
        return [Finding("sse_done", Severity.NONCONFORMING, f"{after} event(s) after [DONE]", f"$events[{datas.index(DONE) + 1}]")]
    return []


@check("sse_usage_near_end")
def sse_usage_near_end(ex: Exchange, expect: Expect) -> list[Finding]:
    chunks = [(i, v) for i, v in ex.event_values if isinstance(v, dict) and "error" not in v]
    with_usage = [i for i, v in chunks if isinstance(v.get("usage"), dict)]
    if not with_usage:
        return [Finding("sse_usage_near_end", Severity.WARNING, "no chunk carried usage (documented 'can arrive near the end')")]
    last_two = {i for i, _ in chunks[-2:]}
    early = [i for i in with_usage if i not in last_two]
    if early:
        return [Finding("sse_usage_near_end", Severity.NONCONFORMING, f"usage arrived in event {early[0]}, not near the end of {len(ex.events)} events", f"$events[{early[0]}].usage")]
    return []


@check("transport_complete")
def transport_complete(ex: Exchange, expect: Expect) -> list[Finding]:
    if ex.error:
        return [Finding("transport_complete", Severity.BROKEN, ex.error)]
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


@check("binary_audio")
def binary_audio(ex: Exchange, expect: Expect) -> list[Finding]:
    """Audio bytes of the asked format (default mp3), not a JSON error wearing a 200."""
    asked = (ex.body or {}).get("response_format", "mp3") if isinstance(ex.body, dict) else "mp3"
    types, magic = AUDIO_FORMATS.get(asked, AUDIO_FORMATS["mp3"])
    if ex.content_type in ("application/json", "text/html", "text/plain") or not ex.content:
        return [Finding("binary_audio", Severity.BROKEN, f"asked for {asked} audio, got {ex.content_type or 'no content type'} ({len(ex.content)} bytes): {ex.snippet(100)!r}")]
    if not magic(ex.content):
        return [Finding("binary_audio", Severity.NONCONFORMING, f"asked for {asked}, the bytes start {ex.content[:8]!r} (content type {ex.content_type})")]
    if ex.content_type not in types and ex.content_type != "application/octet-stream":
        return [Finding("binary_audio", Severity.WARNING, f"{asked} bytes labelled {ex.content_type!r}")]
    return []


@check("text_body")
def text_body(ex: Exchange, expect: Expect) -> list[Finding]:
    if ex.content_type != "text/plain":
        return [Finding("text_body", Severity.BROKEN, f"asked for text, got content type {ex.content_type or 'missing'!r}: {ex.snippet(100)!r}")]
    return []


@check("one_vector_per_input")
def one_vector_per_input(ex: Exchange, expect: Expect) -> list[Finding]:
    body = ex.parsed if isinstance(ex.parsed, dict) else {}
    data = body.get("data") if isinstance(body.get("data"), list) else None
    request_input = (ex.body or {}).get("input") if isinstance(ex.body, dict) else None
    if data is None or request_input is None:
        return []  # the schema check speaks for a missing data array
    wanted = len(request_input) if isinstance(request_input, list) else 1
    if len(data) != wanted:
        return [Finding("one_vector_per_input", Severity.NONCONFORMING, f"{wanted} input(s), {len(data)} embedding(s)", "$.data")]
    indexes = [item.get("index") if isinstance(item, dict) else None for item in data]
    if indexes != list(range(wanted)):
        return [Finding("one_vector_per_input", Severity.NONCONFORMING, f"data[].index is {indexes}, expected {list(range(wanted))}", "$.data")]
    return []


@check("images_as_asked")
def images_as_asked(ex: Exchange, expect: Expect) -> list[Finding]:
    body = ex.parsed if isinstance(ex.parsed, dict) else {}
    asked = (ex.body or {}).get("response_format", "url") if isinstance(ex.body, dict) else "url"
    for i, item in enumerate(body.get("data") or []):
        if not isinstance(item, dict) or not isinstance(item.get(asked), str) or not item.get(asked):
            return [Finding("images_as_asked", Severity.NONCONFORMING, f"asked for {asked}, data[{i}] has no {asked}", f"$.data[{i}].{asked}")]
    return []


# -- refusals -----------------------------------------------------------------------------------------


@check("error_envelope")
def error_envelope(ex: Exchange, expect: Expect) -> list[Finding]:
    if not is_json_value(ex.parsed):
        return [Finding("error_envelope", Severity.NOTE, f"HTTP {ex.status} without the OpenAI error envelope (body is not JSON: {ex.snippet(120)!r})")]
    violation = first_violation(expect.error_schema, ex.parsed)
    if violation:
        return [Finding("error_envelope", Severity.NOTE, f"HTTP {ex.status} without the OpenAI error envelope ({violation}); body: {ex.snippet(120)!r}", violation.path)]
    return []


NON_STREAM_CHECKS = ("transport_complete", "content_type_json", "json_body", "response_schema")
STREAM_CHECKS = ("transport_complete", "sse_content_type", "sse_events_json", "sse_chunk_schema", "sse_done", "sse_usage_near_end")
BINARY_CHECKS = ("transport_complete", "binary_audio")
TEXT_CHECKS = ("transport_complete", "text_body")
ANY_CHECKS = ("transport_complete",)


def assess(ex: Exchange, expect: Expect) -> Assessment:
    """The verdict of one exchange against what its route promises."""
    if ex.status is None:
        return Assessment(Verdict.BROKEN, f"no answer: {ex.error}", [Finding("transport_complete", Severity.BROKEN, ex.error or "no answer")])
    if ex.status in (401, 403):
        return Assessment(Verdict.UNTESTED, f"HTTP {ex.status}: credentials refused, so support is unknown (is the key variable set?)", error_envelope(ex, expect))
    if ex.status == 429:
        return Assessment(Verdict.UNTESTED, "HTTP 429: rate limited past the retry budget", error_envelope(ex, expect))
    if 400 <= ex.status < 500:
        notes = error_envelope(ex, expect)
        return Assessment(Verdict.UNSUPPORTED, f"HTTP {ex.status}: {_error_message(ex)}", notes)
    if ex.status >= 500:
        finding = Finding("status", Severity.BROKEN, f"HTTP {ex.status}: {_error_message(ex)}")
        return Assessment(Verdict.BROKEN, finding.message, [finding, *error_envelope(ex, expect)])
    if not 200 <= ex.status < 300:
        finding = Finding("status", Severity.BROKEN, f"unexpected HTTP {ex.status}")
        return Assessment(Verdict.BROKEN, finding.message, [finding])
    names = {"binary": BINARY_CHECKS, "text": TEXT_CHECKS, "any": ANY_CHECKS}.get(expect.body, STREAM_CHECKS if expect.stream else NON_STREAM_CHECKS)
    findings = [f for name in (*names, *expect.extra) for f in CHECKS[name](ex, expect)]
    result = Assessment(Verdict.SUPPORTED, f"HTTP {ex.status}, conforms", findings)
    first = result.first_violation
    if first is not None:
        result.verdict = Verdict.BROKEN if first.severity is Severity.BROKEN else Verdict.NONCONFORMING
        result.reason = f"HTTP {ex.status}, {first.message}" + (f" at {first.path}" if first.path else "")
    return result


# -- effects: is an accepted optional parameter honoured? ----------------------------------------------
# An effect returns None when the promised effect is observed (or cannot be observed: then a warning is
# returned in `unobservable`), or a sentence saying what was ignored.

Effect = Callable[[dict, Exchange], "str | None"]
EFFECTS: dict[str, Effect] = {}


class Unobservable(Exception):
    """The answer lacks what the effect needs (e.g. no usage): neither honoured nor ignored."""


def effect(name: str) -> Callable[[Effect], Effect]:
    def register(fn: Effect) -> Effect:
        EFFECTS[name] = fn
        return fn

    return register


def _chat_text(ex: Exchange) -> str:
    body = ex.parsed if is_json_value(ex.parsed) else {}
    parts = []
    for choice in body.get("choices") or []:
        content = ((choice or {}).get("message") or {}).get("content")
        if isinstance(content, str):
            parts.append(content)
    return "".join(parts)


@effect("max_tokens_bounds_completion")
def max_tokens_bounds_completion(request: dict, ex: Exchange) -> str | None:
    usage = ex.parsed.get("usage") if isinstance(ex.parsed, dict) else None
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if not isinstance(tokens, int):
        raise Unobservable("no usage.completion_tokens to compare with max_tokens")
    if tokens > request["max_tokens"]:
        return f"usage.completion_tokens {tokens} > max_tokens {request['max_tokens']}"
    return None


@effect("stop_sequence_absent")
def stop_sequence_absent(request: dict, ex: Exchange) -> str | None:
    stops = request["stop"] if isinstance(request["stop"], list) else [request["stop"]]
    text = _chat_text(ex)
    hit = next((s for s in stops if s in text), None)
    return f"the output contains the stop sequence {hit!r}: {text[:80]!r}" if hit else None


@effect("forced_tool_call")
def forced_tool_call(request: dict, ex: Exchange) -> str | None:
    wanted = request["tool_choice"]["function"]["name"]
    body = ex.parsed if isinstance(ex.parsed, dict) else {}
    calls = [c for ch in body.get("choices") or [] for c in (((ch or {}).get("message") or {}).get("tool_calls") or [])]
    names = [((c or {}).get("function") or {}).get("name") for c in calls]
    return None if wanted in names else f"tool_choice forced {wanted!r}, the answer has tool calls {names}"


@effect("dimensions_honoured")
def dimensions_honoured(request: dict, ex: Exchange) -> str | None:
    sizes = {len(d["embedding"]) for d in ex.parsed.get("data", []) if isinstance(d, dict) and isinstance(d.get("embedding"), list)}
    if not sizes:
        raise Unobservable("no float embedding to measure")
    return None if sizes == {request["dimensions"]} else f"dimensions {request['dimensions']} asked, vectors of length {sorted(sizes)}"


@effect("base64_encoding")
def base64_encoding(request: dict, ex: Exchange) -> str | None:
    kinds = {type(d.get("embedding")).__name__ for d in ex.parsed.get("data", []) if isinstance(d, dict)}
    return None if kinds == {"str"} else f"encoding_format base64 asked, embeddings are {sorted(kinds)}"


@effect("n_images")
def n_images(request: dict, ex: Exchange) -> str | None:
    got = len(ex.parsed.get("data") or [])
    return None if got == request["n"] else f"n={request['n']} asked, {got} image(s) returned"


def assess_rejection(ex: Exchange, expect: Expect, statuses: tuple[int, ...] | None = None, auth: bool = False) -> Assessment:
    """The verdict of a request that must be refused: `statuses` (default any 4xx) with the error envelope.

    A 2xx is `accepted` (for auth: answered without valid credentials, a security finding); a 5xx is
    `broken` (a client error answered as a server error); another status or a refusal without the
    envelope is `non-conforming`."""
    wanted = "HTTP " + "/".join(map(str, statuses)) if statuses else "a 4xx"
    if ex.status is None:
        return Assessment(Verdict.BROKEN, f"no answer: {ex.error}", [Finding("transport_complete", Severity.BROKEN, ex.error or "no answer")])
    if 200 <= ex.status < 300:
        what = "answered without valid credentials (security finding)" if auth else "accepted a request the contract forbids"
        finding = Finding("rejected", Severity.NONCONFORMING, f"HTTP {ex.status}: {what}; expected {wanted}")
        return Assessment(Verdict.ACCEPTED, finding.message, [finding])
    if ex.status == 429:
        return Assessment(Verdict.UNTESTED, "HTTP 429: rate limited past the retry budget", [])
    if ex.status >= 500:
        finding = Finding("rejected", Severity.BROKEN, f"HTTP {ex.status} for a client error (expected {wanted}): {_error_message(ex)}")
        return Assessment(Verdict.BROKEN, finding.message, [finding, *error_envelope(ex, expect)])
    findings = [Finding(f.check, Severity.NONCONFORMING, f.message, f.path) for f in error_envelope(ex, expect)]
    if (statuses and ex.status not in statuses) or not 400 <= ex.status < 500:
        findings.insert(0, Finding("rejected", Severity.NONCONFORMING, f"HTTP {ex.status}, expected {wanted}: {_error_message(ex)}"))
    if isinstance(ex.parsed, dict) and "choices" in ex.parsed:
        findings.append(Finding("rejected", Severity.NONCONFORMING, "the refusal carries model output (choices)", "$.choices"))
    if findings:
        return Assessment(Verdict.NONCONFORMING, findings[0].message, findings)
    return Assessment(Verdict.REJECTED, f"HTTP {ex.status} with the error envelope: {_error_message(ex)}", [])


def _error_message(ex: Exchange) -> str:
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


def worst(verdicts) -> Verdict:
    verdicts = list(verdicts)
    return min(verdicts, key=SEVERITY_ORDER.index) if verdicts else Verdict.UNTESTED
