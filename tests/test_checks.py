"""Every check fails on a response that violates it, against a real (deliberately broken) server.

What an answer must be comes from the operation and the request (Expect.for_request), as in the suites.
"""

import base64
import json
import struct

import httpx
import pytest

from anyint_conformance.judging.checks import CHECKS, Expect, Provenance, Severity, Verdict, assess, credential_reflected
from anyint_conformance.judging.effects import EFFECTS, Seen, Unobservable

# each effect called on one answer and (when given) one control answer
FX = {name: (lambda f: lambda request, ex, control=None: f(request, Seen([ex], [[control]] if control is not None else [])))(fn) for name, fn in EFFECTS.items()}
from anyint_conformance.contract.schemas import operation
from anyint_conformance.wire.transport import Exchange, send
from anyint_conformance.model.verdicts import REDACTED
from tests.fakeserver import FakeServer

CHAT = operation("/chat/completions")
NON_STREAM = Expect.for_request(CHAT, {"stream": False})
STREAM = Expect.for_request(CHAT, {"stream": True})


@pytest.fixture(scope="module")
def server():
    with FakeServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def client():
    with httpx.Client() as c:
        yield c


def judge(server, client, path, expect=NON_STREAM, timeout=5.0, body=None, strict=False):
    body = body if body is not None else {"model": "m", "messages": [], **({"stream": True} if expect.stream else {})}
    ex = send(client, "POST", server.base_url + path, body, stream=expect.stream, timeout=timeout)
    return ex, assess(ex, expect, strict)


def expect(path, body):
    return Expect.for_request(operation(path), body)


# (path, expect, verdict, the check that must speak, text the message must contain)
CASES = [
    ("/ok", NON_STREAM, Verdict.SUPPORTED, None, None),
    ("/missing-choices", NON_STREAM, Verdict.NONCONFORMING, "response_schema", "'choices' is a required property"),
    ("/missing-choices", NON_STREAM, Verdict.NONCONFORMING, "sdk_call", "`choices[0]` raises TypeError: 'NoneType' object is not subscriptable"),
    ("/wrong-object", NON_STREAM, Verdict.NONCONFORMING, "response_schema", "chat.completion"),
    ("/content-number", NON_STREAM, Verdict.NONCONFORMING, "response_schema", "7 is not of type"),
    # a finish_reason of null: pydantic's model would refuse it, the real SDK hands it over, and no client breaks on it
    ("/sdk-rejects", NON_STREAM, Verdict.SUPPORTED, None, None),
    ("/html-200", NON_STREAM, Verdict.BROKEN, "content_type_json", "text/html"),
    ("/invalid-json-200", NON_STREAM, Verdict.BROKEN, "json_body", "not valid JSON"),
    ("/error-500", NON_STREAM, Verdict.BROKEN, "status", "HTTP 500"),
    ("/refusal", NON_STREAM, Verdict.UNSUPPORTED, None, None),
    ("/refusal-detail", NON_STREAM, Verdict.UNSUPPORTED, "error_envelope", "without the OpenAI error envelope"),
    ("/refusal-html", NON_STREAM, Verdict.UNSUPPORTED, "error_envelope", "not JSON"),
    ("/auth", NON_STREAM, Verdict.UNTESTED, None, None),
    ("/stream-ok", STREAM, Verdict.SUPPORTED, None, None),
    ("/stream-no-done", STREAM, Verdict.NONCONFORMING, "sse_done", "without [DONE]"),
    ("/stream-after-done", STREAM, Verdict.NONCONFORMING, "sse_done", "after [DONE]"),
    ("/stream-wrong-object", STREAM, Verdict.NONCONFORMING, "sse_chunk_schema", "chat.completion.chunk"),
    ("/stream-not-json", STREAM, Verdict.BROKEN, "sse_events_json", "not JSON"),
    ("/stream-error-event", STREAM, Verdict.BROKEN, "sse_events_json", "upstream died"),
    ("/stream-as-json", STREAM, Verdict.BROKEN, "sse_content_type", "application/json"),
    ("/stream-cut", STREAM, Verdict.BROKEN, "transport_complete", "connection closed"),
]

