"""The official `openai` SDK as an oracle: its real call path, on the recorded answer.

The SDK does not validate answers (measured with openai 3.54.0: `chat.completions.create` hands back a
ChatCompletion without `choices`, keeps `content: 5` and `created: "2024"`, and `models.list()` returns
a Model whose missing `created` is None). So "the SDK cannot use it" is decided by doing what client
code does: the SDK method for the route is called, with the request's own parameters, over a transport
that answers with the recorded response; a stream is iterated the way the page's example iterates it
(and assembled with the SDK's own ChatCompletionStreamState when tools were offered); then the fields
client code reads are read, with the types the SDK declares. What a client would hit decides:
  - the SDK call or a read raises                        -> a finding that says what raised
  - a field client code reads holds another type        -> a finding that says which and what it holds
A field the SDK's type declares but client code does not read (a missing `created`) is handed over
unchecked: a warning that says so, deciding only with --strict-upstream.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import inspect
import json
import re
import struct
import threading
import types
import typing
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import httpx2
import openai
import openai.pagination  # a submodule `import openai` alone does not load: without it, which answer reads a listing would depend on test order
import pydantic
from openai.lib.streaming.chat import ChatCompletionStreamState

from anyint_conformance.model.verdicts import Finding, Provenance, Severity
from anyint_conformance.wire.transport import Exchange

SDK = f"openai {openai.__version__}"
NUMBER = (int, float)


def sdk_version() -> str:
    return openai.__version__


def decode_float32(text: str) -> list[float]:
    """A base64 embedding as the SDK decodes it: little-endian float32 values. ValueError when it cannot be."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not base64 ({exc})") from None
    if not raw or len(raw) % 4:
        raise ValueError(f"{len(raw)} bytes is not a whole number of float32 values")
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


@dataclass(frozen=True)
class Read:
    """A field client code reads: a path (`[0]` an index, `[*]` every item, `?` stop quietly where the
    value is absent, as a client that checks first would), and the types the SDK declares for it."""

    path: str
    types: tuple
    floats: bool = False  # a list that must hold numbers (an embedding)


def _r(path: str, *kinds, floats: bool = False) -> Read:
    return Read(path, tuple(type(None) if k is None else k for k in kinds), floats)


# -- how client code calls each route and what it reads -----------------------------------------------

CHAT_READS = (
    _r("choices[0].message.content", str, None),
    _r("choices[*].message.role", str),
    _r("choices[*].finish_reason", str, None),
    _r("choices[*].message.tool_calls?[*].id", str),
    _r("choices[*].message.tool_calls?[*].function.name", str),
    _r("choices[*].message.tool_calls?[*].function.arguments", str),
    _r("usage?.prompt_tokens", int),
    _r("usage?.completion_tokens", int),
    _r("usage?.total_tokens", int),
)
# each chunk, as the page's example reads it (choices[0] without a guard), then what stream clients read
CHUNK_READS = (
    _r("choices[0].delta.content", str, None),
    _r("choices[*].delta.tool_calls?[*].index", int),
    _r("choices[*].delta.tool_calls?[*].function?.name", str, None),
    _r("choices[*].delta.tool_calls?[*].function?.arguments", str, None),
    _r("choices[*].finish_reason", str, None),
)
# a usage-only chunk the request asked for (stream_options.include_usage) has no choices: read it guarded
GUARDED_CHUNK_READS = tuple(_r(r.path.replace("choices[0]", "choices?[*]", 1), *r.types) for r in CHUNK_READS)
ASSEMBLED_READS = (_r("choices[*].message.tool_calls?[*].function.name", str), _r("choices[*].message.tool_calls?[*].function.arguments", str))
ID = (_r("id", str),)
DELETED = (_r("id", str), _r("deleted", bool))
LISTED = (_r("data[*].id", str),)
FILE = (_r("id", str), _r("bytes", int), _r("filename", str), _r("purpose", str))
BATCH = (_r("id", str), _r("status", str), _r("output_file_id", str, None), _r("request_counts?.total", int))
RUN = (_r("id", str), _r("status", str), _r("thread_id", str), _r("assistant_id", str))
MESSAGE = (_r("id", str), _r("role", str), _r("content[*].type", str), _r("content[*].text?.value", str))
VIDEO = (_r("id", str), _r("status", str))
BINARY = (_r("content", bytes),)


