"""Conformance checks and the verdict of one exchange.

A check is a small named function `check(exchange, expect) -> list[Finding]`, registered by name
(Schemathesis' shape). Every finding says where its rule comes from (`Provenance`), and that decides
whether it can decide a verdict:
  documented  a row or sentence of the pages, quoted verbatim
  inferred    our reading of a row's wording, quoted with the reading
  sdk         the official SDK, really called on the answer, raises or hands client code another type
  integrity   the answer contradicts the request, an earlier step or itself
  http        a 5xx, a timeout, a cut connection
  upstream    OpenAI's own strictness (ranges, enums, where usage arrives, the error envelope): a warning,
              deciding only with --strict-upstream
The line is one question: would a client of the OpenAI shape be broken or misled?

`assess()` picks the checks that apply to an answer and turns the findings that decide into a verdict;
`Rules` runs it with the run's rule set and the reflected-key check. Effects (is an accepted optional
parameter honoured?) are judged against a control: the same request without the parameter. Every check
and every effect has a test that makes it fail on a violating body (tests/test_checks.py, tests/fakeserver.py).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from anyint_conformance.contract.schemas import answer_for, missing_when_available, violations
from anyint_conformance.judging import oracle
from anyint_conformance.model.verdicts import REDACTED, Finding, Provenance, Severity, Verdict, worst
from anyint_conformance.wire.transport import DONE, Exchange, is_json_value

DOC, INF, SDK, INT, UP, HTTP = (Provenance.DOCUMENTED, Provenance.INFERRED, Provenance.SDK, Provenance.INTEGRITY,
                                Provenance.UPSTREAM, Provenance.HTTP)

# Sentences of the pages that rules below quote (verbatim: a test finds each in schemas/pages, the committed copy of the pages).
CHAT_PAGE = "000_c0a4473b350488b6.txt"
EXT_PAGE = "002_4e353627b0d111a6.txt"
Q_JSON = f'{CHAT_PAGE} / Core request shape: stream — "omit or set false for a single JSON response"'
Q_SSE = f'{CHAT_PAGE} / Response behavior: "With stream: true, the route returns SSE chunks"'
Q_CHUNKS = f'{CHAT_PAGE} / Response behavior: "The published schema uses chat.completion.chunk style objects"'
Q_DONE = f'{CHAT_PAGE} / Response behavior: "The stream ends with [DONE]"'
Q_USAGE = f'{CHAT_PAGE} / Response behavior: "Final usage data can arrive near the end of the stream"'
Q_EXT_JSON = (f'{EXT_PAGE} / Base URL and auth: "Content-Type: application/json" (our reading: these routes answer JSON, '
              f'as the OpenAI-compatible shapes they pass through do)')
Q_SPEECH = f'{EXT_PAGE} / Audio request fields: POST /audio/speech — "Text-to-speech" (our reading: the answer is audio)'
Q_TRANSCRIPT = f'{EXT_PAGE} / Audio request fields: POST /audio/transcriptions — "Speech-to-text transcription" (our reading: the answer is a transcript)'
Q_BASE64 = (f'{EXT_PAGE} / Embeddings request fields: encoding_format — "Vector encoding format when supported." (our reading: base64 is '
            f'the vector as little-endian float32 values, base64-encoded, as OpenAI encodes it and its SDK decodes it)')
Q_INDEX = f'{EXT_PAGE} / Embeddings request fields: input — "Text or list of texts to embed"; response: data[].index — "Input index for batched requests"'
Q_IMAGE_URL = f'{EXT_PAGE} / Image generation request fields: response_format — "Response format when supported" (our reading: a url is an absolute URL, b64_json is base64)'
NO_ANSWER = "a complete HTTP answer (no reset, timeout or cut connection)"
Q_CREDENTIAL = f'{CHAT_PAGE} / Authentication: "Authorization: Bearer <ANYINT_API_KEY>" (a key is a secret; no answer should carry it back)'
CHAT = ("POST", "/chat/completions")


@dataclass(frozen=True)
class Expect:
    """What a route promises for a successful answer to one request (see `Expect.for_request`)."""

    response_schema: str | None = None  # JSON body of a 2xx
    chunk_schema: str | None = None  # each SSE event's JSON when streaming
    stream: bool = False
    error_schema: str = "error"
    body: str = "json"  # json | binary (bytes; audio checked by binary_audio) | text (a transcript in a text format) | any (bytes)
    extra: tuple[str, ...] = ()  # further registered checks the operation declares (they read the request)
    route: tuple[str, str] | None = None  # (method, path template): the SDK call that reads the answer

    @classmethod
    def for_request(cls, operation: dict, body: Any) -> "Expect":
        """The answer this operation documents for this request (the request picks the shape, e.g.
        stream, encoding_format, response_format)."""
        media, target = answer_for(operation, body)
        extra, route = tuple(operation.get("checks", ())), (operation["method"], operation["path"])
        if media == "text/event-stream":
            return cls(chunk_schema=None if target == "text" else target, stream=True, body="json" if target != "text" else "any", extra=extra, route=route)
        if target == "text":
            return cls(body="text", extra=extra, route=route)
        if target == "binary":
            return cls(body="binary" if media.startswith("audio/") else "any", extra=extra, route=route)
        return cls(response_schema=target, extra=extra, route=route)


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
    """Documented, inferred and upstream violations of one schema, each with its provenance and quoted rule."""
    out = []
    for v in violations(schema_id, value):
        provenance = UP if v.layer == "upstream" else (INF if v.inferred else DOC)
        path = f"{where}{v.path[1:]}" if where else v.path
        out.append(Finding(check_name, Severity.NONCONFORMING, f"{where.lstrip('$') + ' ' if where else ''}breaks {schema_id}: {v.message}".strip(), path, provenance, v.rule))
    return out


def _asked(ex: Exchange, name: str, default: Any = None) -> Any:
    return ex.body.get(name, default) if isinstance(ex.body, dict) else default


def _body(ex: Exchange) -> dict:
    return ex.parsed if isinstance(ex.parsed, dict) else {}


# -- non-streaming bodies ---------------------------------------------------------------------------


def _json_rule(expect: Expect) -> tuple[Provenance, str]:
    return (DOC, Q_JSON) if expect.route == CHAT else (INF, Q_EXT_JSON)


@check("content_type_json")
def content_type_json(ex: Exchange, expect: Expect) -> list[Finding]:
    if ex.content_type != "application/json":
        provenance, rule = _json_rule(expect)
        return [Finding("content_type_json", Severity.BROKEN, f"content type is {ex.content_type or 'missing'!r}, expected application/json; body: {ex.snippet(120)!r}",
                        provenance=provenance, rule=rule)]
    return []


@check("json_body")
def json_body(ex: Exchange, expect: Expect) -> list[Finding]:
    if not is_json_value(ex.parsed):
        provenance, rule = _json_rule(expect)
        return [Finding("json_body", Severity.BROKEN, f"body is not valid JSON: {ex.snippet(120)!r}", provenance=provenance, rule=rule)]
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


@check("sdk_call")
def sdk_call(ex: Exchange, expect: Expect) -> list[Finding]:
    """The second oracle: the official SDK's method for the route, really called on this answer."""
    return oracle.findings(ex, *expect.route) if expect.route else []