EMBED = {"model": "m", "input": ["a", "b"]}
B64 = {"model": "m", "input": "a", "encoding_format": "base64"}
# routes beyond chat: (path, operation path, request body, verdict, check, text)
ROUTE_CASES = [
    ("/speech-ok", "/audio/speech", {"input": "hi"}, Verdict.SUPPORTED, None, None),
    ("/speech-json-200", "/audio/speech", {"input": "hi"}, Verdict.BROKEN, "binary_audio", "asked for mp3 audio, got application/json"),
    # another valid audio format than asked: audio all the same (whether the format was honoured is the effect's question)
    ("/speech-wrong-format", "/audio/speech", {"input": "hi"}, Verdict.SUPPORTED, None, None),
    ("/speech-garbage", "/audio/speech", {"input": "hi"}, Verdict.NONCONFORMING, "binary_audio", "the bytes are no audio format"),
    ("/transcript-text", "/audio/transcriptions", {"response_format": "text"}, Verdict.SUPPORTED, None, None),
    ("/transcript-json-for-text", "/audio/transcriptions", {"response_format": "text"}, Verdict.SUPPORTED, None, None),
    ("/transcript-html", "/audio/transcriptions", {"response_format": "text"}, Verdict.BROKEN, "text_body", "asked for a transcript"),
    ("/embeddings-ok", "/embeddings", EMBED, Verdict.SUPPORTED, None, None),
    ("/embeddings-one-missing", "/embeddings", EMBED, Verdict.NONCONFORMING, "one_vector_per_input", "2 input(s), 1 embedding(s)"),
    ("/embeddings-bad-index", "/embeddings", EMBED, Verdict.NONCONFORMING, "one_vector_per_input", "data[].index is [0, 0]"),
    # a string where a float vector was asked: documented ("Embedding vector") and the SDK agree
    ("/embeddings-string-for-float", "/embeddings", {"model": "m", "input": "a"}, Verdict.NONCONFORMING, "response_schema", "is not of type 'array'"),
    ("/embeddings-base64-ok", "/embeddings", B64, Verdict.SUPPORTED, None, None),
    ("/embeddings-bad-base64", "/embeddings", B64, Verdict.NONCONFORMING, "base64_embeddings", "does not decode to float32"),
    ("/images-url-for-b64", "/images/generations", {"prompt": "x"}, Verdict.SUPPORTED, None, None),
    ("/images-url-for-b64", "/images/generations", {"prompt": "x", "response_format": "b64_json"}, Verdict.SUPPORTED, None, None),  # the effect says ignored
    ("/images-text-url", "/images/generations", {"prompt": "x"}, Verdict.NONCONFORMING, "images_usable", "not an absolute http(s) or data: URL"),
    ("/images-b64-ok", "/images/generations", {"prompt": "x", "response_format": "b64_json"}, Verdict.SUPPORTED, None, None),
    ("/images-bad-b64", "/images/generations", {"prompt": "x", "response_format": "b64_json"}, Verdict.NONCONFORMING, "images_usable", "does not decode as base64"),
    ("/images-none", "/images/generations", {"prompt": "x"}, Verdict.NONCONFORMING, "images_usable", "carries no image"),
]


@pytest.mark.parametrize("path, op_path, body, verdict, check, text", ROUTE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(ROUTE_CASES)])
def test_route_check_classifies(server, client, path, op_path, body, verdict, check, text):
    _, result = judge(server, client, path, expect(op_path, body), body=body)
    assert result.verdict is verdict, result.reason
    if check:
        spoken = [f for f in result.findings if f.check == check]
        assert spoken and text in spoken[0].message, result.findings