def _transcription_reads(body: dict) -> tuple[Read, ...]:
    # text formats: the SDK hands back the body as a string; json formats: a Transcription's text
    return (_r("", str),) if body.get("response_format") in ("text", "srt", "vtt") else (_r("text", str),)


def _embedding_reads(body: dict) -> tuple[Read, ...]:
    # the SDK asks for base64 by default and decodes it; a format asked explicitly is handed over as it came
    # base64 asked: a string, or a float list (another valid format: `ignored` is the effect's to say)
    vector = _r("data[*].embedding", str, list, floats=True) if body.get("encoding_format") == "base64" else _r("data[*].embedding", list, floats=True)
    return (vector, _r("data[*].index", int), _r("usage?.prompt_tokens", int))


def _moderation_reads(body: dict) -> tuple[Read, ...]:
    categories = openai.types.moderation.Categories.model_fields
    return (_r("results[*].flagged", bool), *(_r(f"results[*].categories.{name}", bool, None) for name in categories),
            *(_r(f"results[*].category_scores.{name}", *NUMBER, None) for name in categories))


def _upload(name: str) -> tuple[str, bytes]:
    return (name, b"")  # the answer is recorded: what the SDK would upload plays no part


def _call(method: Callable, body: dict, *args):
    """The SDK method called with the request's fields as its keyword arguments (any field it does not
    know goes as extra_body, as a client passes fields the SDK has no argument for)."""
    params = inspect.signature(method).parameters
    known = {k: v for k, v in body.items() if k in params}
    extra = {k: v for k, v in body.items() if k not in params}
    # a required argument the recorded request did not carry plays no part in reading the answer
    missing = {name: None for name, p in params.items() if p.kind is p.KEYWORD_ONLY and p.default is p.empty and name not in known}
    return method(*args, **known, **missing, **({"extra_body": extra} if extra else {}))


def _form(body: dict) -> dict:
    """A multipart body as evidence shows it: the form fields without the uploads' placeholders."""
    return {k: v for k, v in body.items() if not (isinstance(v, str) and v.startswith("<") and " bytes " in v)}


