"""The verdict rules of the chat and media routes, each shown failing on a deliberately broken answer and
holding on a correct one: the official SDK really called on the answer, the integrity of an answer with
its request, effects observed against their control (and every outcome of each effect reachable),
--trials, what a refusal or an answer may carry, and a model list that names no model.

Every case runs a real suite function in process, live against tests/fakeserver.py (the model name
picks the fake's behaviour), so the rule is exercised exactly where users meet it.
"""

import json

import pytest

import suites.test_audio as audio
import suites.test_auth as auth
import suites.test_chat_completions as chat
import suites.test_chat_parameters as parameters
import suites.test_embeddings as embeddings
import suites.test_images as images
import suites.test_models as models
import suites.test_moderations as moderations
import suites.test_tools as tools
from tests.fakeserver import FakeServer
from tests.harness import cells_of
from tests.helpers import run_pytest


@pytest.fixture(scope="module")
def server():
    with FakeServer() as fake:
        yield fake


def _cell(server, function, model, column=None, /, options=None, **params):
    """The cell `column` (a parameter name, None for the route) of a suite function for one fake model."""
    return cells_of(function, server.base_url, models=(model,), params=params, **(options or {}))[column]


# -- 1. the SDK as oracle: its real call path on the answer --------------------------------------------

SDK_CASES = [  # model, stream, what client code hits (the finding's message contains it)
    ("sdk-no-choices", False, "`choices[0]` raises TypeError: 'NoneType' object is not subscriptable"),
    ("sdk-content-number", False, "`choices[0].message.content` is int 5, not str | None"),
    ("sdk-arguments-object", False, "`choices[0].message.tool_calls[0].function.arguments` is dict"),
    ("stream-no-index", True, "`choices[0].delta.tool_calls[0].index` is None, not int"),
    ("stream-usage-unasked", True, "`choices[0]` raises IndexError: list index out of range (a chunk without choices that the request did not ask for"),
]


@pytest.mark.parametrize("model, stream, hit", SDK_CASES, ids=[c[0] for c in SDK_CASES])
def test_the_sdk_finding_says_what_client_code_hits(server, model, stream, hit):
    function, column, params = chat.test_chat_completions, "stream" if stream else None, {"stream": stream}
    if model in ("stream-no-index", "sdk-arguments-object"):
        column = "tools+tool_choice (stream)" if stream else "tools+tool_choice"
        function, params = parameters.test_chat_parameter, {"parameter": column}
    cell = _cell(server, function, model, column, **params)
    assert cell.verdict == "non-conforming", (cell.verdict, cell.reason)
    sdk = next(f for f in _findings(server, cell) if f.check == "sdk_call")
    assert hit in sdk.message and sdk.provenance.value == "sdk" and sdk.message.startswith("openai "), sdk.message


def _findings(server, cell):
    """Every finding on the answer to the cell's deciding request, sent again (the fake answers alike)."""
    import httpx

    from anyint_conformance.contract.schemas import operation
    from anyint_conformance.judging.checks import Expect, Rules
    from anyint_conformance.wire.transport import send

    body = cell.request["body"]
    with httpx.Client() as client:
        ex = send(client, "POST", server.base_url + "/chat/completions", body, stream=bool(body.get("stream")))
    return Rules().judge(ex, Expect.for_request(operation("/chat/completions"), body)).findings


def test_the_sdk_passes_a_correct_answer_stream_and_assembled_tool_call(server):
    assert _cell(server, chat.test_chat_completions, "ok", None, stream=False).verdict == "supported"
    assert _cell(server, chat.test_chat_completions, "ok", "stream", stream=True).verdict == "supported"
    assert _cell(server, parameters.test_chat_parameter, "stream-tool-ok", "tools+tool_choice (stream)", parameter="tools+tool_choice (stream)").verdict == "supported"


