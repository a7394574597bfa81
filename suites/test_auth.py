"""Credentials, straight from the page's "common mistakes": anything but `Authorization: Bearer <key>`
must be refused (upstream OpenAI: a 401 with the error envelope) and carry no model output. A 2xx is a
security finding."""

import pytest

from anyint_conformance.suite import operation

CHAT = operation("/chat/completions")
MODELS = operation("/models", "GET")  # the Models API the docs point to
VALID = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}
MISTAKES = ["no credentials", "x-api-key instead of Bearer", "wrong key", "malformed Authorization"]


@pytest.mark.route("auth")
@pytest.mark.per_target
@pytest.mark.parametrize("route", [CHAT, MODELS], ids=["chat", "models"])
@pytest.mark.parametrize("mistake", MISTAKES)
def test_bad_credentials_are_refused(conformance, route, mistake):
    conformance.check_auth(route, VALID, mistake)
