"""Threads, messages and runs per model: an assistant, a thread (retrieved), a message (listed), a run
polled to a terminal state within --poll-timeout, then the thread and the assistant deleted (each a
cell; deleted even when a step failed)."""

import pytest

from anyint_conformance.suite import operation


@pytest.mark.route("threads")
def test_thread_run_lifecycle(conformance):
    with conformance.lifecycle() as life:
        assistant = life.step("create assistant", operation("/assistants"), body={"model": conformance.model, "instructions": "Answer in one short sentence."})
        assistant_id = (assistant or {}).get("id")
        life.cleanup("delete assistant", operation("/assistants/{assistant_id}", "DELETE"), {"assistant_id": assistant_id})
        thread = life.step("create thread", operation("/threads"), body={})
        thread_id = {"thread_id": (thread or {}).get("id")}
        life.cleanup("delete thread", operation("/threads/{thread_id}", "DELETE"), thread_id)
        life.step("retrieve thread", operation("/threads/{thread_id}", "GET"), thread_id)
        life.step("add message", operation("/threads/{thread_id}/messages"), thread_id, body={"role": "user", "content": "Say hello."})
        life.step("list messages", operation("/threads/{thread_id}/messages", "GET"), thread_id)
        run = life.step("create run", operation("/threads/{thread_id}/runs"), thread_id, body={"assistant_id": assistant_id}, needs=assistant_id)
        life.poll("run to terminal state", operation("/threads/{thread_id}/runs/{run_id}", "GET"), {**thread_id, "run_id": (run or {}).get("id")})
        life.step("delete thread", operation("/threads/{thread_id}", "DELETE"), thread_id)
        life.step("delete assistant", operation("/assistants/{assistant_id}", "DELETE"), {"assistant_id": assistant_id})
