"""POST /chat/completions: route cells per target x model, non-stream and stream.

What to test lives here; how (generation, sending, checks, verdicts, cassettes) lives in the package.
"""

import pytest

from anyint_conformance.suite import operation, route_cell

CHAT = operation("/chat/completions")
# The smallest useful request; max_tokens is always sent (an unbounded local model runs for minutes), and
# temperature 0 (the page: "Lower values are more deterministic"), so a real model answers alike each time.
PROBE = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8, "temperature": 0}


@pytest.mark.route("chat")
@pytest.mark.parametrize("stream", [False, True], ids=["mode:json", "mode:stream"])
def test_chat_completions(conformance, stream):
    conformance.check(route_cell(CHAT, PROBE, pinned={"stream": stream}, parameter="stream" if stream else None))


@pytest.mark.route("chat")
def test_documented_python_example(conformance):
    """The page's Python example, verbatim but for max_tokens, through the official openai SDK."""
    conformance.check_sdk_example()
