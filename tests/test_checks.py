"""Every chat check fails on a response that violates it, against a real (deliberately broken) server."""

import httpx
import pytest

from anyint_conformance.checks import CHECKS, Expect, Severity, Verdict, assess
from anyint_conformance.transport import send
from tests.fakeserver import FakeServer

NON_STREAM = Expect(response_schema="chat.response", chunk_schema="chat.chunk", stream=False)
STREAM = Expect(response_schema="chat.response", chunk_schema="chat.chunk", stream=True)


@pytest.fixture(scope="module")
def server():
    with FakeServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def client():
    with httpx.Client() as c:
        yield c


def judge(server, client, path, expect=NON_STREAM, timeout=5.0, body=None):
    body = body if body is not None else {"model": "m", "messages": []}
    ex = send(client, "POST", server.base_url + path, body, stream=expect.stream, timeout=timeout)
    return ex, assess(ex, expect)


AUDIO = Expect(body="binary")
TEXT = Expect(body="text")
EMBED = Expect(response_schema="embeddings.response", extra=("one_vector_per_input",))
IMAGES = Expect(response_schema="images.response", extra=("images_as_asked",))


# (path, expect, verdict, the check that must speak, text the message must contain)
CASES = [
    ("/ok", NON_STREAM, Verdict.SUPPORTED, None, None),
    ("/missing-choices", NON_STREAM, Verdict.NONCONFORMING, "response_schema", "'choices' is a required property"),
    ("/wrong-object", NON_STREAM, Verdict.NONCONFORMING, "response_schema", "chat.completion"),
    ("/content-number", NON_STREAM, Verdict.NONCONFORMING, "response_schema", "7 is not of type"),
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
    ("/stream-early-usage", STREAM, Verdict.NONCONFORMING, "sse_usage_near_end", "not near the end"),
    ("/stream-as-json", STREAM, Verdict.BROKEN, "sse_content_type", "application/json"),
    ("/stream-cut", STREAM, Verdict.BROKEN, "transport_complete", "connection closed"),
]

# routes beyond chat: (path, expect, request body, verdict, check, text)
ROUTE_CASES = [
    ("/speech-ok", AUDIO, {"input": "hi"}, Verdict.SUPPORTED, None, None),
    ("/speech-json-200", AUDIO, {"input": "hi"}, Verdict.BROKEN, "binary_audio", "asked for mp3 audio, got application/json"),
    ("/speech-wrong-format", AUDIO, {"input": "hi"}, Verdict.NONCONFORMING, "binary_audio", "the bytes start b'RIFF"),
    ("/speech-ok", AUDIO, {"input": "hi", "response_format": "wav"}, Verdict.NONCONFORMING, "binary_audio", "asked for wav"),
    ("/transcript-text", TEXT, {}, Verdict.SUPPORTED, None, None),
    ("/transcript-json-for-text", TEXT, {}, Verdict.BROKEN, "text_body", "asked for text"),
    ("/embeddings-ok", EMBED, {"input": ["a", "b"]}, Verdict.SUPPORTED, None, None),
    ("/embeddings-one-missing", EMBED, {"input": ["a", "b"]}, Verdict.NONCONFORMING, "one_vector_per_input", "2 input(s), 1 embedding(s)"),
    ("/embeddings-bad-index", EMBED, {"input": ["a", "b"]}, Verdict.NONCONFORMING, "one_vector_per_input", "data[].index is [0, 0]"),
    ("/images-url-for-b64", IMAGES, {"prompt": "x"}, Verdict.SUPPORTED, None, None),
    ("/images-url-for-b64", IMAGES, {"prompt": "x", "response_format": "b64_json"}, Verdict.NONCONFORMING, "images_as_asked", "asked for b64_json"),
]


@pytest.mark.parametrize("path, expect, body, verdict, check, text", ROUTE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(ROUTE_CASES)])
def test_route_check_classifies(server, client, path, expect, body, verdict, check, text):
    _, result = judge(server, client, path, expect, body=body)
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
    exercised = {c[3] for c in CASES if c[3]} | {c[4] for c in ROUTE_CASES if c[4]} | {"transport_complete"}
    assert set(CHECKS) <= exercised, f"checks without a failing case: {set(CHECKS) - exercised}"


def test_severity_of_refusal_shape_is_a_note_not_a_failure(server, client):
    _, result = judge(server, client, "/refusal-detail")
    assert all(f.severity is Severity.NOTE for f in result.findings)


# -- effects: each is shown to report "ignored" on an answer that ignores the parameter ------------------

from anyint_conformance.checks import EFFECTS, Unobservable  # noqa: E402
from anyint_conformance.transport import Exchange  # noqa: E402


def answer(content="hi", usage=None, tool_calls=None):
    message = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    body = {"id": "r", "object": "chat.completion", "created": 1, "model": "m", "choices": [{"index": 0, "message": message}]}
    if usage is not None:
        body["usage"] = usage
    import json

    return Exchange("POST", "u", {}, status=200, headers={"content-type": "application/json"}, content=json.dumps(body).encode())


def test_max_tokens_effect():
    fx = EFFECTS["max_tokens_bounds_completion"]
    assert fx({"max_tokens": 2}, answer(usage={"completion_tokens": 2})) is None
    assert "> max_tokens 2" in fx({"max_tokens": 2}, answer(usage={"completion_tokens": 9}))
    with pytest.raises(Unobservable):
        fx({"max_tokens": 2}, answer())


def test_stop_effect():
    fx = EFFECTS["stop_sequence_absent"]
    assert fx({"stop": ["o"]}, answer("Hi there")) is None
    assert "contains the stop sequence 'o'" in fx({"stop": ["o"]}, answer("Hello"))
    assert fx({"stop": "x"}, answer("Hello")) is None


def test_forced_tool_call_effect():
    fx = EFFECTS["forced_tool_call"]
    request = {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}
    call = {"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    assert fx(request, answer(None, tool_calls=[call])) is None
    assert "forced 'get_weather'" in fx(request, answer("It is sunny."))


def _json_answer(body):
    import json

    return Exchange("POST", "u", {}, status=200, headers={"content-type": "application/json"}, content=json.dumps(body).encode())


def test_dimensions_base64_and_n_effects():
    vectors = _json_answer({"data": [{"index": 0, "embedding": [0.1] * 640}]})
    assert "vectors of length [640]" in EFFECTS["dimensions_honoured"]({"dimensions": 8}, vectors)
    assert EFFECTS["dimensions_honoured"]({"dimensions": 640}, vectors) is None
    assert "embeddings are ['list']" in EFFECTS["base64_encoding"]({}, vectors)
    assert EFFECTS["base64_encoding"]({}, _json_answer({"data": [{"index": 0, "embedding": "AAAA"}]})) is None
    images = _json_answer({"data": [{"url": "u"}]})
    assert "n=2 asked, 1 image(s)" in EFFECTS["n_images"]({"n": 2}, images)
    assert EFFECTS["n_images"]({"n": 1}, images) is None