# -- streams ------------------------------------------------------------------------------------------


@check("sse_content_type")
def sse_content_type(ex: Exchange, expect: Expect) -> list[Finding]:
    if ex.content_type != "text/event-stream":
        return [Finding("sse_content_type", Severity.BROKEN, f"asked for a stream, got content type {ex.content_type or 'missing'!r}; body: {ex.snippet(120)!r}",
                        provenance=DOC, rule=Q_SSE)]
    return []


@check("sse_events_json")
def sse_events_json(ex: Exchange, expect: Expect) -> list[Finding]:
    for i, value in ex.event_values:
        if value is None:
            return [Finding("sse_events_json", Severity.BROKEN, f"event {i} data is not JSON: {ex.events[i].data[:120]!r}", f"$events[{i}]", DOC, Q_CHUNKS)]
        if isinstance(value, dict) and "error" in value:
            message = value["error"].get("message") if isinstance(value["error"], dict) else value["error"]
            return [Finding("sse_events_json", Severity.BROKEN, f"error event in the stream: {str(message)[:200]!r}", f"$events[{i}]", SDK,
                            f"{oracle.SDK}: its stream decoder raises APIError on an event whose JSON has an error key")]
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
        if any(f.provenance in (DOC, INF) for f in out):
            break
    return out


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


