"""Invalid requests must be refused with a 4xx and the OpenAI error envelope, per route and model.

Mutations are derived from each request schema (negative.from_schema); chat adds a few. Each knows the
rule it breaks: refusing what the page forbids is documented (accepting it fails the cell); refusing what
only upstream OpenAI forbids is `lenient` when accepted, and fails only with --strict. Each mutation of the valid body is its own cell; max_tokens stays bounded in
every chat body, so a server that wrongly accepts one generates a few tokens, not its whole context.
A route the model does not have at all (its valid request answered 404/405/501) is not probed further.
"""

import pytest

from anyint_conformance.suite import negative, negative_cases, operation

# route -> a valid body (model added per cell)
VALID = {
    "/chat/completions": {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8},
    "/embeddings": {"input": "Hello there."},
    "/images/generations": {"prompt": "A red circle.", "size": "256x256", "n": 1},
    "/audio/speech": {"input": "Hello there.", "voice": "alloy"},
    "/moderations": {"input": "Hello there."},
}
CHAT_EXTRA = [
    negative.replace("messages", [], "messages empty"),
    negative.replace("messages", [{"content": "Say hello."}], "message without role"),
    negative.replace("messages", [{"role": "wizard", "content": "Say hello."}], "unknown role"),
    negative.replace("max_tokens", "eight", "max_tokens not an integer"),
    negative.replace("stream", "yes", "stream not a boolean"),
    negative.replace("temperature", -1, "temperature out of range"),  # OpenAI's range is 0..2; the page gives none
    negative.replace("model", "no-such-model-anyint-conformance", "unknown model",
                     negative.declared("a model the Models API does not list", "upstream OpenAI: an unknown model is refused (404 model_not_found)")),
]


@pytest.mark.route("negative")
@pytest.mark.parametrize("path, mutation", [pytest.param(p, m, id=i) for p, m, i in negative_cases(VALID, {"/chat/completions": CHAT_EXTRA})])
def test_invalid_request_is_refused(conformance, path, mutation):
    conformance.check_rejection(operation(path), VALID[path], mutation)