def test_a_usage_chunk_without_choices_is_read_guarded_only_when_the_request_asked_for_it(server):
    import httpx

    from anyint_conformance.judging import oracle
    from anyint_conformance.wire.transport import send

    with httpx.Client() as client:
        asked = send(client, "POST", server.base_url + "/chat/completions", {"model": "stream-usage-asked", "stream": True, "stream_options": {"include_usage": True}}, stream=True)
        unasked = send(client, "POST", server.base_url + "/chat/completions", {"model": "stream-usage-unasked", "stream": True}, stream=True)
    assert oracle.findings(asked, "POST", "/chat/completions") == []
    assert "IndexError" in oracle.findings(unasked, "POST", "/chat/completions")[0].message


def test_a_field_the_sdk_declares_but_hands_over_unchecked_is_a_warning_only():
    # GET /models entries without created or owned_by: the SDK returns Model.created = None unchecked
    body = json.dumps({"object": "list", "data": [{"id": "m", "object": "model"}]}).encode()
    with FakeServer(models_body=body) as fake:
        cell = cells_of(models.test_model_list, fake.base_url)[None]
    assert cell.verdict == "supported", cell.reason
    declared = [w for w in cell.warnings if w["check"] == "sdk_declared"]
    assert declared and "Model.created = None" in declared[0]["message"] and "unchecked" in declared[0]["message"] and declared[0]["provenance"] == "upstream"
    with FakeServer(models_body=body) as fake:
        strict = cells_of(models.test_model_list, fake.base_url, strict=True)[None]
    assert strict.verdict == "non-conforming"  # decides only with --strict-upstream


def test_a_moderation_flag_the_sdk_hands_over_as_a_string_is_an_sdk_finding(server):
    cell = _cell(server, moderations.test_moderations, "mod-flagged-string")
    assert cell.verdict == "non-conforming" and "results[0].flagged` is str 'false', not bool" in json.dumps(cell.violation)


# -- 2. integrity of an answer with its request and itself (the lifecycles: tests/test_integrity.py) -------

INTEGRITY_CASES = [  # model, suite function and parameter, the check that must speak
    ("int-choices-index", chat.test_chat_completions, None, {"stream": False}, "choices_indexed"),
    ("int-tool-not-offered", parameters.test_chat_parameter, "tools+tool_choice", {"parameter": "tools+tool_choice"}, "tool_calls_offered"),
    ("stream-name-repeated", parameters.test_chat_parameter, "tools+tool_choice (stream)", {"parameter": "tools+tool_choice (stream)"}, "tool_calls_offered"),
    ("int-arguments-not-json", parameters.test_chat_parameter, "tool_choice=required", {"parameter": "tool_choice=required"}, "tool_arguments_json"),
    ("int-usage", chat.test_chat_completions, None, {"stream": False}, "usage_adds_up"),
    ("emb-lengths", embeddings.test_embeddings_parameter, "array input", {"parameter": "array input"}, "vectors_same_length"),
    ("img-no-image", images.test_images, None, {}, "images_usable"),
    ("mod-flag-disagrees", moderations.test_moderations, None, {}, "flagged_agrees"),
]


@pytest.mark.parametrize("model, function, parameter, params, check", INTEGRITY_CASES, ids=[c[0] for c in INTEGRITY_CASES])
def test_each_integrity_rule_of_an_answer_fails_on_its_fault(server, model, function, parameter, params, check):
    cell = _cell(server, function, model, parameter, **params)
    assert cell.verdict == "non-conforming", (cell.verdict, cell.reason)
    assert cell.violation["check"] == check and cell.violation["provenance"] == "integrity", cell.violation


def test_a_streamed_answer_cut_by_max_tokens_is_no_sdk_finding_even_where_the_stream_helper_refuses_it(server):
    """ChatCompletionStreamState.get_final_completion raises LengthFinishReasonError on finish_reason
    "length": a valid answer, which our own cap may cause. The oracle reads the assembly instead."""
    import httpx

    from anyint_conformance.judging import oracle
    from anyint_conformance.wire.transport import send

    body = {"model": "stream-length", "stream": True, "tools": [tools.WEATHER_TOOL], "max_tokens": 3, "messages": tools.ASK}
    with httpx.Client() as client:
        ex = send(client, "POST", server.base_url + "/chat/completions", body, stream=True)
    assert oracle.findings(ex, "POST", "/chat/completions") == []


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_tool_round_trip_completes_on_a_server_that_honours_it_streamed_or_not(server, stream):
    cells = cells_of(tools.test_tool_round_trip, server.base_url, models=("fx-honours",), params={"stream": stream})
    assert len(cells) == 3 and {c.verdict for c in cells.values()} == {"supported"}, {k: c.reason for k, c in cells.items()}