BURST_WAIT = 0.3  # seconds before the first byte that make a burst worth saying (a fast mock answers at once anyway)


@check("sse_incremental")
def sse_incremental(ex: Exchange, expect: Expect) -> list[Finding]:
    """A stream whose events all came at once, after the whole answer was ready, is conforming but defeats
    streaming (a gateway buffering upstream's stream): a warning. Only where arrival times are known
    (live, or a recording that kept them)."""
    times = ex.arrivals or []
    if len(ex.events) < 3 or len(times) < 1:
        return []
    wait, spread = times[0], times[-1] - times[0]
    if wait >= BURST_WAIT and spread < 0.1 * wait:
        return [Finding("sse_incremental", Severity.WARNING, f"the stream arrived in one burst: {len(ex.events)} events within {spread * 1000:.0f} ms, "
                        f"after {wait:.2f} s of nothing (conforming, but a client shows nothing until the answer is complete)", provenance=UP,
                        rule=f"{Q_SSE} (our reading: chunks as they are generated)")]
    return []


@check("reasoning_seen")
def reasoning_seen(ex: Exchange, expect: Expect) -> list[Finding]:
    """A model that returns its reasoning (reasoning_content / reasoning, in messages or deltas): recorded as
    seen, a note that decides nothing, never guessed."""
    found = {}
    for choice in _body(ex).get("choices") or [] if not ex.events else []:
        for key in ("reasoning_content", "reasoning"):
            value = ((choice or {}).get("message") or {}).get(key) if isinstance(choice, dict) else None
            if isinstance(value, str) and value:
                found[key] = found.get(key, 0) + len(value)
    for _, value in ex.event_values if ex.events else []:
        for choice in (value or {}).get("choices") or [] if isinstance(value, dict) else []:
            for key in ("reasoning_content", "reasoning"):
                part = ((choice or {}).get("delta") or {}).get(key)
                if isinstance(part, str) and part:
                    found[key] = found.get(key, 0) + len(part)
    return [Finding("reasoning_seen", Severity.NOTE, f"the answer carries {key} ({n} characters)", provenance=UP, rule="upstream OpenAI-compatible reasoning fields")
            for key, n in sorted(found.items())]


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


def audio_format(content: bytes) -> str | None:
    """The audio format these bytes are (by their first bytes), or None; pcm has no header and is never guessed."""
    return next((name for name, (_, magic) in AUDIO_FORMATS.items() if name != "pcm" and magic(content)), None)


@check("binary_audio")
def binary_audio(ex: Exchange, expect: Expect) -> list[Finding]:
    """Audio bytes, not a JSON error wearing a 200. Which format is the effect's question (the page:
    "Supported voices and formats depend on the selected model"): another valid format is `ignored` there."""
    asked = _asked(ex, "response_format", "mp3")
    if ex.content_type in ("application/json", "text/html", "text/plain") or not ex.content:
        return [Finding("binary_audio", Severity.BROKEN, f"asked for {asked} audio, got {ex.content_type or 'no content type'} ({len(ex.content)} bytes): {ex.snippet(100)!r}",
                        provenance=INF, rule=Q_SPEECH)]
    if asked == "pcm" or (asked in AUDIO_FORMATS and AUDIO_FORMATS[asked][1](ex.content)):
        types, _ = AUDIO_FORMATS.get(asked, AUDIO_FORMATS["mp3"])
        if ex.content_type not in types and ex.content_type != "application/octet-stream":
            return [Finding("binary_audio", Severity.WARNING, f"{asked} bytes labelled {ex.content_type!r}", provenance=UP)]
        return []
    if audio_format(ex.content) is None:
        return [Finding("binary_audio", Severity.NONCONFORMING, f"asked for {asked}, the bytes are no audio format: they start {ex.content[:8]!r} (content type {ex.content_type})",
                        provenance=INF, rule=Q_SPEECH)]
    return []


