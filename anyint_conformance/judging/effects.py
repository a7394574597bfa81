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
import re
from dataclasses import dataclass, field
from typing import Callable

import jsonschema

from anyint_conformance.judging import oracle
from anyint_conformance.judging.checks import AUDIO_FORMATS, audio_format, cut_by_cap, tool_calls_of
from anyint_conformance.wire.transport import Exchange

@dataclass
class Seen:
    """What an effect judges: the answers to the request (`answers`, repeated where the effect needs
    samples) and to each control request (`controls`: one list per control body, in the cell's order)."""

    answers: list[Exchange]
    controls: list[list[Exchange]] = field(default_factory=list)
    marks: tuple[str, ...] = ()  # the word each request (the request, then each control) should make the answer name

    @property
    def answer(self) -> Exchange:
        return self.answers[0]

    @property
    def control(self) -> Exchange | None:
        return self.controls[0][0] if self.controls and self.controls[0] else None


Effect = Callable[[dict, Seen], "str | None"]
EFFECTS: dict[str, Effect] = {}
NEEDS_CONTROL: set[str] = set()  # effects that cannot be judged without their control answer


class Unobservable(Exception):
    """This answer (or its control) cannot show the effect either way: neither honoured nor ignored."""


class Contradicts(Exception):
    """The answer contradicts what the request asked for (integrity: the cell is non-conforming)."""


class Upstream(Exception):
    """The effect was observed, in a form only upstream OpenAI's strictness forbids (a warning on the
    cell; decides with --strict-upstream). args: the message, the rule."""


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
def max_tokens_bounds_completion(request: dict, seen: Seen) -> str | None:
    ex, control = seen.answer, seen.control
    tokens, uncapped = _completion_tokens(ex), _completion_tokens(control)
    if tokens is None or uncapped is None:
        raise Unobservable("no usage.completion_tokens to compare with max_tokens")
    if uncapped <= request["max_tokens"]:
        raise Unobservable(f"without the cap the answer is already {uncapped} token(s), within max_tokens {request['max_tokens']}: the cap cannot show")
    return f"usage.completion_tokens {tokens} > max_tokens {request['max_tokens']}" if tokens > request["max_tokens"] else None


@effect("stop_sequence_absent")
def stop_sequence_absent(request: dict, seen: Seen) -> str | None:
    ex, control = seen.answer, seen.control
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
def forced_tool_call(request: dict, seen: Seen) -> str | None:
    return _forced(request, seen.answer)


@effect("streamed_tool_call", control=False)
def streamed_tool_call(request: dict, seen: Seen) -> str | None:
    """Streamed tool-call deltas, assembled by index as the SDK assembles them, make a call of the forced function."""
    return _forced(request, seen.answer)


@effect("tool_call_required")
def tool_call_required(request: dict, seen: Seen) -> str | None:
    ex, control = seen.answer, seen.control
    if tool_calls_of(control):
        raise Unobservable("the model calls the tool without being required to: required cannot show")
    return None if tool_calls_of(ex) else 'tool_choice "required", the answer has no tool call'


@effect("no_tool_call")
def no_tool_call(request: dict, seen: Seen) -> str | None:
    ex, control = seen.answer, seen.control
    if not tool_calls_of(control):
        raise Unobservable('the model calls no tool even when required to: "none" cannot show')
    calls = tool_calls_of(ex)
    return f'tool_choice "none", the answer calls {[c.get("name") for c in calls]}' if calls else None


def _sizes(ex: Exchange) -> set:
    return {len(d["embedding"]) for d in _body(ex).get("data", []) if isinstance(d, dict) and isinstance(d.get("embedding"), list)}


@effect("dimensions_honoured")
def dimensions_honoured(request: dict, seen: Seen) -> str | None:
    ex, control = seen.answer, seen.control
    sizes, default = _sizes(ex), _sizes(control)
    if not sizes or not default:
        raise Unobservable("no float embedding to measure")
    if default == {request["dimensions"]}:
        raise Unobservable(f"the model's vectors already have {request['dimensions']} dimensions: dimensions cannot show")
    return None if sizes == {request["dimensions"]} else f"dimensions {request['dimensions']} asked, vectors of length {sorted(sizes)}"


