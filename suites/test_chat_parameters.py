"""Optional chat parameters, one at a time against the minimal probe: refused, accepted, honoured or ignored.

A parameter cell is supported only when its documented effect is observed against a control: the same
request without the parameter (or the request that must show the opposite), sent alongside. Where the
control cannot show the difference, the cell is `unverified`, never a pass. Sampling is pinned
(temperature 0) except in the cells of the sampling parameters themselves.
"""

import pytest

from anyint_conformance.suite import operation, parameter_cell

CHAT = operation("/chat/completions")
SAMPLING = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}
BASE = {**SAMPLING, "temperature": 0}
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
}
NAMED = {"type": "function", "function": {"name": "get_weather"}}
# room for a whole call's JSON arguments: bodies that offer tools get --tool-token-cap, not --token-cap
TOOLS = {**BASE, "tools": [WEATHER_TOOL], "max_tokens": 48}

# parameter -> (the probe with only that parameter changed, the effect that shows it is honoured, its control[, samples])
PARAMETERS = {
    "max_tokens": ({**BASE, "max_tokens": 2}, "max_tokens_bounds_completion", BASE),
    # sampling: three answers each; observable only where a high temperature varies them (a fixed-answer mock: unverified)
    "temperature": ({**SAMPLING, "temperature": 0}, "temperature_zero_repeats", {**SAMPLING, "temperature": 1}, 3),
    "top_p": ({**SAMPLING, "temperature": 1, "top_p": 0.01}, "top_p_narrows", {**SAMPLING, "temperature": 1}, 3),
    "stop": ({**BASE, "stop": ["o"]}, "stop_sequence_absent", BASE),  # "string or array": both forms
    "stop (string)": ({**BASE, "stop": "o"}, "stop_sequence_absent", BASE),
    "tools+tool_choice": ({**TOOLS, "tool_choice": NAMED}, "forced_tool_call", None),
    "tools+tool_choice (stream)": ({**TOOLS, "tool_choice": NAMED, "stream": True}, "streamed_tool_call", None),
    "tool_choice=required": ({**TOOLS, "tool_choice": "required"}, "tool_call_required", TOOLS),
    "tool_choice=none": ({**TOOLS, "tool_choice": "none"}, "no_tool_call", {**TOOLS, "tool_choice": "required"}),
    "presence_penalty": ({**SAMPLING, "presence_penalty": 0.5}, None, None),
    "frequency_penalty": ({**SAMPLING, "frequency_penalty": 0.5}, None, None),
    "user": ({**BASE, "user": "user_123"}, None, None),
    "content array": ({**BASE, "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}]}, None, None),
}


@pytest.mark.route("chat")
@pytest.mark.parametrize("parameter", list(PARAMETERS))
def test_chat_parameter(conformance, parameter):
    probe, effect, control, *samples = PARAMETERS[parameter]
    conformance.check(parameter_cell(CHAT, probe, parameter, effect, control=control, samples=samples[0] if samples else 1))