@pytest.mark.parametrize("path, expect, verdict, check, text", CASES, ids=[c[0] for c in CASES])
def test_check_classifies(server, client, path, expect, verdict, check, text):
    ex, result = judge(server, client, path, expect)
    assert result.verdict is verdict, result.reason
    if check is None:
        assert result.first_violation is None
        return
    spoken = [f for f in result.findings if f.check == check]
    assert spoken, f"{check} said nothing: {result.findings}"
    assert text in spoken[0].message


def test_a_body_our_documented_schema_accepts_but_client_code_trips_on_is_non_conforming_by_the_sdk():
    from anyint_conformance.contract.schemas import first_violation

    body = {"id": "r", "object": "chat.completion", "created": 1, "model": "m", "choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": {"city": "Paris"}}}]}}]}
    assert first_violation("chat.response", body) is None  # the page's layer says nothing of tool calls' arguments ...
    result = assess(_json_answer(body), NON_STREAM)
    assert result.first_violation.provenance is Provenance.SDK  # ... the official SDK hands client code a dict where it reads a string
    assert "`choices[0].message.tool_calls[0].function.arguments` is dict" in result.first_violation.message


def test_the_sdk_reads_every_event_of_a_stream():
    from anyint_conformance.wire.transport import SSEEvent

    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": 5}}]}
    events = [SSEEvent("message", json.dumps(chunk)), SSEEvent("message", "[DONE]")]
    content = b"".join(f"data: {e.data}\n\n".encode() for e in events)
    ex = Exchange("POST", "u", {"stream": True}, stream=True, status=200, headers={"content-type": "text/event-stream"}, events=events, content=content)
    found = CHECKS["sdk_call"](ex, STREAM)
    assert found and found[0].provenance is Provenance.SDK and "`choices[0].delta.content` is int 5" in found[0].message and found[0].path.startswith("$events[0]")


def test_a_response_rule_is_our_reading_of_the_row_and_says_so(server, client):
    _, result = judge(server, client, "/content-number")
    assert result.first_violation.provenance is Provenance.INFERRED  # the page gives the field's meaning, not its type
    assert '"Generated text for non-streaming responses"' in result.first_violation.rule and "(our reading:" in result.first_violation.rule
    _, result = judge(server, client, "/stream-early-usage", STREAM)  # "can arrive near the end" is not a rule
    assert result.verdict is Verdict.SUPPORTED
    upstream = [w for w in result.warnings if w.provenance is Provenance.UPSTREAM]
    assert upstream and "decides only in strict mode, --strict-upstream" in upstream[0].message


def test_strict_mode_lets_upstream_rules_decide(server, client):
    _, lenient = judge(server, client, "/stream-early-usage", STREAM)
    _, strict = judge(server, client, "/stream-early-usage", STREAM, strict=True)
    assert lenient.verdict is Verdict.SUPPORTED and strict.verdict is Verdict.NONCONFORMING
    assert strict.first_violation.check == "sse_usage_near_end" and strict.first_violation.provenance is Provenance.UPSTREAM


def test_a_broken_model_list_is_non_conforming(server, client):
    models = Expect.for_request(operation("/models", "GET"), None)
    ex = send(client, "GET", server.base_url + "/models-bad-shape")
    result = assess(ex, models)
    assert result.verdict is Verdict.NONCONFORMING and result.first_violation.path == "$.data[0].id"
    assert result.first_violation.provenance is Provenance.INFERRED  # a model ID is a string: our reading of the model row
    assert assess(send(client, "GET", server.base_url + "/models-ok"), models).verdict is Verdict.SUPPORTED


def test_a_reflected_credential_is_found_live_and_in_a_replayed_recording(server, client):
    key = "sk-test-reflected-0123456789"
    ex = send(client, "POST", server.base_url + "/echo-auth", {"model": "m"}, headers={"Authorization": f"Bearer {key}"})
    found = credential_reflected(ex, (key,))
    assert found and "security finding" in found[0].message
    assert credential_reflected(ex, ("sk-some-other-key-000",)) == []
    # a recording scrubbed the key into the marker: the marker in an answer is the same finding
    replayed = Exchange("POST", "u", {}, status=200, headers={"x-echo": f"Bearer {REDACTED}"}, content=b"{}")
    assert credential_reflected(replayed, ()) and "header" in credential_reflected(replayed, ())[0].message


