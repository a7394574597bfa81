"""Threads, messages and runs per model: an assistant, a thread (retrieved), a message (listed), a run
polled to a terminal state within --poll-timeout, then the thread (gone after) and the assistant deleted
(each a cell; deleted even when a step failed). Each step agrees with what came before."""

import pytest

from anyint_conformance.suite import operation

SAID = "Say hello."


@pytest.mark.route("threads")
def test_thread_run_lifecycle(conformance):
    with conformance.lifecycle() as life:
        assistant = life.step("create assistant", operation("/assistants"), body={"model": conformance.model, "instructions": "Answer in one short sentence."})
        assistant_id = (assistant or {}).get("id")
        life.cleanup("delete assistant", operation("/assistants/{assistant_id}", "DELETE"), {"assistant_id": assistant_id})
        thread = life.step("create thread", operation("/threads"), body={})
        thread_id = (thread or {}).get("id")
        life.cleanup("delete thread", operation("/threads/{thread_id}", "DELETE"), {"thread_id": thread_id})
        life.step("retrieve thread", operation("/threads/{thread_id}", "GET"), {"thread_id": thread_id}, agrees={"id": thread_id})
        message = life.step("add message", operation("/threads/{thread_id}/messages"), {"thread_id": thread_id}, body={"role": "user", "content": SAID},
                            agrees={"thread_id": thread_id, "role": "user"})
        life.step("list messages", operation("/threads/{thread_id}/messages", "GET"), {"thread_id": thread_id}, lists=(message or {}).get("id"))
        run = life.step("create run", operation("/threads/{thread_id}/runs"), {"thread_id": thread_id}, body={"assistant_id": assistant_id}, needs=assistant_id,
                        agrees={"thread_id": thread_id, "assistant_id": assistant_id})
        run_id = (run or {}).get("id")
        life.poll("run to terminal state", operation("/threads/{thread_id}/runs/{run_id}", "GET"), {"thread_id": thread_id, "run_id": run_id},
                  agrees={"id": run_id, "thread_id": thread_id})
        deleted = life.step("delete thread", operation("/threads/{thread_id}", "DELETE"), {"thread_id": thread_id})
        life.refused("retrieve thread after delete", operation("/threads/{thread_id}", "GET"), {"thread_id": thread_id}, needs=deleted)
        life.step("delete assistant", operation("/assistants/{assistant_id}", "DELETE"), {"assistant_id": assistant_id})