@check("text_body")
def text_body(ex: Exchange, expect: Expect) -> list[Finding]:
    """A text format asked: a transcript, as text or (ignored there, see the effect) as a JSON transcription."""
    if ex.content_type == "text/plain" or (ex.content_type == "application/json" and isinstance(_body(ex).get("text"), str)):
        return []
    return [Finding("text_body", Severity.BROKEN, f"asked for a transcript, got content type {ex.content_type or 'missing'!r}: {ex.snippet(100)!r}",
                    provenance=INF, rule=Q_TRANSCRIPT)]


# -- what the request asked for (operations declare these in their tables' `checks`) ------------------


@check("one_vector_per_input")
def one_vector_per_input(ex: Exchange, expect: Expect) -> list[Finding]:
    data = _body(ex).get("data") if isinstance(_body(ex).get("data"), list) else None
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


@check("vectors_same_length")
def vectors_same_length(ex: Exchange, expect: Expect) -> list[Finding]:
    """One model embeds every input into the same space: vectors of one answer have one length."""
    sizes = [len(d["embedding"]) for d in _body(ex).get("data") or [] if isinstance(d, dict) and isinstance(d.get("embedding"), list)]
    if len(set(sizes)) > 1:
        return [Finding("vectors_same_length", Severity.NONCONFORMING, f"vectors of lengths {sizes} in one answer", "$.data", INT,
                        "integrity: every vector one model returns for one request has the same length")]
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
                                f"$.data[{i}].embedding", INF, Q_BASE64)]
    return []


@check("images_usable")
def images_usable(ex: Exchange, expect: Expect) -> list[Finding]:
    """Each image a client can use: a url or a b64_json; a url absolute, a b64_json base64. Which of the
    two came is the response_format effect's question (the page: "Response format when supported")."""
    data = _body(ex).get("data") if isinstance(_body(ex).get("data"), list) else []
    for i, item in enumerate(data):
        item = item if isinstance(item, dict) else {}
        url, b64 = item.get("url"), item.get("b64_json")
        if not (isinstance(url, str) and url) and not (isinstance(b64, str) and b64):
            return [Finding("images_usable", Severity.NONCONFORMING, f"data[{i}] carries no image (neither url nor b64_json)", f"$.data[{i}]", INT,
                            "integrity: an image generation answers an image for each item it returns")]
        if isinstance(url, str) and url and not _absolute_url(url):
            return [Finding("images_usable", Severity.NONCONFORMING, f"data[{i}].url is not an absolute http(s) or data: URL: {url[:60]!r}", f"$.data[{i}].url", INF, Q_IMAGE_URL)]
        if isinstance(b64, str) and b64 and _image_bytes(b64) is None:
            return [Finding("images_usable", Severity.NONCONFORMING, f"data[{i}].b64_json does not decode as base64: {b64[:30]!r}", f"$.data[{i}].b64_json", INF, Q_IMAGE_URL)]
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


@check("one_result_per_input")
def one_result_per_input(ex: Exchange, expect: Expect) -> list[Finding]:
    results, asked = _body(ex).get("results"), _asked(ex, "input")
    if not isinstance(results, list) or asked is None:
        return []
    wanted = len(asked) if isinstance(asked, list) else 1
    if len(results) != wanted:
        return [Finding("one_result_per_input", Severity.NONCONFORMING, f"{wanted} input(s), {len(results)} result(s)", "$.results", INT,
                        "integrity: a moderation answers one result per input, in order")]
    return []


@check("flagged_agrees")
def flagged_agrees(ex: Exchange, expect: Expect) -> list[Finding]:
    """`flagged` says whether any category is: an answer that says both misleads whoever acts on it."""
    for i, result in enumerate(_body(ex).get("results") or []):
        if not isinstance(result, dict) or not isinstance(result.get("categories"), dict) or not isinstance(result.get("flagged"), bool):
            continue
        any_category = any(v is True for v in result["categories"].values())
        if result["flagged"] != any_category:
            return [Finding("flagged_agrees", Severity.NONCONFORMING, f"results[{i}].flagged is {result['flagged']} but {'a' if any_category else 'no'} category is flagged",
                            f"$.results[{i}].flagged", INT, "integrity: flagged is true exactly when a category is flagged")]
    return []