def test_when_available_fields_missing_are_warnings_not_failures(server, client):
    _, result = judge(server, client, "/ok-no-usage")
    assert result.verdict is Verdict.SUPPORTED
    assert {w.path for w in result.warnings} == {"$.usage.prompt_tokens", "$.usage.completion_tokens", "$.usage.total_tokens"}
    _, result = judge(server, client, "/stream-no-usage", STREAM)
    assert result.verdict is Verdict.SUPPORTED
    assert [w.check for w in result.warnings] == ["sse_usage_near_end"]


def test_schema_violation_carries_its_json_path(server, client):
    _, result = judge(server, client, "/content-number")
    assert result.first_violation.path == "$.choices[0].message.content"
    _, result = judge(server, client, "/stream-wrong-object", STREAM)
    assert result.first_violation.path == "$events[0].object"


def test_a_hung_connection_times_out_as_broken(server, client):
    ex, result = judge(server, client, "/hang", timeout=0.5)
    assert result.verdict is Verdict.BROKEN
    assert ex.error_kind == "timeout" and "timed out" in result.reason


def test_a_huge_body_is_cut_off_as_broken(server, client):
    ex, result = judge(server, client, "/huge")
    assert ex.error_kind == "too-large"
    assert len(ex.content) <= 8 * 1024 * 1024
    assert result.verdict is Verdict.BROKEN


def test_a_refused_connection_is_broken(client):
    ex = send(client, "POST", "http://127.0.0.1:9/v1/chat/completions", {}, timeout=2)
    result = assess(ex, NON_STREAM)
    assert result.verdict is Verdict.BROKEN and ex.error_kind == "connection"


def test_every_registered_check_is_exercised_by_a_failing_case():
    integrity = {"vectors_same_length", "one_result_per_input", "flagged_agrees", "choices_indexed", "tool_calls_offered", "tool_arguments_json",
                 "usage_adds_up", "answers_the_tool_result", "models_listed_once",
                 "sse_incremental", "reasoning_seen"}  # each failing (a warning, a note: firing) in tests/test_rules.py or below
    exercised = {c[3] for c in CASES if c[3]} | {c[4] for c in ROUTE_CASES if c[4]} | {"transport_complete", "sse_usage_near_end"} | integrity
    assert set(CHECKS) <= exercised, f"checks without a failing case: {set(CHECKS) - exercised}"


def test_a_model_listed_twice_breaks_integrity():
    twice = _json_answer({"object": "list", "data": [{"id": "m", "object": "model", "created": 1, "owned_by": "x"}] * 2})
    found = CHECKS["models_listed_once"](twice, Expect())
    assert found and found[0].provenance is Provenance.INTEGRITY and "['m'] more than once" in found[0].message


def test_severity_of_refusal_shape_is_a_note_not_a_failure(server, client):
    _, result = judge(server, client, "/refusal-detail")
    assert all(f.severity is Severity.NOTE and f.provenance is Provenance.UPSTREAM for f in result.findings)


# -- effects: each is shown to report "ignored" on an answer that ignores the parameter ------------------


def _json_answer(body, request=None):
    return Exchange("POST", "u", request or {}, status=200, headers={"content-type": "application/json"}, content=json.dumps(body).encode())


def answer(content="hi", usage=None, tool_calls=None):
    message = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    body = {"id": "r", "object": "chat.completion", "created": 1, "model": "m", "choices": [{"index": 0, "message": message}]}
    if usage is not None:
        body["usage"] = usage
    return _json_answer(body)


