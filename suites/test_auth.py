"""Credentials, straight from the page's "common mistakes": anything but `Authorization: Bearer <key>`
must be refused (upstream OpenAI: a 401 with the error envelope) and carry no model output. A 2xx without
the valid key is a security finding; the valid key accepted in a form the page calls a mistake is lenient."""

import pytest

from anyint_conformance.suite import Provenance, operation

CHAT = operation("/chat/completions")
MODELS = operation("/models", "GET")  # the Models API the docs point to
VALID = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}
# mistake -> (the headers sent, where "{key}" is the valid key; how the evidence shows them; whether a 2xx is a
# security finding: only a request without the valid key is; the valid key in a wrong form is a mistake the
# page lists, accepted: a finding, not a security one)
MISTAKES = {
    "no credentials": ({}, "none", True),
    "x-api-key instead of Bearer": ({"x-api-key": "{key}"}, "x-api-key: <the valid key>", False),
    "wrong key": ({"Authorization": "Bearer anyint-conformance-wrong-key"}, "Authorization: Bearer <a wrong key>", True),
    "malformed Authorization": ({"Authorization": "{key}"}, "Authorization: <the valid key without 'Bearer '>", False),
}
RULE = ("a request without the valid key as a Bearer token must be refused",
        '000_c0a4473b350488b6.txt / Authentication: "Authorization: Bearer <ANYINT_API_KEY>"; Common mistakes: "Using x-api-key instead of Authorization: Bearer"')


@pytest.mark.route("auth")
@pytest.mark.per_target
@pytest.mark.parametrize("route", [CHAT, MODELS], ids=["chat", "models"])
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_bad_credentials_are_refused(conformance, route, mistake):
    headers, shown, security = MISTAKES[mistake]
    conformance.check_auth(route, VALID, mistake, headers, shown, conformance.rule(*RULE, provenance=Provenance.DOCUMENTED), security=security)