@effect("base64_encoding")
def base64_encoding(request: dict, seen: Seen) -> str | None:
    """Every vector a base64 string that decodes to float32 values; a list of floats means ignored."""
    ex, control = seen.answer, seen.control
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
def distinct_vectors(request: dict, seen: Seen) -> str | None:
    """A list of different texts embedded item by item: different texts, different vectors (one vector
    repeated means the list was not embedded per item)."""
    ex = seen.answer
    vectors = [d.get("embedding") for d in _body(ex).get("data", []) if isinstance(d, dict)]
    if len(vectors) < 2 or not all(isinstance(v, list) for v in vectors):
        raise Unobservable("no two float vectors to compare")
    return "different inputs got the same vector: the list was not embedded item by item" if all(v == vectors[0] for v in vectors) else None


@effect("n_images")
def n_images(request: dict, seen: Seen) -> str | None:
    ex, control = seen.answer, seen.control
    got, default = len(_body(ex).get("data") or []), len(_body(control).get("data") or [])
    if default == request["n"]:
        raise Unobservable(f"the model already answers {default} image(s) without n: n cannot show")
    return None if got == request["n"] else f"n={request['n']} asked, {got} image(s) returned"


@effect("images_in_asked_format")
def images_in_asked_format(request: dict, seen: Seen) -> str | None:
    ex, control = seen.answer, seen.control
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
def audio_in_asked_format(request: dict, seen: Seen) -> str | None:
    ex, control = seen.answer, seen.control
    asked = request["response_format"]
    if audio_format(control.content) == asked:
        raise Unobservable(f"the model answers {asked} without being asked: response_format cannot show")
    _, magic = AUDIO_FORMATS[asked]
    if magic(ex.content):
        return None
    return f"response_format {asked} asked, {audio_format(ex.content) or 'other'} audio answered (the bytes start {ex.content[:8]!r})"


@effect("transcript_in_asked_format")
def transcript_in_asked_format(request: dict, seen: Seen) -> str | None:
    ex, control = seen.answer, seen.control
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


# -- the OpenAI fields beyond the page (the chat page: "validate them against the target model") ----------


def _content(ex: Exchange) -> str | None:
    choices = _body(ex).get("choices") or []
    content = ((choices[0] or {}).get("message") or {}).get("content") if choices and isinstance(choices[0], dict) else None
    return content if isinstance(content, str) else None


def _json(text: str | None):
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return None


@effect("json_object_content")
def json_object_content(request: dict, seen: Seen) -> str | None:
    """response_format json_object: the content parses as a JSON object (where the answer without it does not)."""
    ex, control = seen.answer, seen.control
    if isinstance(_json(_content(control)), dict):
        raise Unobservable("the model answers a JSON object without being asked: response_format cannot show")
    if isinstance(_json(_content(ex)), dict):
        return None
    if cut_by_cap(ex):
        raise Unobservable(f"the content was cut by the request's own max_tokens before it closed: {str(_content(ex))[:60]!r}")
    return f"response_format json_object asked, the content is no JSON object: {str(_content(ex))[:80]!r}"


@effect("json_schema_content")
def json_schema_content(request: dict, seen: Seen) -> str | None:
    """response_format json_schema (strict): the content validates against the schema the request gave."""
    ex = seen.answer
    validator = jsonschema.Draft202012Validator(request["response_format"]["json_schema"]["schema"])  # the request's own schema: once per answer
    unasked = _json(_content(seen.control))
    if unasked is not None and validator.is_valid(unasked):
        raise Unobservable("the model answers JSON of that schema without being asked: response_format cannot show")
    value = _json(_content(ex))
    if value is None:
        if cut_by_cap(ex):
            raise Unobservable(f"the content was cut by the request's own max_tokens: {str(_content(ex))[:60]!r}")
        return f"response_format json_schema asked, the content is no JSON: {str(_content(ex))[:80]!r}"
    error = next(iter(validator.iter_errors(value)), None)
    if error is not None and value == unasked:  # the very answer given without it: the field changed nothing
        return f"json_schema asked, the content is the answer without it, which breaks the schema: {error.message}"
    if error is not None and request["response_format"]["json_schema"].get("strict"):  # it changed the answer, and not into the schema
        raise Contradicts(f"strict json_schema asked, the content breaks it: {error.message} (content {str(_content(ex))[:60]!r})")
    return f"json_schema asked, the content does not follow it: {error.message}" if error is not None else None