# -- chat: the answer against the request and itself -------------------------------------------------


def tool_calls_of(ex: Exchange) -> list[dict]:
    """The tool calls of an answer as a client sees them: a message's calls, or the streamed deltas
    assembled by index the way the SDK assembles them (name and arguments concatenated per index)."""
    if not ex.events:
        return [{"id": c.get("id"), "name": (c.get("function") or {}).get("name"), "arguments": (c.get("function") or {}).get("arguments")}
                for ch in _body(ex).get("choices") or [] if isinstance(ch, dict)
                for c in ((ch.get("message") or {}).get("tool_calls") or []) if isinstance(c, dict)]
    calls: dict = {}
    for _, value in ex.event_values:
        for choice in (value or {}).get("choices") or [] if isinstance(value, dict) else []:
            for delta in ((choice or {}).get("delta") or {}).get("tool_calls") or []:
                if not isinstance(delta, dict):
                    continue
                call = calls.setdefault(delta.get("index", 0), {"id": None, "name": "", "arguments": ""})
                call["id"] = delta.get("id") or call["id"]
                function = delta.get("function") or {}
                call["name"] += function.get("name") or ""
                call["arguments"] += function.get("arguments") or ""
    return list(calls.values())


def finish_reasons(ex: Exchange) -> set:
    if ex.events:
        return {(ch or {}).get("finish_reason") for _, v in ex.event_values if isinstance(v, dict) for ch in v.get("choices") or []}
    return {(ch or {}).get("finish_reason") for ch in _body(ex).get("choices") or [] if isinstance(ch, dict)}


def cut_by_cap(ex: Exchange) -> bool:
    """The answer ended at the request's own max_tokens (finish_reason length, or exactly the allowed
    tokens used): what it did not finish is the suite's doing, not the server's. (An answer longer than
    the cap was not cut by it.)"""
    if "length" in finish_reasons(ex):
        return True
    usage = _body(ex).get("usage") if not ex.events else next((v["usage"] for _, v in reversed(ex.event_values) if isinstance(v, dict) and isinstance(v.get("usage"), dict)), None)
    tokens, cap = (usage or {}).get("completion_tokens"), _asked(ex, "max_tokens")
    return isinstance(tokens, int) and isinstance(cap, int) and tokens == cap


def _offered(ex: Exchange) -> list[str]:
    return [(t.get("function") or {}).get("name") for t in _asked(ex, "tools") or [] if isinstance(t, dict)]


@check("choices_indexed")
def choices_indexed(ex: Exchange, expect: Expect) -> list[Finding]:
    choices = _body(ex).get("choices")
    if ex.events or not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        return []
    indexes = [c.get("index") for c in choices]
    if indexes != list(range(len(choices))):
        return [Finding("choices_indexed", Severity.NONCONFORMING, f"choices[].index is {indexes}, expected {list(range(len(choices)))}", "$.choices", INT,
                        "integrity: each choice names its own index, 0 to n-1, as clients look them up")]
    return []


@check("tool_calls_offered")
def tool_calls_offered(ex: Exchange, expect: Expect) -> list[Finding]:
    """A tool call names a tool the request offered: a client dispatches on the name (streamed calls as
    the SDK assembles them, so a name repeated in every delta becomes a name no tool has)."""
    offered = _offered(ex)
    for call in tool_calls_of(ex):
        if call["name"] not in offered:
            how = " (assembled from the streamed deltas by index, as the SDK does)" if ex.events else ""
            return [Finding("tool_calls_offered", Severity.NONCONFORMING, f"a tool call names {str(call['name'])[:60]!r}{how}, a tool the request did not offer "
                            f"(offered: {offered})", "$.choices", INT, "integrity: a tool call names one of the tools the request offered")]
    return []


