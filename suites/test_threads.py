"""Threads, messages and runs per model: an assistant, a thread, a message, a run polled to a terminal
state within --poll-timeout, then everything deleted (even when a step failed)."""

import pytest

from anyint_conformance.checks import Expect
from anyint_conformance.suite import operation


@pytest.mark.route("threads")
@pytest.mark.requests(2, 7, polls=True)
def test_thread_run_lifecycle(conformance):
    with conformance.lifecycle() as life:
        assistant = life.step("create assistant", operation("/assistants"), body={"model": conformance.model, "instructions": "Answer in one short sentence."},
                              expect=Expect(response_schema="assistant"))
        assistant_id = (assistant or {}).get("id")
        life.cleanup("delete assistant", operation("/assistants/{assistant_id}", "DELETE"), {"assistant_id": assistant_id}, Expect(response_schema="assistant.deleted"))
        thread = life.step("create thread", operation("/threads"), body={}, expect=Expect(response_schema="thread"))
        thread_id = (thread or {}).get("id")
        life.cleanup("delete thread", operation("/threads/{thread_id}", "DELETE"), {"thread_id": thread_id}, Expect(response_schema="thread.deleted"))
        life.step("add message", operation("/threads/{thread_id}/messages"), {"thread_id": thread_id}, body={"role": "user", "content": "Say hello."},
                  expect=Expect(response_schema="message"))
        run = life.step("create run", operation("/threads/{thread_id}/runs"), {"thread_id": thread_id}, body={"assistant_id": assistant_id},
                        expect=Expect(response_schema="run"), needs=assistant_id)
        life.poll("run to terminal state", operation("/threads/{thread_id}/runs/{run_id}", "GET"), {"thread_id": thread_id, "run_id": (run or {}).get("id")},
                  expect=Expect(response_schema="run"))