def _usage_chunks(ex: Exchange) -> list[tuple[int, dict]]:
    return [(i, v) for i, v in ex.event_values if isinstance(v, dict) and isinstance(v.get("usage"), dict)]


@effect("usage_chunk_asked")
def usage_chunk_asked(request: dict, seen: Seen) -> str | None:
    """stream_options.include_usage: the stream reports usage, where the same stream without it does not
    (upstream: in exactly one chunk with no choices, after the last content and before [DONE]; elsewhere
    is a warning, the client still reads its usage). Two usage chunks, or one before the last content,
    contradict the request: a client that stops at it loses text."""
    ex = seen.answer
    usage = _usage_chunks(ex)
    if not usage:
        return "stream_options.include_usage asked, no chunk carries usage"
    if _usage_chunks(seen.control):
        raise Unobservable("the stream reports usage without being asked: stream_options cannot show")
    alone = [(i, v) for i, v in usage if v.get("choices") == []]
    if not alone:
        raise Upstream(f"usage came in a chunk with choices (event {usage[0][0]}), not in a chunk of its own with choices: []",
                       "upstream: with include_usage, \"an additional chunk will be streamed before the data: [DONE] message. The usage field on this "
                       "chunk shows the token usage statistics for the entire request, and the choices field will always be an empty array\"")
    if len(alone) > 1:
        raise Contradicts(f"{len(alone)} usage chunks, events {[i for i, _ in alone]}: the request asked for one")
    last_content = max((i for i, v in ex.event_values if isinstance(v, dict) and any(((c or {}).get("delta") or {}).get("content") for c in v.get("choices") or [])), default=-1)
    if alone[0][0] < last_content:
        raise Contradicts(f"the usage chunk (event {alone[0][0]}) came before the last content (event {last_content}): a client that stops at it loses text")
    return None


@effect("n_choices")
def n_choices(request: dict, seen: Seen) -> str | None:
    ex, control = seen.answer, seen.control
    default = len(_body(control).get("choices") or [])
    if default == request["n"]:
        raise Unobservable(f"the model answers {default} choices without n: n cannot show")
    got = len(_body(ex).get("choices") or [])
    return None if got == request["n"] else f"n={request['n']} asked, {got} choice(s) answered"


def _text(ex: Exchange) -> str:
    return chat_text(ex)


@effect("seed_repeats")
def seed_repeats(request: dict, seen: Seen) -> str | None:
    """The same seed twice gives the same content; observable only where another seed gives other content
    (controls: the same request again, then with another seed)."""
    first, again, other = _text(seen.answer), _text(seen.controls[0][0]), _text(seen.controls[1][0])
    if other == first:
        raise Unobservable("another seed gives the same content: the seed cannot show")
    return None if again == first else f"the same seed twice gave different content: {first[:40]!r} / {again[:40]!r}"


@effect("logprobs_alternatives", control=False)
def logprobs_alternatives(request: dict, seen: Seen) -> str | None:
    """logprobs with top_logprobs N: every generated token comes with N alternatives."""
    ex = seen.answer
    tokens = [t for c in _body(ex).get("choices") or [] if isinstance(c, dict) for t in ((c.get("logprobs") or {}).get("content") or [])]
    if not tokens:
        return "logprobs asked, the answer carries no choices[].logprobs.content"
    wanted = request.get("top_logprobs", 0)
    wrong = [i for i, t in enumerate(tokens) if not isinstance(t, dict) or len(t.get("top_logprobs") or []) != wanted]
    if wrong:
        raise Contradicts(f"top_logprobs {wanted} asked, token {wrong[0]} carries {len((tokens[wrong[0]] or {}).get('top_logprobs') or [])} alternatives")
    return None


@effect("at_most_one_call")
def at_most_one_call(request: dict, seen: Seen) -> str | None:
    """parallel_tool_calls false: one call at most, where the model makes several when allowed to."""
    ex, control = seen.answer, seen.control
    if len(tool_calls_of(control)) < 2:
        raise Unobservable("the model makes fewer than two calls even when allowed to: parallel_tool_calls cannot show")
    calls = tool_calls_of(ex)
    return None if len(calls) <= 1 else f"parallel_tool_calls false asked, {len(calls)} calls answered"


