"""Optional chat parameters, one at a time against the minimal probe: refused, accepted, honoured or ignored.

Only the probe is sent: a parameter cell costs one request. Supported means the documented effect was
observed on the answer; a parameter without an observable effect is at best `unverified`.
"""

import pytest

from anyint_conformance.suite import operation, parameter_cell

CHAT = operation("/chat/completions")
BASE = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
}
NAMED = {"type": "function", "function": {"name": "get_weather"}}
TOOLS = {**BASE, "tools": [WEATHER_TOOL], "max_tokens": 16}  # room for a call's JSON arguments (the token cap still applies)

# parameter -> (the probe with only that parameter changed, the effect that shows it is honoured)
PARAMETERS = {
    "max_tokens": ({**BASE, "max_tokens": 2}, "max_tokens_bounds_completion"),
    "temperature": ({**BASE, "temperature": 0}, None),
    "top_p": ({**BASE, "top_p": 0.5}, None),
    "stop": ({**BASE, "stop": ["o"]}, "stop_sequence_absent"),  # "string or array": both forms
    "stop (string)": ({**BASE, "stop": "o"}, "stop_sequence_absent"),
    "tools+tool_choice": ({**TOOLS, "tool_choice": NAMED}, "forced_tool_call"),
    "tools+tool_choice (stream)": ({**TOOLS, "tool_choice": NAMED, "stream": True}, "streamed_tool_call"),
    "tool_choice=required": ({**TOOLS, "tool_choice": "required"}, "tool_call_required"),
    "tool_choice=none": ({**TOOLS, "tool_choice": "none"}, "no_tool_call"),
    "presence_penalty": ({**BASE, "presence_penalty": 0.5}, None),
    "frequency_penalty": ({**BASE, "frequency_penalty": 0.5}, None),
    "user": ({**BASE, "user": "user_123"}, None),
    "content array": ({**BASE, "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}]}, None),
}


@pytest.mark.route("chat")
@pytest.mark.parametrize("parameter", list(PARAMETERS))
def test_chat_parameter(conformance, parameter):
    probe, effect = PARAMETERS[parameter]
    conformance.check(parameter_cell(CHAT, probe, parameter, effect))