# (method, path) -> (the SDK method as client code calls it, the call: client, body, path arguments -> its
# return value, the reads)
CALLS: dict[tuple[str, str], tuple[str, Callable, Any]] = {
    ("POST", "/embeddings"): ("embeddings.create", lambda c, b, a: _call(c.embeddings.create, b), _embedding_reads),
    ("POST", "/images/generations"): ("images.generate", lambda c, b, a: _call(c.images.generate, b), (_r("data?[*].url", str, None), _r("data?[*].b64_json", str, None))),
    ("POST", "/audio/speech"): ("audio.speech.create", lambda c, b, a: _call(c.audio.speech.create, b), BINARY),
    ("POST", "/audio/transcriptions"): ("audio.transcriptions.create", lambda c, b, a: _call(c.audio.transcriptions.create, {**_form(b), "file": _upload("clip.wav")}), _transcription_reads),
    ("POST", "/audio/translations"): ("audio.translations.create", lambda c, b, a: _call(c.audio.translations.create, {**_form(b), "file": _upload("clip.wav")}), _transcription_reads),
    ("POST", "/moderations"): ("moderations.create", lambda c, b, a: _call(c.moderations.create, b), _moderation_reads),
    ("POST", "/files"): ("files.create", lambda c, b, a: _call(c.files.create, {**_form(b), "file": _upload("file.jsonl")}), FILE),
    ("GET", "/files"): ("files.list", lambda c, b, a: c.files.list(), LISTED),
    ("GET", "/files/{file_id}"): ("files.retrieve", lambda c, b, a: c.files.retrieve(a["file_id"]), FILE),
    ("DELETE", "/files/{file_id}"): ("files.delete", lambda c, b, a: c.files.delete(a["file_id"]), DELETED),
    ("GET", "/files/{file_id}/content"): ("files.content", lambda c, b, a: c.files.content(a["file_id"]), BINARY),
    ("POST", "/batches"): ("batches.create", lambda c, b, a: _call(c.batches.create, b), BATCH),
    ("GET", "/batches"): ("batches.list", lambda c, b, a: c.batches.list(), LISTED),
    ("GET", "/batches/{batch_id}"): ("batches.retrieve", lambda c, b, a: c.batches.retrieve(a["batch_id"]), BATCH),
    ("POST", "/batches/{batch_id}/cancel"): ("batches.cancel", lambda c, b, a: c.batches.cancel(a["batch_id"]), BATCH),
    ("POST", "/assistants"): ("beta.assistants.create", lambda c, b, a: _call(c.beta.assistants.create, b), (_r("id", str), _r("model", str), _r("instructions", str, None))),
    ("GET", "/assistants"): ("beta.assistants.list", lambda c, b, a: c.beta.assistants.list(), LISTED),
    ("GET", "/assistants/{assistant_id}"): ("beta.assistants.retrieve", lambda c, b, a: c.beta.assistants.retrieve(a["assistant_id"]), (_r("id", str), _r("model", str))),
    ("DELETE", "/assistants/{assistant_id}"): ("beta.assistants.delete", lambda c, b, a: c.beta.assistants.delete(a["assistant_id"]), DELETED),
    ("POST", "/threads"): ("beta.threads.create", lambda c, b, a: _call(c.beta.threads.create, b), ID),
    ("GET", "/threads/{thread_id}"): ("beta.threads.retrieve", lambda c, b, a: c.beta.threads.retrieve(a["thread_id"]), ID),
    ("DELETE", "/threads/{thread_id}"): ("beta.threads.delete", lambda c, b, a: c.beta.threads.delete(a["thread_id"]), DELETED),
    ("POST", "/threads/{thread_id}/messages"): ("beta.threads.messages.create", lambda c, b, a: _call(c.beta.threads.messages.create, b, a["thread_id"]), MESSAGE),
    ("GET", "/threads/{thread_id}/messages"): ("beta.threads.messages.list", lambda c, b, a: c.beta.threads.messages.list(a["thread_id"]), LISTED),
    ("POST", "/threads/{thread_id}/runs"): ("beta.threads.runs.create", lambda c, b, a: _call(c.beta.threads.runs.create, b, a["thread_id"]), RUN),
    ("GET", "/threads/{thread_id}/runs/{run_id}"): ("beta.threads.runs.retrieve", lambda c, b, a: c.beta.threads.runs.retrieve(a["run_id"], thread_id=a["thread_id"]), RUN),
    ("POST", "/videos"): ("videos.create", lambda c, b, a: _call(c.videos.create, b), VIDEO),
    ("GET", "/videos"): ("videos.list", lambda c, b, a: c.videos.list(), LISTED),
    ("GET", "/videos/{video_id}"): ("videos.retrieve", lambda c, b, a: c.videos.retrieve(a["video_id"]), VIDEO),
    ("DELETE", "/videos/{video_id}"): ("videos.delete", lambda c, b, a: c.videos.delete(a["video_id"]), DELETED),
    ("GET", "/videos/{video_id}/content"): ("videos.download_content", lambda c, b, a: c.videos.download_content(a["video_id"]), BINARY),
    ("GET", "/models"): ("models.list", lambda c, b, a: c.models.list(), LISTED),
}


# -- the client, answering from the recorded response --------------------------------------------------

_local = threading.local()


def _client() -> openai.OpenAI:
    """One SDK client per thread whose transport answers with the exchange being judged (no retries)."""
    if getattr(_local, "client", None) is None:
        def answer(request):
            ex: Exchange = _local.exchange
            headers = [(k, v) for k, v in ex.headers.items() if k not in ("content-length", "content-encoding", "transfer-encoding")]
            return httpx2.Response(ex.status, headers=headers, content=ex.content, request=request)

        _local.client = openai.OpenAI(api_key="replayed", base_url="http://recorded.invalid/v1", max_retries=0,
                                      http_client=openai.DefaultHttpxClient(transport=httpx2.MockTransport(answer)))
    return _local.client


def _args(template: str, url: str) -> dict:
    """The path arguments of `url` for a template such as /files/{file_id}."""
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/?]+)", re.escape(template)) + r"(?:\?|$)"
    found = re.search(pattern, url)
    return found.groupdict() if found else {}


# -- judging one exchange ---------------------------------------------------------------------------------