def test_a_streamed_call_whose_deltas_lack_index_breaks_the_round_trip_where_it_breaks(server):
    cells = cells_of(tools.test_tool_round_trip, server.base_url, models=("stream-no-index",), params={"stream": True})
    assert cells["tool round trip (stream): 1 forced call"].verdict == "non-conforming", cells["tool round trip (stream): 1 forced call"].reason


def test_after_a_tool_result_the_answer_must_answer(server):
    cells = cells_of(tools.test_tool_round_trip, server.base_url, models=("int-no-answer",), params={"stream": False})
    # the fake's first answer (a forced call) is plain text, so the round trip stops there ...
    assert cells["tool round trip: 1 forced call"].verdict == "ignored"
    from anyint_conformance.judging.checks import CHECKS, Expect
    from anyint_conformance.wire.transport import Exchange

    asked = {"messages": [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "c", "content": "{}"}]}
    empty = Exchange("POST", "u", asked, status=200, headers={"content-type": "application/json"},
                     content=json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "stop"}]}).encode())
    found = CHECKS["answers_the_tool_result"](empty, Expect())
    assert found and found[0].provenance.value == "integrity"  # ... and the rule itself fails on an empty answer
    answered = Exchange("POST", "u", asked, status=200, headers={"content-type": "application/json"},
                        content=json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "18 C"}, "finish_reason": "stop"}]}).encode())
    assert CHECKS["answers_the_tool_result"](answered, Expect()) == []


def test_an_answer_from_the_tool_result_must_follow_the_result(server):
    """The round trip's answer is sent twice, with 18 and with 31 C as the tool's result: a fixed answer is
    ignored (it never read the result), an answer naming its own number is supported."""
    fixed = cells_of(tools.test_tool_round_trip, server.base_url, models=("fx-fixed-tool-answer",), params={"stream": False})
    assert fixed["tool round trip: 1 forced call"].verdict == "supported"
    ignored = fixed["tool round trip: 2 answer from the tool result"]
    assert ignored.verdict == "ignored" and "'18' or '31'" in ignored.reason and ignored.exchanges == 2, ignored.reason
    honoured = cells_of(tools.test_tool_round_trip, server.base_url, models=("fx-honours",), params={"stream": False})["tool round trip: 2 answer from the tool result"]
    assert honoured.verdict == "supported" and "answer_follows_the_message" in honoured.reason


# -- 4. effects against a control: each outcome of each effect is reachable --------------------------

EFFECT_CASES = [  # suite function, parameter, {model: the verdict it must get}
    (parameters.test_chat_parameter, "max_tokens", {"fx-honours": "supported", "fx-ignores": "ignored", "fx-fixed": "unverified"}),
    (parameters.test_chat_parameter, "stop", {"fx-honours": "supported", "fx-ignores": "ignored", "fx-fixed": "unverified"}),
    (parameters.test_chat_parameter, "tools+tool_choice", {"fx-honours": "supported", "fx-ignores": "ignored", "int-arguments-cut": "unverified"}),
    (parameters.test_chat_parameter, "tool_choice=required", {"fx-honours": "supported", "fx-ignores": "ignored", "fx-calls": "unverified"}),
    (parameters.test_chat_parameter, "tool_choice=none", {"fx-honours": "supported", "fx-calls": "ignored", "fx-ignores": "unverified"}),
    (embeddings.test_embeddings_parameter, "dimensions", {"emb-dims-honoured": "supported", "emb-ok": "ignored", "emb-eight": "unverified"}),
    (embeddings.test_embeddings_parameter, "encoding_format", {"emb-ok": "supported", "emb-base64-ignored": "ignored", "emb-always-base64": "unverified"}),
    # (no unverified: an array answered without float vectors breaks the route's own rules first)
    (embeddings.test_embeddings_parameter, "array input", {"emb-ok": "supported", "emb-same-vector": "ignored"}),
    (images.test_images_parameter, "n", {"img-honours": "supported", "img-ok": "ignored", "img-two": "unverified"}),
    (images.test_images_parameter, "response_format", {"img-honours": "supported", "img-ok": "ignored", "img-always-b64": "unverified"}),
    (audio.test_speech_parameter, "response_format", {"speech-honours": "supported", "speech-ok": "ignored", "speech-always-wav": "unverified"}),
    (audio.test_transcription_format, "response_format=text", {"tx-honours": "supported", "tx-json": "ignored", "tx-always-text": "unverified"}),
    (audio.test_transcription_format, "response_format=verbose_json", {"tx-honours": "supported", "tx-json": "ignored"}),
]