def test_max_tokens_effect_against_its_control():
    fx = FX["max_tokens_bounds_completion"]
    long = answer(usage={"completion_tokens": 8})
    assert fx({"max_tokens": 2}, answer(usage={"completion_tokens": 2}), long) is None
    assert "completion_tokens 8 > max_tokens 2" in fx({"max_tokens": 2}, long, long)
    with pytest.raises(Unobservable, match="already 2 token"):
        fx({"max_tokens": 2}, answer(usage={"completion_tokens": 2}), answer(usage={"completion_tokens": 2}))  # a fixed short answer
    with pytest.raises(Unobservable):
        fx({"max_tokens": 2}, answer(), long)  # no usage


def test_stop_effect_in_both_forms_against_its_control():
    fx, unstopped = FX["stop_sequence_absent"], answer("Hello world")
    assert fx({"stop": ["o"]}, answer("Hell"), unstopped) is None and fx({"stop": "o"}, answer("Hell"), unstopped) is None
    assert "contains the stop sequence 'o'" in fx({"stop": ["o"]}, unstopped, unstopped)
    with pytest.raises(Unobservable, match="does not contain"):
        fx({"stop": ["o"]}, answer("Hi"), answer("Hi"))  # the answer never held the sequence


CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}


def test_tool_choice_effects_against_their_controls():
    forced = {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}
    calls, text = answer(None, tool_calls=[CALL]), answer("It is sunny.")
    assert FX["forced_tool_call"](forced, calls, None) is None
    assert "forced 'get_weather'" in FX["forced_tool_call"](forced, text, None)
    assert FX["tool_call_required"]({}, calls, text) is None and "no tool call" in FX["tool_call_required"]({}, text, text)
    with pytest.raises(Unobservable):
        FX["tool_call_required"]({}, calls, calls)  # it calls without being required to
    assert FX["no_tool_call"]({}, text, calls) is None and "calls ['get_weather']" in FX["no_tool_call"]({}, calls, calls)
    with pytest.raises(Unobservable):
        FX["no_tool_call"]({}, text, text)  # it never calls, even when required: "none" shows nothing


def test_a_message_form_is_observed_where_each_answer_names_its_own_fact():
    def fx(got, other, marks=("18", "31")):
        return EFFECTS["answer_follows_the_message"]({}, Seen([answer(got)], [[answer(other)]], marks))

    assert fx("It is 18C in Paris.", "It is 31°C in Paris.") is None  # a number glued to its unit still counts
    assert fx("Red.", "BLUE", ("red", "blue")) is None
    assert "the same answer whether the message carries '18' or '31'" in fx("It is 18 C.", "It is 18 C.")  # a fixed answer: ignored
    for got, other, marks in (("It is 118 C.", "It is 31 C.", ("18", "31")), ("reddish", "blue", ("red", "blue")), ("18 or 31", "31", ("18", "31"))):
        with pytest.raises(Unobservable, match="do not each name their own"):
            fx(got, other, marks)  # inside a longer number or word, or both named: neither honoured nor ignored


def test_embedding_effects_against_their_controls():
    vectors, eight = _json_answer({"data": [{"index": 0, "embedding": [0.1] * 640}]}), _json_answer({"data": [{"index": 0, "embedding": [0.1] * 8}]})
    assert "vectors of length [640]" in FX["dimensions_honoured"]({"dimensions": 8}, vectors, vectors)
    assert FX["dimensions_honoured"]({"dimensions": 8}, eight, vectors) is None
    with pytest.raises(Unobservable):
        FX["dimensions_honoured"]({"dimensions": 8}, eight, eight)
    assert "embeddings are ['list']" in FX["base64_encoding"]({}, vectors, vectors)
    real = base64.b64encode(struct.pack("<2f", 0.5, -0.25)).decode()
    assert FX["base64_encoding"]({}, _json_answer({"data": [{"index": 0, "embedding": real}]}), vectors) is None
    assert "does not decode to float32" in FX["base64_encoding"]({}, _json_answer({"data": [{"index": 0, "embedding": "Hello from a mock."}]}), vectors)
    two = _json_answer({"data": [{"embedding": [0.1, 0.2]}, {"embedding": [0.3, 0.4]}]})
    same = _json_answer({"data": [{"embedding": [0.1, 0.2]}, {"embedding": [0.1, 0.2]}]})
    assert FX["distinct_vectors"]({}, two, None) is None and "same vector" in FX["distinct_vectors"]({}, same, None)