@effect("max_completion_tokens_bounds")
def max_completion_tokens_bounds(request: dict, seen: Seen) -> str | None:
    ex, control = seen.answer, seen.control
    tokens, uncapped, cap = _completion_tokens(ex), _completion_tokens(control), request["max_completion_tokens"]
    if tokens is None or uncapped is None:
        raise Unobservable("no usage.completion_tokens to compare with max_completion_tokens")
    if uncapped <= cap:
        raise Unobservable(f"without it the answer is already {uncapped} token(s), within max_completion_tokens {cap}")
    return f"usage.completion_tokens {tokens} > max_completion_tokens {cap}" if tokens > cap else None


def _alike(answers: list[Exchange]) -> bool:
    return len({_text(a) for a in answers}) == 1


@effect("temperature_zero_repeats")
def temperature_zero_repeats(request: dict, seen: Seen) -> str | None:
    """temperature 0: the same answer every time, where a high temperature varies it (control)."""
    if _alike(seen.controls[0]):
        raise Unobservable(f"the answers at a high temperature do not vary either ({len(seen.controls[0])} alike): temperature cannot show")
    return None if _alike(seen.answers) else f"temperature 0 asked, {len({_text(a) for a in seen.answers})} different answers in {len(seen.answers)}"


@effect("top_p_narrows")
def top_p_narrows(request: dict, seen: Seen) -> str | None:
    """top_p 0.01: the varied answers of a high temperature become one (control: the same without top_p)."""
    if _alike(seen.controls[0]):
        raise Unobservable(f"the answers without top_p do not vary ({len(seen.controls[0])} alike): top_p cannot show")
    return None if _alike(seen.answers) else f"top_p {request['top_p']} asked, {len({_text(a) for a in seen.answers})} different answers in {len(seen.answers)}"


# -- message forms: what a message carries steers the answer ---------------------------------------


def _names(text: str, word: str) -> bool:
    """The answer names the word: a number not inside a longer number ("18C", "18°C", not "118"), a word
    not inside a longer word ("Red.", not "reddish")."""
    kind = r"\d" if word.isdigit() else r"[^\W\d_]"
    return re.search(rf"(?<!{kind}){re.escape(word)}(?!{kind})", text, re.IGNORECASE) is not None


@effect("answer_follows_the_message")
def answer_follows_the_message(request: dict, seen: Seen) -> str | None:
    """A message form (a system message, an earlier turn, a tool's result, an image) is honoured where what
    it carries steers the answer. The request and its control differ in that one fact (`seen.marks`: the
    word each answer should name: banana / cherry, red / blue, 18 / 31). Observed where each answer names
    its own word and not the other's; ignored where both are the same text (the part made no difference:
    dropped, or never read); anything else (a model that reads it but does not say the word) shows neither."""
    if len(seen.marks) != 2:
        raise ValueError("answer_follows_the_message needs marks=(the word of the request, the word of its control)")
    ex, control = seen.answer, seen.control
    mine, theirs = seen.marks
    got, other = _text(ex), _text(control)
    if _names(got, mine) and not _names(got, theirs) and _names(other, theirs) and not _names(other, mine):
        return None
    if got == other:
        return f"the same answer whether the message carries {mine!r} or {theirs!r}: {got[:60]!r}"
    if cut_by_cap(ex) or cut_by_cap(control):
        raise Unobservable(f"an answer was cut by the request's own max_tokens before it named {mine!r} / {theirs!r}: {got[:40]!r} / {other[:40]!r}")
    raise Unobservable(f"the answers differ but do not each name their own word ({mine!r} / {theirs!r}): {got[:40]!r} / {other[:40]!r}")


@effect("calls_an_offered_tool", control=False)
def calls_an_offered_tool(request: dict, seen: Seen) -> str | None:
    """tool_choice "auto" with tools offered and a message that asks for one: a call of an offered tool is
    the tools working (without `tools` no answer can call one, so it needs no control). "auto" lets the
    model answer in text instead: that shows nothing either way. (A call of a tool not offered, or with
    arguments that do not parse, is the integrity rules' finding.)"""
    ex = seen.answer
    offered = [(t.get("function") or {}).get("name") for t in request.get("tools") or []]
    if any(c.get("name") in offered for c in tool_calls_of(ex)):
        return None
    if cut_by_cap(ex):
        raise Unobservable(f"the answer was cut by the request's own max_tokens: {_text(ex)[:60]!r}")
    raise Unobservable(f'under tool_choice "auto" the model may answer in text, and did: {_text(ex)[:60]!r}')