def _params(function, parameter):
    if function is audio.test_speech_parameter:
        return {"parameter": "response_format", "value": "wav", "effect": "audio_in_asked_format"}
    if function is audio.test_transcription_format:
        return {"path": "/audio/transcriptions", "response_format": parameter.split("=", 1)[1]}
    return {"parameter": parameter}


@pytest.mark.parametrize("function, parameter, wanted", EFFECT_CASES, ids=[f"{c[0].__name__}-{c[1]}" for c in EFFECT_CASES])
def test_every_effect_reaches_each_of_its_outcomes(server, function, parameter, wanted):
    got = {model: _cell(server, function, model, parameter, **_params(function, parameter)).verdict for model in wanted}
    assert got == wanted


def test_an_ignored_format_is_ignored_not_non_conforming(server):
    """A format honoured only "when supported" that comes back in another valid one (b64_json asked, a url
    answered; wav asked, mp3 answered; text asked, JSON answered) is ignored; audio that is no audio breaks."""
    assert _cell(server, images.test_images_parameter, "img-ok", "response_format", parameter="response_format").verdict == "ignored"
    assert _cell(server, audio.test_speech_parameter, "speech-not-audio", "response_format", **_params(audio.test_speech_parameter, "")).verdict == "non-conforming"


def test_trials_make_a_flip_visible_instead_of_flipping_the_matrix(server):
    flaky = _cell(server, parameters.test_chat_parameter, "fx-flaky", "max_tokens", parameter="max_tokens", options={"trials": 3})
    assert flaky.verdict == "flaky" and flaky.reason.startswith("flaky ") and "of 3 trials" in flaky.reason
    steady = _cell(server, parameters.test_chat_parameter, "fx-honours", "max_tokens", parameter="max_tokens", options={"trials": 3})
    assert steady.verdict == "supported" and "(3/3 trials alike)" in steady.reason
    assert steady.exchanges == 6  # each trial with its control


# -- 5. the suite's own request never decides -------------------------------------------------------


def test_arguments_cut_by_our_own_cap_are_unverified_not_non_conforming(server):
    cell = _cell(server, parameters.test_chat_parameter, "int-arguments-cut", "tools+tool_choice", parameter="tools+tool_choice")
    assert cell.verdict == "unverified" and "cut by the request's own max_tokens" in cell.reason
    assert cell.request["body"]["max_tokens"] == 48  # tool bodies get the tool cap (room for a call), not --token-cap 16


# -- 6. security findings say exactly what happened ----------------------------------------------------


@pytest.mark.parametrize("mistake, verdict, security", [
    ("no credentials", "accepted", True), ("wrong key", "accepted", True),
    ("x-api-key instead of Bearer", "lenient", False), ("malformed Authorization", "lenient", False),
])
def test_credentials_accepted_are_security_findings_only_without_the_valid_key(mistake, verdict, security, monkeypatch):
    monkeypatch.setenv("FAKE_KEY", "sk-fake-secret-123456")
    with FakeServer() as fake:  # the fake checks no key at all: every mistake is answered 200
        cell = cells_of(auth.test_bad_credentials_are_refused, fake.base_url, params={"route": auth.CHAT, "mistake": mistake},
                        key_env="FAKE_KEY", models=("ok",))[f"auth: {mistake}"]
    assert (cell.verdict, cell.security) == (verdict, security), cell.reason
    if not security:
        assert "a credential form the page calls a mistake" in cell.reason and cell.violation is None


