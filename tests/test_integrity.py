"""Every integrity rule fails on a deliberately broken answer, and holds on a correct one.

The fake server (tests/fakeserver.py) keeps real state for files, batches, assistants, threads, runs
and videos, and answers like OpenAI unless one fault is switched on. Each lifecycle is the suite users
run, called in process through the engine; each rule is one case: its fault, the step that must break,
and the rule that must say so, as integrity (deciding: the cell is non-conforming).
"""

import pytest

import suites.test_assistants as assistants
import suites.test_batches as batches
import suites.test_files as files
import suites.test_threads as threads
import suites.test_videos as videos
from tests.fakeserver import FakeServer
from tests.harness import cells_of

# (imported as modules: a suite's test function named here would be collected as one of ours)
LIFECYCLES = {"files": files.test_files_lifecycle, "batches": batches.test_batch_lifecycle, "assistants": assistants.test_assistants_lifecycle,
              "threads": threads.test_thread_run_lifecycle, "videos": videos.test_video_lifecycle}

# fault -> (lifecycle, the step whose cell must break, the check that must speak)
RULES = {
    "upload.bytes": ("files", "upload", "agrees"),
    "upload.filename": ("files", "upload", "agrees"),
    "files.list-missing": ("files", "list", "listed"),
    "retrieve.id": ("files", "retrieve", "agrees"),
    "content.bytes": ("files", "content", "same_bytes"),
    "delete.false": ("files", "delete", "deleted"),
    "delete.still-there": ("files", "retrieve after delete", "gone"),
    "batch.create.endpoint": ("batches", "create", "agrees"),
    "batch.poll.id": ("batches", "poll to terminal state", "agrees"),
    "batch.no-output": ("batches", "poll to terminal state", "batch_output"),
    "batch.output.custom_id": ("batches", "output file content", "batch_output"),
    "batch.cancel.status": ("batches", "cancel", "agrees"),
    "batch.unknown-file": ("batches", "create from a file never uploaded", "refused"),
    "assistant.model": ("assistants", "create", "agrees"),
    "assistant.list-missing": ("assistants", "list", "listed"),
    "message.role": ("threads", "add message", "agrees"),
    "messages.list-missing": ("threads", "list messages", "listed"),
    "run.assistant": ("threads", "create run", "agrees"),
    "video.size": ("videos", "create", "agrees"),
    "videos.list-missing": ("videos", "list", "listed"),
}


def _run(lifecycle: str, faults=()) -> dict:
    with FakeServer(faults=set(faults)) as server:
        return cells_of(LIFECYCLES[lifecycle], server.base_url, models=("ok",))


@pytest.mark.parametrize("lifecycle", list(LIFECYCLES))
def test_a_correct_server_holds_every_integrity_rule(lifecycle):
    cells = _run(lifecycle)
    failing = {p: (c.verdict, c.reason) for p, c in cells.items() if c.verdict not in ("supported", "rejected")}
    assert cells and failing == {}, failing


@pytest.mark.parametrize("fault", list(RULES))
def test_each_integrity_rule_fails_on_its_fault(fault):
    lifecycle, step, check = RULES[fault]
    cell = _run(lifecycle, {fault})[f"lifecycle: {step}"]
    assert cell.verdict == "non-conforming", (fault, cell.verdict, cell.reason)
    assert cell.violation["check"] == check and cell.violation["provenance"] == "integrity", cell.violation
    # every other step of the lifecycle keeps its own verdict: one fault, one broken rule
