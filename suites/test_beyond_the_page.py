"""The OpenAI-compatible fields beyond the page's table, per model: the chat page says "If your client
already uses other OpenAI-compatible fields, validate them against the target model before relying on
them in production". Each is observed against a control (the same request without it; for a message
form, the same message carrying another fact), `unverified` where nothing can show it; a refusal is
`unsupported`. Their rules are upstream OpenAI's: such a cell fails a server only where a 2xx answer
contradicts the request (integrity) or breaks the official SDK.
"""

import base64
import json
from pathlib import Path

import pytest

from anyint_conformance.suite import beyond_cell, operation

CHAT = operation("/chat/completions")
BASE = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8, "temperature": 0}
SAMPLED = {**BASE, "temperature": 1}
# room for a whole object: bodies that ask for JSON get --tool-token-cap, not --token-cap
JSON_ASK = {**BASE, "messages": [{"role": "user", "content": "Reply with a JSON object whose key greeting says hello."}], "max_tokens": 48}
GREETING = {"type": "object", "properties": {"greeting": {"type": "string"}}, "required": ["greeting"], "additionalProperties": False}
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
TIME = {"type": "function", "function": {"name": "get_time", "description": "Local time in a city",
                                         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
ASK_TOOL = [{"role": "user", "content": "What is the weather in Paris? Use the tool."}]
ONE_TOOL = {**BASE, "messages": ASK_TOOL, "tools": [WEATHER], "max_tokens": 48}
TWO_TOOLS = {**BASE, "messages": [{"role": "user", "content": "What is the weather in Paris and the time in Tokyo? Use both tools."}],
             "tools": [WEATHER, TIME], "max_tokens": 48}
OUR_CALL = {"id": "call_anyint_conformance_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}


def _png(name: str) -> str:
    """A 4x4 PNG made by the project (suites/media/), as a data URL."""
    return "data:image/png;base64," + base64.b64encode((Path(__file__).parent / "media" / name).read_bytes()).decode()


# Message forms: the request and its control differ in one fact, the word each answer should name
def _system(word: str) -> dict:
    return {**BASE, "messages": [{"role": "system", "content": f"Whatever the user says, reply with the single word {word}."},
                                 {"role": "user", "content": "Say one word."}]}


def _history(word: str) -> dict:
    return {**BASE, "messages": [{"role": "user", "content": f"Remember this word: {word}."}, {"role": "assistant", "content": "I will remember it."},
                                 {"role": "user", "content": "Which word did I ask you to remember? Reply with that word only."}]}


def _tool_result(celsius: int) -> dict:  # a call the suite writes itself: the step does not hang on the model's own first call
    return {**ONE_TOOL, "messages": [*ASK_TOOL, {"role": "assistant", "content": "", "tool_calls": [OUR_CALL]},
                                     {"role": "tool", "tool_call_id": OUR_CALL["id"], "content": json.dumps({"sky": "clear", "temperature_c": celsius})}]}


def _image(name: str) -> dict:
    return {**BASE, "messages": [{"role": "user", "content": [{"type": "text", "text": "What colour is this image? Reply with one word."},
                                                              {"type": "image_url", "image_url": {"url": _png(name)}}]}]}


# field -> the request, the effect that shows it is honoured, its control(s), how many samples each, the words a message form's answers name
FIELDS = {
    "response_format=json_object": dict(probe={**JSON_ASK, "response_format": {"type": "json_object"}}, effect="json_object_content", control=JSON_ASK),
    "response_format=json_schema": dict(probe={**JSON_ASK, "response_format": {"type": "json_schema", "json_schema": {"name": "greeting", "strict": True, "schema": GREETING}}},
                                        effect="json_schema_content", control=JSON_ASK),
    "stream_options.include_usage": dict(probe={**BASE, "stream": True, "stream_options": {"include_usage": True}}, effect="usage_chunk_asked", control={**BASE, "stream": True}),
    "n=2": dict(probe={**BASE, "n": 2}, effect="n_choices", control=BASE),
    "seed": dict(probe={**SAMPLED, "seed": 42}, effect="seed_repeats", control=[{**SAMPLED, "seed": 42}, {**SAMPLED, "seed": 7}]),
    "logprobs+top_logprobs=2": dict(probe={**BASE, "logprobs": True, "top_logprobs": 2}, effect="logprobs_alternatives"),
    "parallel_tool_calls=false": dict(probe={**TWO_TOOLS, "parallel_tool_calls": False}, effect="at_most_one_call", control=TWO_TOOLS),
    # true is upstream's default: accepted or refused, no answer can show its effect
    "parallel_tool_calls=true": dict(probe={**TWO_TOOLS, "parallel_tool_calls": True}),
    "max_completion_tokens": dict(probe={**BASE, "max_completion_tokens": 2}, effect="max_completion_tokens_bounds", control=BASE),  # max_tokens stays: a cost bound
    "reasoning_effort": dict(probe={**BASE, "reasoning_effort": "low"}),  # accepted or refused; reasoning returned is noted on any answer
    # conversation shapes
    "system message": dict(probe=_system("banana"), effect="answer_follows_the_message", control=_system("cherry"), marks=("banana", "cherry")),
    "multi-turn history": dict(probe=_history("banana"), effect="answer_follows_the_message", control=_history("cherry"), marks=("banana", "cherry")),
    "tool_choice=auto (one tool)": dict(probe={**ONE_TOOL, "tool_choice": "auto"}, effect="calls_an_offered_tool"),
    "tool_choice=auto (two tools)": dict(probe={**TWO_TOOLS, "tool_choice": "auto"}, effect="calls_an_offered_tool"),
    "tool result (the suite's own call)": dict(probe=_tool_result(18), effect="answer_follows_the_message", control=_tool_result(31), marks=("18", "31")),
    "image input": dict(probe=_image("red-4x4.png"), effect="answer_follows_the_message", control=_image("blue-4x4.png"), marks=("red", "blue")),
}


@pytest.mark.route("chat")
@pytest.mark.parametrize("field", list(FIELDS))
def test_beyond_the_page(conformance, field):
    conformance.check(beyond_cell(CHAT, field=field, **FIELDS[field]))