@check("tool_arguments_json")
def tool_arguments_json(ex: Exchange, expect: Expect) -> list[Finding]:
    """A tool call's arguments parse as JSON (a client runs the call with them); arguments cut by the
    request's own max_tokens are not the server's fault (the effect says unverified)."""
    if cut_by_cap(ex):
        return []
    for call in tool_calls_of(ex):
        try:
            json.loads(call["arguments"] or "")
        except (TypeError, ValueError):
            return [Finding("tool_arguments_json", Severity.NONCONFORMING, f"the call of {str(call['name'])[:40]!r} has arguments that do not parse as JSON: "
                            f"{str(call['arguments'])[:60]!r}", "$.choices", INT, "integrity: tool-call arguments are a JSON object the client can run the call with")]
    return []


@check("usage_adds_up")
def usage_adds_up(ex: Exchange, expect: Expect) -> list[Finding]:
    usages = [_body(ex).get("usage")] if not ex.events else [v.get("usage") for _, v in ex.event_values if isinstance(v, dict)]
    for usage in usages:
        if not isinstance(usage, dict):
            continue
        p, c, t = (usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens"))
        if all(isinstance(x, int) and not isinstance(x, bool) for x in (p, c, t)) and p + c != t:
            return [Finding("usage_adds_up", Severity.NONCONFORMING, f"usage.total_tokens {t} is not prompt {p} + completion {c}", "$.usage", INT,
                            "integrity: total_tokens is prompt_tokens + completion_tokens (what a client bills by)")]
    return []


@check("answers_the_tool_result")
def answers_the_tool_result(ex: Exchange, expect: Expect) -> list[Finding]:
    """After a tool message the model answers the conversation: an assistant message with content or tool calls."""
    messages = _asked(ex, "messages") or []
    if not messages or not isinstance(messages[-1], dict) or messages[-1].get("role") != "tool":
        return []
    if ex.events:
        text = "".join(((ch or {}).get("delta") or {}).get("content") or "" for _, v in ex.event_values if isinstance(v, dict) for ch in v.get("choices") or [])
    else:
        text = "".join(((ch or {}).get("message") or {}).get("content") or "" for ch in _body(ex).get("choices") or [] if isinstance(ch, dict)
                       if isinstance(((ch or {}).get("message") or {}).get("content"), str))
    if not text and not tool_calls_of(ex) and not cut_by_cap(ex):
        return [Finding("answers_the_tool_result", Severity.NONCONFORMING, "the answer to a tool result has neither content nor tool calls", "$.choices", INT,
                        "integrity: after a tool message the answer is an assistant message with content or tool calls")]
    return []


@check("models_listed_once")
def models_listed_once(ex: Exchange, expect: Expect) -> list[Finding]:
    ids = [m.get("id") for m in _body(ex).get("data") or [] if isinstance(m, dict)]
    twice = sorted({i for i in ids if ids.count(i) > 1 and isinstance(i, str)})
    if twice:
        return [Finding("models_listed_once", Severity.NONCONFORMING, f"the model list names {twice} more than once", "$.data", INT,
                        "integrity: a model id names one model (clients pick by id)")]
    return []


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


NON_STREAM_CHECKS = ("transport_complete", "content_type_json", "json_body", "response_schema", "sdk_call")
STREAM_CHECKS = ("transport_complete", "sse_content_type", "sse_events_json", "sse_chunk_schema", "sdk_call", "sse_done", "sse_usage_near_end", "sse_incremental")
BINARY_CHECKS = ("transport_complete", "sdk_call")
TEXT_CHECKS = ("transport_complete", "text_body", "sdk_call")
ANY_CHECKS = ("transport_complete", "sdk_call")


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
    return _decided(Assessment(Verdict.SUPPORTED, f"HTTP {ex.status}, conforms", findings, strict), ex)


def _decided(result: Assessment, ex: Exchange) -> Assessment:
    first = result.first_violation
    if first is not None:
        result.verdict = Verdict.BROKEN if first.severity is Severity.BROKEN else Verdict.NONCONFORMING
        result.reason = f"HTTP {ex.status}, {first.message}" + (f" at {first.path}" if first.path and first.path != "$" else "")
    elif result.warnings and any(f.provenance is UP for f in result.warnings):
        result.reason += f" ({sum(f.provenance is UP for f in result.warnings)} upstream deviation(s))"
    return result


def assess_rejection(ex: Exchange, expect: Expect, rule: Finding, statuses: tuple[int, ...] | None = None, auth: bool = False, strict: bool = False,
                     security: bool = False) -> Assessment:
    """The verdict of a request that must be refused. `rule` says why it must be refused and where that
    comes from: a 2xx is `accepted` when the page forbids the request (`security`: a request without
    valid credentials answered: a security finding), `lenient` when only upstream OpenAI refuses it, or
    when it is a credential form the page lists among its common mistakes (the valid key, sent another
    way: a finding, not a security one). A 5xx is `broken` whatever the rule. A refusal is `rejected`;
    the wrong status (`statuses`, an upstream rule) and a refusal without OpenAI's envelope are findings
    that decide only with --strict."""
    wanted = "HTTP " + "/".join(map(str, statuses)) if statuses else "a 4xx"
    if ex.status is None:
        return Assessment(Verdict.BROKEN, f"no answer: {ex.error}", [Finding("transport_complete", Severity.BROKEN, ex.error or "no answer", provenance=HTTP, rule=NO_ANSWER)], strict)
    if 200 <= ex.status < 300:
        what = "answered without valid credentials (security finding)" if security else ("accepted a credential form the page calls a mistake" if auth else "accepted a request the contract forbids")
        finding = Finding("rejected", Severity.NONCONFORMING, f"HTTP {ex.status}: {what}: {rule.message}", provenance=rule.provenance, rule=rule.rule)
        if finding.decides(strict) and (security or not auth):
            return Assessment(Verdict.ACCEPTED, finding.message, [finding], strict, security=security)
        lenient = Finding("rejected", Severity.WARNING, f"HTTP {ex.status}: {what if auth else 'accepted what only upstream OpenAI refuses'}: {rule.message}",
                          provenance=rule.provenance, rule=rule.rule)
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
        findings.append(Finding("rejected", Severity.NONCONFORMING, "the refusal carries model output (choices)", "$.choices", rule.provenance, rule.rule))
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


@dataclass(frozen=True)
class Rules:
    """The rule set every answer of a run is judged by, made once: strict (upstream rules decide too) or
    not, and the secrets whose reflection in any answer is a security finding (checked on every exchange)."""

    strict: bool = False
    secrets: tuple[str, ...] = ()

    def judge(self, ex: Exchange, expect: Expect, *more: Finding) -> Assessment:
        """An answer to a valid request; `more`: findings of the caller's own (an SDK run that raised)."""
        result = assess(ex, expect, self.strict)
        if more and ex.status is not None and 200 <= ex.status < 300:
            result = _decided(Assessment(Verdict.SUPPORTED, f"HTTP {ex.status}, conforms", [*result.findings, *more], self.strict), ex)
        return self._reflected(ex, result)

    def judge_rejection(self, ex: Exchange, rule: Finding, statuses: tuple[int, ...] | None = None, auth: bool = False, security: bool = False) -> Assessment:
        """An answer to a request that must be refused (see assess_rejection)."""
        return self._reflected(ex, assess_rejection(ex, Expect(), rule, statuses, auth=auth, strict=self.strict, security=security))

    def _reflected(self, ex: Exchange, result: Assessment) -> Assessment:
        leaked = credential_reflected(ex, self.secrets)
        if leaked:
            result.findings, result.security = [*leaked, *result.findings], True
            if result.verdict in (Verdict.SUPPORTED, Verdict.UNVERIFIED, Verdict.IGNORED, Verdict.REJECTED, Verdict.LENIENT):
                result.verdict, result.reason = Verdict.NONCONFORMING, f"HTTP {ex.status}, {leaked[0].message}"
        return result


__all__ = ["Assessment", "CHECKS", "Expect", "Finding", "Provenance", "Rules", "Severity", "Verdict", "assess", "assess_rejection", "worst"]
