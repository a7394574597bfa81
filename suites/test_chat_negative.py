"""POST /chat/completions must refuse invalid requests: a 4xx with the OpenAI error envelope, per model.

Each mutation of the valid probe is its own cell. The contract: never a 2xx that silently accepts
nonsense, never a 5xx. max_tokens stays bounded in every body (a server that wrongly accepts one
generates a few tokens, not its whole context).
"""

import pytest

from anyint_conformance.checks import Expect
from anyint_conformance.negative import content_type, drop, malformed_json, replace
from anyint_conformance.suite import operation

CHAT = operation("/chat/completions")
VALID = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}

MUTATIONS = [
    drop("messages"),
    drop("model"),
    replace("messages", "Say hello.", "messages not an array"),
    replace("messages", [], "messages empty"),
    replace("messages", [{"content": "Say hello."}], "message without role"),
    replace("messages", [{"role": "wizard", "content": "Say hello."}], "unknown role"),
    replace("max_tokens", "eight", "max_tokens not an integer"),
    replace("stream", "yes", "stream not a boolean"),
    replace("temperature", -1, "temperature out of range"),
    replace("model", "no-such-model-anyint-conformance", "unknown model"),
    malformed_json(),
    content_type("text/plain"),
]


@pytest.mark.route("chat")
@pytest.mark.parametrize("mutation", MUTATIONS, ids=repr)
def test_chat_refuses_invalid_request(conformance, mutation):
    conformance.check_rejection(CHAT, VALID, mutation, Expect())
