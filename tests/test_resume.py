"""Resume instead of re-spend: a live recording stopped in the middle of a test (Ctrl-C at its N-th request)
and started again with the same command sends only what is not recorded yet, counted on the fake server;
the resumed cassettes replay to the matrix a recording that never stopped gives."""

import json

import pytest

from tests.fakeserver import FakeServer
from tests.helpers import run_pytest

SUITE = ["suites/test_chat_completions.py", "suites/test_tools.py"]
STOP = {"ANYINT_TEST_STOP": "request", "ANYINT_TEST_STOP_AFTER": "11"}  # the 11th request: inside the second test


def _record(server, folder, mode, env=None, *more):
    args = [*more, *SUITE, "--base-url", server.base_url, "--target-name", "fake", "--model", "fx-honours", f"--record-mode={mode}",
            "--cassette-dir", str(folder / "cassettes"), "--report-dir", str(folder / "reports"), "--no-expectations", "-p", "tests.stoppers"]
    before = server.requests
    result = run_pytest(*args, env=env)
    return server.requests - before, result


def _verdicts(folder, base_url) -> dict:
    """The recording replayed (network blocked; the same base URL, as recorded)."""
    result = run_pytest(*SUITE, "--base-url", base_url, "--target-name", "fake", "--model", "fx-honours", "--cassette-dir", str(folder / "cassettes"), "--report-dir", str(folder / "replay"), "--no-expectations")
    assert "did not run to its end" not in result.stdout, result.stdout[-2000:]
    cells = json.loads((folder / "replay" / "support-matrix.json").read_text())["cells"]
    return {(c["model"], c["route"], c["parameter"]): c["verdict"] for c in cells}


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """A recording that never stopped: how many requests it sends, and its verdicts on replay."""
    folder = tmp_path_factory.mktemp("whole")
    with FakeServer() as server:
        sent, result = _record(server, folder, "once")
    assert sent > 15 and "did not run to its end" not in result.stdout
    return sent, _verdicts(folder, server.base_url)


@pytest.mark.parametrize("mode, stop", [("once", "ctrl-c"), ("rewrite", "ctrl-c"), ("once", "budget")])
def test_a_stopped_recording_started_again_sends_only_what_is_not_recorded(tmp_path, whole, mode, stop):
    """Stopped by Ctrl-C at a request inside a test, or by --max-requests 8 (inside the streamed round trip: its
    control cannot be sent), then started again without a budget."""
    full, verdicts = whole
    with FakeServer() as server:
        if mode == "rewrite":  # an older recording is there: a rewrite replaces it, and a resumed rewrite must not keep it
            _record(server, tmp_path / "old", "once")
            (tmp_path / "cassettes").parent.mkdir(exist_ok=True)
            (tmp_path / "old" / "cassettes").rename(tmp_path / "cassettes")
        with FakeServer() as fresh:
            first, stopped = _record(fresh, tmp_path, mode, *((STOP,) if stop == "ctrl-c" else ({}, "--max-requests", "8")))
            out = stopped.stdout + stopped.stderr
            assert "did not run to its end" in out and "to resume" in out, out[-2000:]
            unfinished = [p for p in (tmp_path / "cassettes").rglob("*.yaml") if p.read_text().startswith("anyint_incomplete:")]
            assert len(unfinished) == 1  # the test that was stopped (or whose later steps the budget cut) says so
            second, resumed = _record(fresh, tmp_path, mode)
            assert "did not run to its end" not in resumed.stdout, resumed.stdout[-2000:]
            assert mode == "once" or "resumed the interrupted re-recording" in resumed.stdout
            url = fresh.base_url
    assert first + second == full, (first, second, resumed.stdout[-1500:])  # not one request sent twice, none missing
    assert not any(p.read_text().startswith("anyint_incomplete:") for p in (tmp_path / "cassettes").rglob("*.yaml"))
    assert not (tmp_path / "cassettes" / "fake" / ".rewrite-session.json").exists()  # the re-recording ran to its end
    assert _verdicts(tmp_path, url) == verdicts


def test_a_rewrite_that_ran_to_its_end_is_not_resumed_the_next_time(tmp_path, whole):
    full, _ = whole
    with FakeServer() as server:
        once, _ = _record(server, tmp_path, "rewrite")
    with FakeServer() as server:
        again, _ = _record(server, tmp_path, "rewrite")
    assert once == again == full