def findings(ex: Exchange, method: str, path: str) -> list[Finding]:
    """What the official SDK makes of this 2xx answer, called as client code calls it (see module doc)."""
    key = CACHE.key(ex, method, path) if CACHE.entries is not None else None
    if key is not None and key in CACHE.entries:
        return [Finding(f["check"], Severity(f["severity"]), f["message"], f["path"], Provenance(f["provenance"]), f.get("rule")) for f in CACHE.entries[key]]
    body = ex.body if isinstance(ex.body, dict) else {}
    _local.exchange = ex
    with warnings.catch_warnings():  # the SDK's own notices (a deprecated API) are not findings
        warnings.simplefilter("ignore", DeprecationWarning)
        found = _findings(ex, body, method, path)
    if key is not None:
        CACHE.add(key, [f.to_dict() for f in found])
    return found


class FindingsCache:
    """The oracle's findings on replay, keyed by everything they depend on: the request (method, URL, body),
    the recorded answer (status, headers, bytes), the SDK's version and this module's own source. A replay
    of unchanged cassettes with an unchanged SDK and oracle gets the very findings the SDK call gave, without
    calling it again; any change to one of them is a new key. Off unless `open` is called (replay only)."""

    def __init__(self):
        self.entries: dict[str, list] | None = None
        self.path = None
        self._new = 0
        self._lock = threading.Lock()
        self._salt = hashlib.sha256(openai.__version__.encode() + b"\0" + Path(__file__).read_bytes()).hexdigest()

    def open(self, path) -> None:
        self.path = Path(path)
        try:
            data = json.loads(self.path.read_text())
            self.entries = data["entries"] if data.get("salt") == self._salt else {}
        except (OSError, ValueError, KeyError, TypeError):
            self.entries = {}

    def key(self, ex: Exchange, method: str, path: str) -> str:
        digest = hashlib.sha256()
        for part in (method, path, ex.url, json.dumps(ex.body, sort_keys=True, default=str), str(ex.status),
                     json.dumps(sorted(ex.headers.items()))):
            digest.update(part.encode() + b"\0")
        digest.update(ex.content)
        return digest.hexdigest()

    def add(self, key: str, found: list) -> None:
        with self._lock:
            self.entries[key] = found
            self._new += 1

    def save(self) -> None:
        """Written atomically, and only when this run added to it (concurrent writers: the last one wins;
        the other's new entries are only computed again next time)."""
        if self.entries is None or not self._new or self.path is None:
            return
        from anyint_conformance.model.paths import write_atomic

        with self._lock:
            write_atomic(self.path, json.dumps({"salt": self._salt, "entries": self.entries}))
            self._new = 0


CACHE = FindingsCache()


def _findings(ex: Exchange, body: dict, method: str, path: str) -> list[Finding]:
    try:
        if (method, path) == ("POST", "/chat/completions"):
            return _chat(body, ex)
        if (method, path) not in CALLS:
            return []
        name, call, reads = CALLS[(method, path)]
        try:
            result = call(_client(), body, _args(path, ex.url))
            if isinstance(result, openai.pagination.SyncPage | openai.pagination.SyncCursorPage | getattr(openai.pagination, "SyncConversationCursorPage", tuple)):
                result = _Listing(result.data)  # the first page: further pages would ask the recording again
            elif hasattr(result, "read") and hasattr(result, "content") and not isinstance(result, pydantic.BaseModel):
                result = _Binary(result.content)
        except Exception as exc:  # noqa: BLE001 - what the SDK raises is the finding
            return [_raised(name, exc)]
        reads = reads(body) if callable(reads) else reads
        return _read_all(result, reads, name, "$") + _declared(result, name)
    finally:
        _local.exchange = None


@dataclass
class _Listing:
    data: list


@dataclass
class _Binary:
    content: bytes


