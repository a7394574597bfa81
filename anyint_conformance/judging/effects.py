"""Effects: is an accepted optional parameter honoured? Observed against a control, or unverified.

An effect counts only where the answer without the parameter (the control: the same request without it,
or the request that must show the opposite) would not have shown it: `tool_choice: "none"` only where
the model calls the tool when it is required to; `max_tokens` only where the uncapped answer is longer;
`stop` only where the unstopped answer holds the sequence. An effect returns None when the effect is
observed, a sentence saying what was ignored, or raises Unobservable (the cell is `unverified`). The
suite's own request never decides: an answer cut by its own max_tokens shows nothing.

With --trials K an effect cell is judged K times; supported needs K of K, all ignored is ignored, and
anything between is `flaky` with its count (k/K), never a silent flip of the matrix.
"""

from __future__ import annotations

import json
from typing import Callable

from anyint_conformance.judging import oracle
from anyint_conformance.judging.checks import AUDIO_FORMATS, audio_format, cut_by_cap, tool_calls_of
from anyint_conformance.wire.transport import Exchange

Effect = Callable[[dict, Exchange, "Exchange | None"], "str | None"]
EFFECTS: dict[str, Effect] = {}
NEEDS_CONTROL: set[str] = set()  # effects that cannot be judged without their control answer


class Unobservable(Exception):
    """This answer (or its control) cannot show the effect either way: neither honoured nor ignored."""


def effect(name: str, control: bool = True) -> Callable[[Effect], Effect]:
    def register(fn: Effect) -> Effect:
        EFFECTS[name] = fn
        if control:
            NEEDS_CONTROL.add(name)
        return fn

    return register


def _body(ex: Exchange) -> dict:
    return ex.parsed if isinstance(ex.parsed, dict) else {}


def chat_text(ex: Exchange) -> str:
    if ex.events:
        return "".join(((ch or {}).get("delta") or {}).get("content") or "" for _, v in ex.event_values if isinstance(v, dict) for ch in v.get("choices") or [])
    parts = [((c or {}).get("message") or {}).get("content") for c in _body(ex).get("choices") or [] if isinstance(c, dict)]
    return "".join(p for p in parts if isinstance(p, str))


def _completion_tokens(ex: Exchange) -> int | None:
    usage = _body(ex).get("usage")
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    return tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None


@effect("max_tokens_bounds_completion")
def max_tokens_bounds_completion(request: dict, ex: Exchange, control: Exchange) -> str | None:
    tokens, uncapped = _completion_tokens(ex), _completion_tokens(control)
    if tokens is None or uncapped is None:
        raise Unobservable("no usage.completion_tokens to compare with max_tokens")
    if uncapped <= request["max_tokens"]:
        raise Unobservable(f"without the cap the answer is already {uncapped} token(s), within max_tokens {request['max_tokens']}: the cap cannot show")
    return f"usage.completion_tokens {tokens} > max_tokens {request['max_tokens']}" if tokens > request["max_tokens"] else None


@effect("stop_sequence_absent")
def stop_sequence_absent(request: dict, ex: Exchange, control: Exchange) -> str | None:
    stops = request["stop"] if isinstance(request["stop"], list) else [request["stop"]]
    unstopped = chat_text(control)
    if not any(s in unstopped for s in stops):
        raise Unobservable(f"the answer without stop does not contain {stops}: the stop cannot show ({unstopped[:60]!r})")
    text = chat_text(ex)
    hit = next((s for s in stops if s in text), None)
    if hit:
        return f"the output contains the stop sequence {hit!r}: {text[:80]!r}"
    if not text and unstopped.split(stops[0])[0].strip():
        raise Unobservable("no generated text, where the unstopped answer had text before the stop sequence")
    return None


def _forced(request: dict, ex: Exchange) -> str | None:
    """The forced function is called with an id and JSON arguments: a call a client can run and answer.
    (Without `tools` no answer calls the tool, so this effect needs no control.)"""
    wanted = request["tool_choice"]["function"]["name"]
    calls = tool_calls_of(ex)
    named = [c for c in calls if c.get("name") == wanted]
    if not named:
        return f"tool_choice forced {wanted!r}, the answer has tool calls {[c.get('name') for c in calls]}"
    try:
        json.loads(named[0].get("arguments") or "")
    except ValueError:
        if cut_by_cap(ex):
            raise Unobservable(f"the call's arguments were cut by the request's own max_tokens: {str(named[0].get('arguments'))[:60]!r}") from None
        return None  # arguments that do not parse are the integrity rule's finding (non-conforming), not an ignored choice
    if not named[0].get("id"):
        return f"the call of {wanted!r} has no id to answer with a tool message"
    return None


@effect("forced_tool_call", control=False)
def forced_tool_call(request: dict, ex: Exchange, control: Exchange | None) -> str | None:
    return _forced(request, ex)


@effect("streamed_tool_call", control=False)
def streamed_tool_call(request: dict, ex: Exchange, control: Exchange | None) -> str | None:
    """Streamed tool-call deltas, assembled by index as the SDK assembles them, make a call of the forced function."""
    return _forced(request, ex)


@effect("tool_call_required")
def tool_call_required(request: dict, ex: Exchange, control: Exchange) -> str | None:
    if tool_calls_of(control):
        raise Unobservable("the model calls the tool without being required to: required cannot show")
    return None if tool_calls_of(ex) else 'tool_choice "required", the answer has no tool call'