def test_the_key_reflected_by_the_sdk_example_is_a_security_finding(server, monkeypatch):
    monkeypatch.setenv("FAKE_KEY", "sk-fake-secret-123456")
    cell = cells_of(chat.test_documented_python_example, server.base_url, key_env="FAKE_KEY", models=("echo-auth-stream",))["openai-python example"]
    assert cell.verdict == "non-conforming" and cell.security and cell.violation["check"] == "credential_reflected"
    clean = cells_of(chat.test_documented_python_example, server.base_url, key_env="FAKE_KEY", models=("ok",))["openai-python example"]
    assert clean.verdict == "supported" and not clean.security


# -- 7. a model list that names no model is a verdict, not the end of the run -----------------------


@pytest.mark.parametrize("body, cause", [(b"<html>oops</html>", "the body is not JSON"), (b'{"object": "list"}', "no `data` list"),
                                         (b'{"object": "list", "data": [{"id": 7}]}', "data[0].id is 7")])
def test_a_broken_model_list_is_its_cell_and_the_run_goes_on_with_model(tmp_path, body, cause):
    with FakeServer(models_body=body) as fake:
        cells = cells_of(models.test_model_list, fake.base_url, models=("ok",))
        chat_cell = cells_of(chat.test_chat_completions, fake.base_url, models=("ok",), params={"stream": False})
        alone = run_pytest("suites/test_models.py", "--base-url", fake.base_url, "--target-name", "fake", "--disable-recording", "--report-dir", str(tmp_path))
    assert cells[None].verdict in ("broken", "non-conforming") and cells[None].violation
    assert chat_cell[None].verdict == "supported"  # the run went on with --model
    error = next(line for line in (alone.stdout + alone.stderr).splitlines() if line.startswith("ERROR"))
    assert cause in error and "--model fake:<id>" in error  # without --model: one line, the exact cause, the fix


# -- 16: the OpenAI fields beyond the page, each effect reaching its outcomes ---------------------------

import suites.test_beyond_the_page as beyond  # noqa: E402

BEYOND_CASES = [  # field, {model: the verdict it must get}
    ("response_format=json_object", {"fx-honours": "supported", "fx-ignores": "ignored", "fx-json-always": "unverified"}),
    ("response_format=json_schema", {"fx-honours": "supported", "fx-ignores": "ignored", "fx-json-wrong": "non-conforming", "fx-json-always": "unverified",
                                     "fx-json-other-always": "ignored"}),  # the same schema-breaking JSON with and without: the field changed nothing
    ("stream_options.include_usage", {"stream-usage-asked": "supported", "no-usage": "ignored", "ok": "unverified",  # ok: usage unasked too
                                      "stream-usage-early": "non-conforming", "stream-usage-twice": "non-conforming", "stream-usage-with-choices": "supported"}),
    ("n=2", {"fx-honours": "supported", "fx-ignores": "ignored", "fx-two-choices": "unverified"}),
    ("seed", {"fx-honours": "supported", "fx-random": "ignored", "fx-ignores": "unverified"}),
    ("logprobs+top_logprobs=2", {"fx-honours": "supported", "fx-ignores": "ignored", "fx-logprobs-wrong": "non-conforming"}),
    ("parallel_tool_calls=false", {"fx-honours": "supported", "fx-two-calls-always": "ignored", "fx-ignores": "unverified"}),
    ("max_completion_tokens", {"fx-honours": "supported", "fx-ignores": "ignored", "fx-fixed": "unverified"}),
    # message forms: the answer must follow the fact the message carries (against the same form carrying another)
    ("system message", {"fx-honours": "supported", "fx-ignores": "ignored", "fx-random": "unverified", "error-500": "broken", "refusal": "unsupported"}),
    ("multi-turn history", {"fx-honours": "supported", "fx-ignores": "ignored", "fx-random": "unverified"}),
    ("tool result (the suite's own call)", {"fx-honours": "supported", "fx-ignores": "ignored", "fx-random": "unverified", "int-no-answer": "non-conforming"}),
    ("image input", {"fx-honours": "supported", "ok": "ignored", "fx-random": "unverified", "refusal": "unsupported"}),
    ("tool_choice=auto (one tool)", {"fx-honours": "supported", "fx-calls": "supported", "fx-ignores": "unverified", "int-tool-not-offered": "non-conforming"}),
    ("tool_choice=auto (two tools)", {"fx-honours": "supported", "fx-ignores": "unverified"}),
    # nothing can show them: accepted is unverified, never supported
    ("parallel_tool_calls=true", {"fx-honours": "unverified", "refusal": "unsupported"}),
    ("reasoning_effort", {"fx-honours": "unverified", "ok": "unverified", "refusal": "unsupported"}),
]


