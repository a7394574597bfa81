"""POST /chat/completions: route cells per target x model, non-stream and stream.

What to test lives here; how (generation, sending, checks, verdicts, cassettes) lives in the package.
"""

import pytest

from anyint_conformance.cells import CellSpec
from anyint_conformance.checks import Expect
from anyint_conformance.suite import operation, overlay

CHAT = operation("/chat/completions")
# The smallest useful request; max_tokens is always sent (an unbounded local model runs for minutes).
PROBE = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}


@pytest.mark.route("chat")
@pytest.mark.generates
@pytest.mark.parametrize("stream", [False, True], ids=["nonstream", "stream"])
def test_chat_completions(conformance, stream):
    conformance.check(
        CellSpec(
            operation=CHAT,
            probe=PROBE,
            pinned={"stream": stream},
            parameter="stream" if stream else None,
            overlay=overlay("chat.request"),
            expect=Expect(response_schema="chat.response", chunk_schema="chat.chunk", stream=stream),
        )
    )


@pytest.mark.route("chat")
def test_documented_python_example(conformance):
    """The page's Python example, verbatim but for max_tokens, through the official openai SDK."""
    conformance.check_sdk_example()
