"""Assistants per model: create, retrieve, list, delete, and retrieve after delete (must be gone); each step
agrees with what came before (the model and instructions asked, the id created)."""

import pytest

from anyint_conformance.suite import operation

ASSISTANT = {"name": "anyint-conformance", "instructions": "Answer in one short sentence."}
ONE = operation("/assistants/{assistant_id}", "GET")


@pytest.mark.route("assistants")
def test_assistants_lifecycle(conformance):
    asked = {**ASSISTANT, "model": conformance.model}
    with conformance.lifecycle() as life:
        created = life.step("create", operation("/assistants"), body=asked, agrees=asked)
        assistant_id = (created or {}).get("id")
        life.cleanup("delete", operation("/assistants/{assistant_id}", "DELETE"), {"assistant_id": assistant_id})
        life.step("retrieve", ONE, {"assistant_id": assistant_id}, agrees={"id": assistant_id, **asked})
        life.step("list", operation("/assistants", "GET"), lists=assistant_id)
        deleted = life.step("delete", operation("/assistants/{assistant_id}", "DELETE"), {"assistant_id": assistant_id})
        life.refused("retrieve after delete", ONE, {"assistant_id": assistant_id}, needs=deleted)
