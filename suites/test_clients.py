"""Real client libraries, per model: the flows their users write (a chat, a stream, a forced tool call, the
page's JavaScript example) through the official openai SDK for Python and for Node, LangChain's ChatOpenAI
and the Vercel AI SDK. Each runs against a loopback replay server in front of this test's cassette (or the
live target), so it works offline in CI; a cell says whether the client worked, or the client's own error.
(The page's Python example is its own cell: test_chat_completions.py.)"""

import pytest

from anyint_conformance.suite import CLIENT_FLOWS


@pytest.mark.route("chat")
@pytest.mark.loopback  # the clients reach the replay server on 127.0.0.1, even on a replay that blocks the network
@pytest.mark.parametrize("client, flow", CLIENT_FLOWS, ids=[f"{c}:{f}" for c, f in CLIENT_FLOWS])
def test_client(conformance, client, flow):
    conformance.check_client(client, flow)