def _chat(body: dict, ex: Exchange) -> list[Finding]:
    create = _client().chat.completions.create
    if not body.get("stream"):
        try:
            response = _call(create, body)
        except Exception as exc:  # noqa: BLE001
            return [_raised("chat.completions.create", exc)]
        return _read_all(response, CHAT_READS, "chat.completions.create", "$") + _declared(response, "chat.completions.create")
    usage_asked = bool((body.get("stream_options") or {}).get("include_usage"))
    state = ChatCompletionStreamState() if body.get("tools") else None
    out, declared = [], []
    try:
        stream = _call(create, body)
        for i, chunk in enumerate(stream):
            guarded = usage_asked and not getattr(chunk, "choices", None)
            found = _read_all(chunk, GUARDED_CHUNK_READS if guarded else CHUNK_READS, "chat.completions.create(stream=True)", f"$events[{i}]")
            if found:
                if not getattr(chunk, "choices", None) and found[0].message.endswith("IndexError: list index out of range"):
                    found[0] = Finding(found[0].check, found[0].severity, found[0].message + " (a chunk without choices that the request did not ask "
                                       "for: stream_options.include_usage was not set)", found[0].path, found[0].provenance, found[0].rule)
                return found
            declared = declared or _declared(chunk, "chat.completions.create(stream=True)")
            if state is not None:
                state.handle_chunk(chunk)
        if state is not None:
            try:
                final = state.get_final_completion()
            except openai.LengthFinishReasonError:
                # finish_reason "length" is a valid answer (here the request's own max_tokens cut it): the helper
                # refuses to parse a cut answer by design; what client code reads is the assembly so far
                final = state.current_completion_snapshot
            out = _read_all(final, ASSEMBLED_READS, "ChatCompletionStreamState (the SDK's assembly of the streamed tool calls)", "$assembled")
    except Exception as exc:  # noqa: BLE001
        return [_raised("chat.completions.create(stream=True)" + (" with ChatCompletionStreamState" if state is not None else ""), exc)]
    return out + declared


def _raised(name: str, exc: Exception) -> Finding:
    """The SDK call raised: an answer it cannot read as JSON is broken; anything else non-conforming."""
    unreadable = isinstance(exc, json.JSONDecodeError) or "Expected Content-Type" in str(exc) or isinstance(exc, openai.APIError) and not isinstance(exc, openai.APIStatusError)
    text = f"{type(exc).__module__.split('.')[0]}.{type(exc).__name__}" if type(exc).__module__ not in ("builtins",) else type(exc).__name__
    message = f"{SDK}: {name} raises {text}: {' '.join(str(exc).split())[:200]}"
    return Finding("sdk_call", Severity.BROKEN if unreadable else Severity.NONCONFORMING, message, "$", Provenance.SDK, f"{SDK}: {name}, as client code calls it")


def _read_all(value: Any, reads, name: str, where: str) -> list[Finding]:
    """The first read that raises or holds another type than the SDK declares, as a finding."""
    for read in reads:
        problem = _read(value, read)
        if problem is not None:
            shown, text = problem
            kinds = " | ".join("None" if t is type(None) else t.__name__ for t in read.types) + (" of numbers" if read.floats else "")
            message = f"{SDK}: {name}, then `{shown}` {text}"
            path = where + ("." + re.sub(r"\?", "", shown.split(" ")[0]) if shown else "")
            return [Finding("sdk_call", Severity.NONCONFORMING, message, path.replace(".[", "["), Provenance.SDK,
                            f"{SDK}: {name}; client code reads {read.path.replace('?', '') or '(the answer)'} ({kinds})")]
    return []


_TOKEN = re.compile(r"\.?([A-Za-z_]\w*)(\?)?|\[(\d+|\*)\](\?)?")


def _read(value: Any, read: Read) -> tuple[str, str] | None:
    """(the expression as written, what went wrong) for the first value along `read.path` that a client
    would trip on, or None when every value holds a declared type."""
    frontier = [("", value)]
    for match in _TOKEN.finditer(read.path):
        name, optional, index = match.group(1), bool(match.group(2) or match.group(4)), match.group(3)
        nxt = []
        for shown, current in frontier:
            label = f"{shown}.{name}" if name else f"{shown}[{index}]"
            try:
                if name:
                    got = getattr(current, name)
                elif index == "*":
                    nxt += [(f"{shown}[{i}]", item) for i, item in enumerate(current)]  # as client code iterates it
                    continue
                else:
                    got = current[int(index)]
            except Exception as exc:  # noqa: BLE001 - what client code would hit
                return label.lstrip("."), f"raises {type(exc).__name__}: {exc}"
            if not (optional and got is None):  # `name?`: absent is allowed, and nothing below it is read
                nxt.append((label, got))
        frontier = nxt
        if read.path.endswith(match.group(0)) and match.end() == len(read.path):
            break
    for shown, got in frontier:
        shown = shown.lstrip(".")
        if not isinstance(got, read.types) or (isinstance(got, bool) and bool not in read.types):
            return shown, f"is {_show(got)}, not {' | '.join('None' if t is type(None) else t.__name__ for t in read.types)}"
        if read.floats and isinstance(got, list) and not all(isinstance(x, NUMBER) and not isinstance(x, bool) for x in got):
            bad = next(x for x in got if not isinstance(x, NUMBER) or isinstance(x, bool))
            return shown, f"holds {_show(bad)}, not a number"
    return None