def test_image_and_audio_effects_against_their_controls():
    url, b64 = _json_answer({"data": [{"url": "https://x/y.png"}]}), _json_answer({"data": [{"b64_json": "aGk="}]})
    assert "n=2 asked, 1 image(s)" in FX["n_images"]({"n": 2}, url, url)
    with pytest.raises(Unobservable):
        FX["n_images"]({"n": 1}, url, url)
    assert "came as ['url']" in FX["images_in_asked_format"]({"response_format": "b64_json"}, url, url)
    assert FX["images_in_asked_format"]({"response_format": "b64_json"}, b64, url) is None
    mp3 = Exchange("POST", "u", {}, status=200, headers={"content-type": "audio/mpeg"}, content=b"ID3\x04" + b"\x00" * 20)
    wav = Exchange("POST", "u", {}, status=200, headers={"content-type": "audio/wav"}, content=b"RIFF\x00\x00\x00\x00WAVEfmt ")
    assert "mp3 audio answered" in FX["audio_in_asked_format"]({"response_format": "wav"}, mp3, mp3)
    assert FX["audio_in_asked_format"]({"response_format": "wav"}, wav, mp3) is None
    text = _json_answer({"text": "hi"})
    assert "transcription answered" in FX["transcript_in_asked_format"]({"response_format": "text"}, text, text)


def _stream(*chunks, finish=None, asked=None):
    from anyint_conformance.wire.transport import SSEEvent

    events = []
    for i, calls in enumerate(chunks):
        choice = {"index": 0, "delta": {"tool_calls": calls}, "finish_reason": finish if i == len(chunks) - 1 else None}
        events.append(SSEEvent("message", json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]})))
    events.append(SSEEvent("message", "[DONE]"))
    return Exchange("POST", "u", asked or {}, stream=True, status=200, headers={"content-type": "text/event-stream"}, events=events)


def test_streamed_tool_call_deltas_assemble_into_a_whole_call():
    forced = {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}, "tools": [{"type": "function", "function": {"name": "get_weather"}}]}
    fx = FX["streamed_tool_call"]
    whole = _stream([{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}],
                    [{"index": 0, "function": {"arguments": '{"city": '}}], [{"index": 0, "function": {"arguments": '"Paris"}'}}], finish="tool_calls", asked=forced)
    assert fx(forced, whole, None) is None
    # the name repeated in every delta assembles (as the SDK's accumulator does) into a name nobody offered: integrity
    repeated = _stream([{"index": 0, "id": "call_1", "function": {"name": "get_weather", "arguments": '{"city":'}}],
                       [{"index": 0, "function": {"name": "get_weather", "arguments": '"Paris"}'}}], asked=forced)
    found = CHECKS["tool_calls_offered"](repeated, STREAM)
    assert found and "'get_weatherget_weather'" in found[0].message and found[0].provenance is Provenance.INTEGRITY
    no_id = _stream([{"index": 0, "function": {"name": "get_weather", "arguments": "{}"}}], asked=forced)
    assert "has no id" in fx(forced, no_id, None)
    broken = _stream([{"index": 0, "id": "c", "function": {"name": "get_weather", "arguments": '{"city": "Par'}}], finish="stop", asked=forced)
    assert CHECKS["tool_arguments_json"](broken, STREAM)[0].provenance is Provenance.INTEGRITY
    cut = _stream([{"index": 0, "id": "c", "function": {"name": "get_weather", "arguments": '{"city": "Par'}}], finish="length", asked=forced)
    assert CHECKS["tool_arguments_json"](cut, STREAM) == []  # our own token cap cut it: not the server's fault ...
    with pytest.raises(Unobservable, match="cut by the request's own max_tokens"):
        fx(forced, cut, None)  # ... and nothing observed either way