@effect("no_tool_call")
def no_tool_call(request: dict, ex: Exchange, control: Exchange) -> str | None:
    if not tool_calls_of(control):
        raise Unobservable('the model calls no tool even when required to: "none" cannot show')
    calls = tool_calls_of(ex)
    return f'tool_choice "none", the answer calls {[c.get("name") for c in calls]}' if calls else None


def _sizes(ex: Exchange) -> set:
    return {len(d["embedding"]) for d in _body(ex).get("data", []) if isinstance(d, dict) and isinstance(d.get("embedding"), list)}


@effect("dimensions_honoured")
def dimensions_honoured(request: dict, ex: Exchange, control: Exchange) -> str | None:
    sizes, default = _sizes(ex), _sizes(control)
    if not sizes or not default:
        raise Unobservable("no float embedding to measure")
    if default == {request["dimensions"]}:
        raise Unobservable(f"the model's vectors already have {request['dimensions']} dimensions: dimensions cannot show")
    return None if sizes == {request["dimensions"]} else f"dimensions {request['dimensions']} asked, vectors of length {sorted(sizes)}"


@effect("base64_encoding")
def base64_encoding(request: dict, ex: Exchange, control: Exchange) -> str | None:
    """Every vector a base64 string that decodes to float32 values; a list of floats means ignored."""
    vectors = [d.get("embedding") for d in _body(ex).get("data", []) if isinstance(d, dict)]
    if not vectors:
        raise Unobservable("no embedding in the answer")
    if all(isinstance(d.get("embedding"), str) for d in _body(control).get("data", []) if isinstance(d, dict)) and _body(control).get("data"):
        raise Unobservable("the model answers base64 even when it is not asked: encoding_format cannot show")
    kinds = sorted({type(v).__name__ for v in vectors})
    if kinds != ["str"]:
        return f"encoding_format base64 asked, embeddings are {kinds}"
    try:
        for v in vectors:
            oracle.decode_float32(v)
    except ValueError as exc:
        return f"encoding_format base64 asked, a vector does not decode to float32: {exc}"
    return None


@effect("distinct_vectors", control=False)
def distinct_vectors(request: dict, ex: Exchange, control: Exchange | None) -> str | None:
    """A list of different texts embedded item by item: different texts, different vectors (one vector
    repeated means the list was not embedded per item)."""
    vectors = [d.get("embedding") for d in _body(ex).get("data", []) if isinstance(d, dict)]
    if len(vectors) < 2 or not all(isinstance(v, list) for v in vectors):
        raise Unobservable("no two float vectors to compare")
    return "different inputs got the same vector: the list was not embedded item by item" if all(v == vectors[0] for v in vectors) else None


@effect("n_images")
def n_images(request: dict, ex: Exchange, control: Exchange) -> str | None:
    got, default = len(_body(ex).get("data") or []), len(_body(control).get("data") or [])
    if default == request["n"]:
        raise Unobservable(f"the model already answers {default} image(s) without n: n cannot show")
    return None if got == request["n"] else f"n={request['n']} asked, {got} image(s) returned"


@effect("images_in_asked_format")
def images_in_asked_format(request: dict, ex: Exchange, control: Exchange) -> str | None:
    asked = request["response_format"]
    data, default = _body(ex).get("data") or [], _body(control).get("data") or []
    if not data:
        raise Unobservable("no image in the answer")
    if default and all(isinstance(d, dict) and d.get(asked) for d in default):
        raise Unobservable(f"the model answers {asked} without being asked: response_format cannot show")
    missing = [i for i, d in enumerate(data) if not (isinstance(d, dict) and isinstance(d.get(asked), str) and d[asked])]
    other = {k for d in data if isinstance(d, dict) for k in ("url", "b64_json") if d.get(k)}
    return f"response_format {asked} asked, data{missing} came as {sorted(other) or 'nothing'}" if missing else None


@effect("audio_in_asked_format")
def audio_in_asked_format(request: dict, ex: Exchange, control: Exchange) -> str | None:
    asked = request["response_format"]
    if audio_format(control.content) == asked:
        raise Unobservable(f"the model answers {asked} without being asked: response_format cannot show")
    _, magic = AUDIO_FORMATS[asked]
    if magic(ex.content):
        return None
    return f"response_format {asked} asked, {audio_format(ex.content) or 'other'} audio answered (the bytes start {ex.content[:8]!r})"


@effect("transcript_in_asked_format")
def transcript_in_asked_format(request: dict, ex: Exchange, control: Exchange) -> str | None:
    asked = request["response_format"]
    if asked in ("text", "srt", "vtt"):
        if control.content_type == "text/plain":
            raise Unobservable("the model answers text without being asked: response_format cannot show")
        return None if ex.content_type == "text/plain" else f"response_format {asked} asked, a {ex.content_type or 'untyped'} transcription answered"
    if asked == "verbose_json":
        if "duration" in _body(control) or "segments" in _body(control):
            raise Unobservable("the model answers verbose_json without being asked: response_format cannot show")
        body = _body(ex)
        return None if "duration" in body or "segments" in body else "response_format verbose_json asked, the answer has no duration or segments"
    raise Unobservable(f"no check can tell response_format {asked} from the default")
