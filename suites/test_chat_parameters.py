"""Optional chat parameters, one at a time against the minimal probe: refused, accepted, honoured or ignored.

Only the probe is sent (plus nothing else): a parameter cell costs one request. Where the docs promise an
observable effect, the named effect check decides between supported and ignored.
"""

import pytest

from anyint_conformance.checks import Expect
from anyint_conformance.suite import operation, parameter_cell

CHAT = operation("/chat/completions")
BASE = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
}

# parameter -> (the probe with only that parameter changed, the effect that shows it is honoured)
PARAMETERS = {
    "max_tokens": ({**BASE, "max_tokens": 2}, "max_tokens_bounds_completion"),
    "temperature": ({**BASE, "temperature": 0}, None),
    "top_p": ({**BASE, "top_p": 0.5}, None),
    "stop": ({**BASE, "stop": ["o"]}, "stop_sequence_absent"),
    "tools+tool_choice": ({**BASE, "tools": [WEATHER_TOOL], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}, "forced_tool_call"),
    "presence_penalty": ({**BASE, "presence_penalty": 0.5}, None),
    "frequency_penalty": ({**BASE, "frequency_penalty": 0.5}, None),
    "user": ({**BASE, "user": "user_123"}, None),
    "content array": ({**BASE, "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}]}, None),
}


@pytest.mark.route("chat")
@pytest.mark.parametrize("parameter", list(PARAMETERS))
def test_chat_parameter(conformance, parameter):
    probe, effect = PARAMETERS[parameter]
    conformance.check(parameter_cell(CHAT, probe, parameter, Expect(response_schema="chat.response"), effect))
