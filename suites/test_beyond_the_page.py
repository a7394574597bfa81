"""The OpenAI-compatible fields beyond the page's table, per model: the chat page says "If your client
already uses other OpenAI-compatible fields, validate them against the target model before relying on
them in production". Each is observed against a control (the same request without it), or, for a message
form, answered and conforming; a refusal is `unsupported`. Their rules are upstream OpenAI's: such a cell
fails a server only where a 2xx answer contradicts the request (integrity) or breaks the official SDK.
"""

import base64
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
# a 4x4 red PNG made by the project (suites/media/red-4x4.png), sent as a data URL
PNG = "data:image/png;base64," + base64.b64encode((Path(__file__).parent / "media" / "red-4x4.png").read_bytes()).decode()

# field -> (the request, the effect that shows it is honoured, its control(s), how many samples each)
FIELDS = {
    "response_format=json_object": ({**JSON_ASK, "response_format": {"type": "json_object"}}, "json_object_content", JSON_ASK, 1),
    "response_format=json_schema": ({**JSON_ASK, "response_format": {"type": "json_schema", "json_schema": {"name": "greeting", "strict": True, "schema": GREETING}}},
                                    "json_schema_content", JSON_ASK, 1),
    "stream_options.include_usage": ({**BASE, "stream": True, "stream_options": {"include_usage": True}}, "usage_chunk_asked", {**BASE, "stream": True}, 1),
    "n=2": ({**BASE, "n": 2}, "n_choices", BASE, 1),
    "seed": ({**SAMPLED, "seed": 42}, "seed_repeats", [{**SAMPLED, "seed": 42}, {**SAMPLED, "seed": 7}], 1),
    "logprobs+top_logprobs=2": ({**BASE, "logprobs": True, "top_logprobs": 2}, "logprobs_alternatives", None, 1),
    "parallel_tool_calls=false": ({**TWO_TOOLS, "parallel_tool_calls": False}, "at_most_one_call", TWO_TOOLS, 1),
    "parallel_tool_calls=true": ({**TWO_TOOLS, "parallel_tool_calls": True}, None, None, 1),  # whatever the model does, conforming
    "max_completion_tokens": ({**BASE, "max_completion_tokens": 2}, "max_completion_tokens_bounds", BASE, 1),  # max_tokens stays: a cost bound
    "reasoning_effort": ({**BASE, "reasoning_effort": "low"}, None, None, 1),  # accepted or refused; reasoning returned is noted on any answer
    # conversation shapes
    "system message": ({**BASE, "messages": [{"role": "system", "content": "You are a concise assistant."}, *BASE["messages"]]}, None, None, 1),
    "multi-turn history": ({**BASE, "messages": [{"role": "user", "content": "Say hello."}, {"role": "assistant", "content": "Hello."},
                                                  {"role": "user", "content": "Say it again."}]}, None, None, 1),
    "tool_choice=auto (one tool)": ({**ONE_TOOL, "tool_choice": "auto"}, None, None, 1),
    "tool_choice=auto (two tools)": ({**TWO_TOOLS, "tool_choice": "auto"}, None, None, 1),
    # the answer to a tool result, after a call the suite writes itself (so it does not hang on the model's own first call)
    "tool result (the suite's own call)": ({**ONE_TOOL, "messages": [*ASK_TOOL, {"role": "assistant", "content": "", "tool_calls": [OUR_CALL]},
                                                                     {"role": "tool", "tool_call_id": OUR_CALL["id"], "content": '{"sky": "clear", "temperature_c": 18}'}]},
                                           None, None, 1),
    "image input": ({**BASE, "messages": [{"role": "user", "content": [{"type": "text", "text": "What colour is this image?"},
                                                                      {"type": "image_url", "image_url": {"url": PNG}}]}]}, None, None, 1),
}


@pytest.mark.route("chat")
@pytest.mark.parametrize("field", list(FIELDS))
def test_beyond_the_page(conformance, field):
    probe, effect, control, samples = FIELDS[field]
    conformance.check(beyond_cell(CHAT, probe, field, effect, control=control, samples=samples))
