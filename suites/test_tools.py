"""Tool calling as the chat page documents it (`tools`, `tool_choice`, and the message row `tool_call_id`:
"Tool responses only"): a forced call, then the round trip, streamed and not. The assistant message with
its tool_calls goes back with a `tool` message that names the call's id, and the model must answer. The
assistant turn is sent in the page's documented form first (`content` is typed "string or array": an
empty string), then in the form openai-python agent loops send back (`content: null`, upstream OpenAI's)
as a cell of its own. A streamed call is assembled as the SDK assembles it before it goes back. Each step
is its own cell, checked against the schemas, the SDK and the integrity rules; bodies stay capped (the
tool cap: room for the call's arguments) and sampling pinned (temperature 0). The answer from the tool
result is observed against the same turn carrying another result: it must name its own result's number."""

import json

import pytest

from anyint_conformance.suite import operation

CHAT = operation("/chat/completions")
ASK = [{"role": "user", "content": "What is the weather in Paris? Use the tool."}]
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
}
FORCED = {"type": "function", "function": {"name": "get_weather"}}
RESULT, OTHER = (json.dumps({"city": "Paris", "temperature_c": c, "sky": "clear"}) for c in (18, 31))


def _turn(call: dict | None, content: str | None, result: str) -> list[dict]:
    """The question, the assistant's call (with `content` as sent back) and the tool's result."""
    return ASK + [{"role": "assistant", "content": content, "tool_calls": [call]}, {"role": "tool", "tool_call_id": (call or {}).get("id"), "content": result}]


@pytest.mark.route("chat")
@pytest.mark.parametrize("stream", [False, True], ids=["mode:json", "mode:stream"])
def test_tool_round_trip(conformance, stream):
    base = {"model": conformance.model, "tools": [WEATHER_TOOL], "max_tokens": 48, "temperature": 0, **({"stream": True} if stream else {})}
    prefix = "tool round trip (stream): " if stream else "tool round trip: "
    with conformance.lifecycle(kind="parameter", prefix=prefix) as life:
        first = life.step("1 forced call", CHAT, body={**base, "messages": ASK, "tool_choice": FORCED}, effect="streamed_tool_call" if stream else "forced_tool_call")
        calls = [c for ch in (first or {}).get("choices") or [] for c in ((ch.get("message") or {}).get("tool_calls") or [])]
        call = calls[0] if calls else None
        for label, content in (("2 answer from the tool result", ""), ("2 answer from the tool result (assistant content null, upstream's form)", None)):
            # the answer must come from the result: against the same turn with another result (18 / 31 C)
            life.step(label, CHAT, body={**base, "messages": _turn(call, content, RESULT)}, needs=call,
                      effect="answer_follows_the_message", control={**base, "messages": _turn(call, content, OTHER)}, marks=("18", "31"))