@pytest.mark.parametrize("field, wanted", BEYOND_CASES, ids=[c[0] for c in BEYOND_CASES])
def test_every_field_beyond_the_page_reaches_each_of_its_outcomes(server, field, wanted):
    got = {model: _cell(server, beyond.test_beyond_the_page, model, field, field=field).verdict for model in wanted}
    assert got == wanted


def test_usage_beside_the_last_choice_is_an_upstream_warning_that_decides_only_when_strict(server):
    field = "stream_options.include_usage"
    lax = _cell(server, beyond.test_beyond_the_page, "stream-usage-with-choices", field, field=field)
    strict = _cell(server, beyond.test_beyond_the_page, "stream-usage-with-choices", field, {"strict": True}, field=field)
    assert lax.verdict == "supported" and any("not in a chunk of its own" in w["message"] and w["provenance"] == "upstream" for w in lax.warnings)
    assert strict.verdict == "non-conforming" and strict.violation["provenance"] == "upstream"


def test_sampling_effects_need_a_control_that_varies(server):
    """temperature 0 and top_p 0.01 are observed only where a high temperature varies the answers: a
    fixed-answer mock stays unverified, never supported."""
    for parameter in ("temperature", "top_p"):
        got = {model: _cell(server, parameters.test_chat_parameter, model, parameter, parameter=parameter).verdict for model in ("fx-honours", "fx-random", "fx-ignores")}
        assert got == {"fx-honours": "supported", "fx-random": "ignored", "fx-ignores": "unverified"}, parameter


def test_a_stream_that_arrives_in_one_burst_is_a_warning_only_when_its_timing_is_known():
    from anyint_conformance.judging.checks import CHECKS, Expect
    from anyint_conformance.wire.transport import Exchange, SSEEvent

    events = [SSEEvent("message", json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                                              "choices": [{"index": 0, "delta": {"content": "hi"}}]}))] * 3 + [SSEEvent("message", "[DONE]")]
    burst = Exchange("POST", "u", {"stream": True}, stream=True, status=200, headers={"content-type": "text/event-stream"}, events=events, arrivals=[2.0, 2.001])
    drip = Exchange("POST", "u", {"stream": True}, stream=True, status=200, headers={"content-type": "text/event-stream"}, events=events, arrivals=[0.4, 0.9, 1.5])
    unknown = Exchange("POST", "u", {"stream": True}, stream=True, status=200, headers={"content-type": "text/event-stream"}, events=events)
    found = CHECKS["sse_incremental"](burst, Expect())
    assert found and found[0].severity.value == "warning" and "one burst" in found[0].message
    assert CHECKS["sse_incremental"](drip, Expect()) == [] and CHECKS["sse_incremental"](unknown, Expect()) == []


def test_reasoning_a_model_returns_is_noted_never_guessed():
    from anyint_conformance.judging.checks import CHECKS, Expect
    from anyint_conformance.wire.transport import Exchange

    def answer(message):
        return Exchange("POST", "u", {}, status=200, headers={"content-type": "application/json"},
                        content=json.dumps({"choices": [{"index": 0, "message": message}]}).encode())

    noted = CHECKS["reasoning_seen"](answer({"role": "assistant", "content": "hi", "reasoning_content": "I think"}), Expect())
    assert [f.message for f in noted] == ["the answer carries reasoning_content (7 characters)"] and noted[0].severity.value == "note"
    assert CHECKS["reasoning_seen"](answer({"role": "assistant", "content": "hi"}), Expect()) == []