def _show(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"[:80] if value is not None else "None"


# -- what the SDK declares and hands over unchecked ------------------------------------------------------


def _declared(value: Any, name: str) -> list[Finding]:
    """The first field the SDK's type declares that the answer leaves out or gives another type: the
    client returns it as it is. A warning (upstream: decides only with --strict-upstream)."""
    items = (value.data or []) if isinstance(value, _Listing) else [value]
    for i, item in enumerate(items):
        if isinstance(item, pydantic.BaseModel):
            found = _mismatch(item, "$" + (f".data[{i}]" if isinstance(value, _Listing) else ""))
            if found:
                path, text = found
                return [Finding("sdk_declared", Severity.NONCONFORMING, f"{SDK}: {name} returns {text} unchecked (handed to client code as it is)",
                                path, Provenance.UPSTREAM, f"{SDK}: the declared type, which the client does not check")]
    return []


def _mismatch(model: pydantic.BaseModel, where: str, depth: int = 0) -> tuple[str, str] | None:
    if depth > 6:
        return None
    fields = type(model).model_fields
    for field_name, info in fields.items():
        value = getattr(model, field_name, None)
        annotation = info.annotation
        given = field_name in (model.model_fields_set or set()) or field_name in model.__dict__
        if value is None and not _allows_none(annotation):
            if info.is_required() or not given:
                if info.is_required():
                    return f"{where}.{field_name}", f"{type(model).__name__}.{field_name} = None (declared {_type_name(annotation)}; the answer has none)"
            continue
        problem = _fits(value, annotation, f"{where}.{field_name}", depth)
        if problem:
            return problem if isinstance(problem, tuple) else (f"{where}.{field_name}", f"{type(model).__name__}.{field_name} = {_show(value)} (declared {_type_name(annotation)})")
    return None


def _allows_none(annotation) -> bool:
    return annotation is type(None) or annotation is Any or (typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in typing.get_args(annotation))


def _fits(value, annotation, where: str, depth: int):
    """False (fits) / True (does not fit here) / (path, text) (a nested field does not fit)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any or annotation is object:
        return False
    if origin in (typing.Union, types.UnionType):
        results = [_fits(value, a, where, depth) for a in args]
        return False if any(r is False for r in results) else next((r for r in results if isinstance(r, tuple)), True)
    if origin is typing.Literal:
        return value not in args
    if origin in (list, typing.List):
        if not isinstance(value, list):
            return True
        for i, item in enumerate(value[:50]):
            r = _fits(item, args[0] if args else Any, f"{where}[{i}]", depth)
            if r:
                return r if isinstance(r, tuple) else (f"{where}[{i}]", f"{where.rsplit('.', 1)[-1]}[{i}] = {_show(item)} (declared {_type_name(args[0])})")
        return False
    if origin in (dict, typing.Dict):
        return not isinstance(value, dict)
    if inspect.isclass(annotation) and issubclass(annotation, pydantic.BaseModel):
        if not isinstance(value, pydantic.BaseModel):
            return True
        return _mismatch(value, where, depth + 1) or False
    if annotation is float:
        return not (isinstance(value, NUMBER) and not isinstance(value, bool))
    if annotation is int:
        return not (isinstance(value, int) and not isinstance(value, bool))
    if inspect.isclass(annotation):
        return not isinstance(value, annotation)
    return False


def _type_name(annotation) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin in (list, typing.List):
        return f"list[{_type_name(args[0]) if args else 'Any'}]"
    return getattr(annotation, "__name__", str(annotation))
