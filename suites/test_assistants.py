"""Assistants per model: create, retrieve, list, delete, and retrieve after delete (must be gone)."""

import pytest

from anyint_conformance.suite import operation

ASSISTANT = {"name": "anyint-conformance", "instructions": "Answer in one short sentence."}
ONE = operation("/assistants/{assistant_id}", "GET")


@pytest.mark.route("assistants")
def test_assistants_lifecycle(conformance):
    with conformance.lifecycle() as life:
        created = life.step("create", operation("/assistants"), body={**ASSISTANT, "model": conformance.model})
        assistant_id = {"assistant_id": (created or {}).get("id")}
        life.cleanup("delete", operation("/assistants/{assistant_id}", "DELETE"), assistant_id)
        life.step("retrieve", ONE, assistant_id)
        life.step("list", operation("/assistants", "GET"))
        deleted = life.step("delete", operation("/assistants/{assistant_id}", "DELETE"), assistant_id)
        life.refused("retrieve after delete", ONE, assistant_id, needs=deleted)
