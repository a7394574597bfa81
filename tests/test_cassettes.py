"""Record/replay: no secret on disk, clean messages for misses and broken cassettes, replay = committed matrix."""

import json
import os
import re
import shutil
from pathlib import Path

import httpx
import pytest

from anyint_conformance.wire.recording import Cassette, CassetteMiss, CassetteTransport
from anyint_conformance.model.verdicts import REDACTED
from tests.fakeserver import FakeServer
from tests.helpers import ROOT, run_pytest

KEY = "sk-test-" + "9f8e7d6c5b4a39281706"
KEY_LIKE = re.compile(r"Bearer [A-Za-z0-9._-]{6,}|sk-[A-Za-z0-9_-]{8,}")


def test_a_key_echoed_by_the_server_never_reaches_the_cassette(tmp_path):
    path = tmp_path / "echo.yaml"
    cassette = Cassette(path, "new_episodes", [KEY])
    with FakeServer() as server, httpx.Client(transport=CassetteTransport(cassette, httpx.HTTPTransport()),
                                              headers={"Authorization": f"Bearer {KEY}", "x-api-key": KEY}) as client:
        response = client.post(f"{server.base_url}/echo-auth?key={KEY}", json={"note": KEY})
        assert KEY in response.text  # the server really echoed it (and the live answer is untouched)
    cassette.save()
    text = path.read_text()
    assert KEY not in text
    assert not KEY_LIKE.search(text)
    assert REDACTED in text
    assert "authorization:" not in text.lower().replace("x-echo-authorization", "")


def _committed_text_files():
    for base in (ROOT / "cassettes", ROOT / "reports"):
        for path in base.rglob("*"):
            if path.is_file() and path.suffix in (".yaml", ".json", ".md", ".html", ".xml"):
                yield path


def test_committed_cassettes_and_reports_hold_no_secret():
    secrets = [os.environ[v] for v in ("ANYINT_API_KEY", "LLAMACPP_API_KEY", "LITELLM_MASTER_KEY") if len(os.environ.get(v, "")) >= 4]
    files = list(_committed_text_files())
    assert files, "nothing to scan"
    leaks = []
    for path in files:
        text = path.read_text(errors="replace")
        if KEY_LIKE.search(text) or any(s in text for s in secrets):
            leaks.append(str(path.relative_to(ROOT)))
    assert leaks == []


def run_suite(*args):
    return run_pytest("suites/test_chat_completions.py", *args, timeout=600)  # the file of the cassettes these tests damage


@pytest.fixture
def cassette_copy(tmp_path):
    copy = tmp_path / "cassettes"
    shutil.copytree(ROOT / "cassettes" / "litellm", copy / "litellm")
    return copy


def _one_cassette(copy: Path) -> Path:
    return next((copy / "litellm" / "test_chat_completions").glob("test_chat_completions[[]mock-chat-a-mode_json[]].yaml"))


def test_a_request_missing_from_the_cassette_fails_with_where_it_differs_and_the_fix(cassette_copy, tmp_path):
    path = _one_cassette(cassette_copy)
    path.write_text(path.read_text().replace("Say hello.", "Say goodbye."))
    result = run_suite("--cassette-dir", str(cassette_copy), "--report-dir", str(tmp_path), "--no-expectations", "-k", "mock-chat-a-mode:json")
    assert result.returncode == 1
    out = result.stdout
    assert "no recorded answer for POST /v1/chat/completions (model mock-chat-a)" in out
    # where the request differs from the closest recording, past the identical prefix
    assert 'at $.messages[0].content it has "Say goodbye." and this request has "Say hello."' in out, out[-2000:]
    assert "--target litellm --record-mode=rewrite" in out
    assert "Traceback" not in out and "CannotOverwriteExistingCassetteException" not in out and "How to fix" not in out
    # the miss observed nothing: no junk cell is made (the earlier matrix, had there been one, keeps the cell)
    assert not (tmp_path / "support-matrix.json").exists()


def test_a_lifecycle_miss_never_shows_vcr_s_own_message(cassette_copy, tmp_path):
    path = next((cassette_copy / "litellm" / "test_files").glob("*.yaml"))
    path.write_text(path.read_text().replace("purpose", "porpoise"))
    result = run_pytest("suites/test_files.py", "--cassette-dir", str(cassette_copy), "--report-dir", str(tmp_path), "--no-expectations", "--target", "litellm")
    out = result.stdout + result.stderr
    assert result.returncode == 1 and "no recorded answer for POST /v1/files" in out
    assert 'at $.purpose it has "batch" and this request has nothing' in out or "porpoise" in out
    assert "Can't play back" not in out and "How to fix" not in out and "Traceback" not in out and "new_episodes" not in out


@pytest.mark.parametrize("damage", ["truncate", "garbage", "hand-edit"])
def test_a_broken_cassette_fails_naming_the_file_and_the_fix(cassette_copy, tmp_path, damage):
    path = _one_cassette(cassette_copy)
    text = path.read_text()
    if damage == "truncate":
        path.write_text(text[: len(text) // 3])
    elif damage == "garbage":
        path.write_text("interactions: [ {{{ not yaml")
    else:
        path.write_text(text.replace("  response:", "  answer:", 1))
    result = run_suite("--cassette-dir", str(cassette_copy), "--report-dir", str(tmp_path), "--no-expectations", "-k", "mock-chat-a-mode:json")
    assert result.returncode == 1, result.stdout[-2000:]
    assert "cannot be read" in result.stdout and "re-record with" in result.stdout, result.stdout[-2000:]
    assert f"{path.name}" in result.stdout  # the file, not its folder
    if damage == "garbage":
        assert re.search(re.escape(path.name) + r", line \d+ cannot be read", result.stdout)
    assert "passed" not in result.stdout.splitlines()[-1]


def test_every_cell_that_cites_a_cassette_cites_its_interaction():
    cells = json.loads((ROOT / "reports" / "support-matrix.json").read_text())["cells"]
    cited = [c for c in cells if c.get("cassette")]
    assert len(cited) > 500
    assert [c["test"] for c in cited if c.get("interaction") is None] == []
    for kind in ("negative", "lifecycle"):  # raw bodies (malformed JSON, text/plain) and multipart uploads too
        assert any(c["kind"] == kind and c["interaction"] is not None for c in cited)


@pytest.mark.parametrize("model", ["hang", "cut"])
def test_a_failure_without_an_answer_is_recorded_and_replayed_as_the_same_failure(tmp_path, model):
    """VCR.py cannot record a timeout or a cut connection; the recorder writes them as a marked answer."""
    common = ["suites/test_chat_completions.py::test_chat_completions", "--target-name", "fake", "--model", model, "--no-expectations",
              "--request-timeout", "1", "--cassette-dir", str(tmp_path / "c"), "-k", "mode:stream"]
    with FakeServer() as server:
        recorded = run_pytest(*common, "--base-url", server.base_url, "--record-mode=once", "--report-dir", str(tmp_path / "r1"))
    # replay: the server is gone, sockets are blocked; the same URL is looked up in the cassette
    replayed = run_pytest(*common, "--base-url", server.base_url, "--report-dir", str(tmp_path / "r2"))
    assert "Traceback" not in recorded.stdout + replayed.stdout
    first, second = (json.loads((tmp_path / d / "support-matrix.json").read_text())["cells"] for d in ("r1", "r2"))
    assert [(c["verdict"], c["reason"]) for c in first] == [(c["verdict"], c["reason"]) for c in second]
    assert first[0]["verdict"] == "broken" and first[0]["interaction"] == 0


def test_multipart_bodies_match_on_replay_whatever_the_boundary(tmp_path):
    path = tmp_path / "multipart.yaml"
    upload = {"file": ("hello.wav", b"RIFF....WAVE", "audio/wav")}
    with FakeServer() as server:
        url = f"{server.base_url}/transcript-text"
        recording = Cassette(path, "new_episodes", [])
        with httpx.Client(transport=CassetteTransport(recording, httpx.HTTPTransport())) as client:
            client.post(url, data={"model": "m"}, files=upload, headers={"Content-Type": "multipart/form-data; boundary=first-boundary"})
        recording.save()
    replay = Cassette(path, "none", [])
    with httpx.Client(transport=CassetteTransport(replay)) as client:  # no connection at all: replay only
        # httpx draws a random boundary here: still the recorded request
        assert client.post(url, data={"model": "m"}, files=upload).text == "Hello there."
        with pytest.raises(CassetteMiss, match=r'at \$\.model it has "m" and this request has "other"'):
            client.post(url, data={"model": "other"}, files=upload)  # a different field is a different request


def test_replay_plays_identical_requests_in_recorded_order_and_a_request_key_ignores_json_spacing(tmp_path):
    path = tmp_path / "polls.yaml"
    with FakeServer() as server:
        recording = Cassette(path, "new_episodes", [])
        with httpx.Client(transport=CassetteTransport(recording, httpx.HTTPTransport())) as client:
            first = client.get(f"{server.base_url}/models").text
            second = client.post(f"{server.base_url}/ok", content=b'{"a": 1,  "b": 2}', headers={"content-type": "application/json"}).text
        recording.save()
    replay = Cassette(path, "none", [])
    with httpx.Client(transport=CassetteTransport(replay)) as client:
        assert client.get(f"{server.base_url}/models").text == first
        assert client.post(f"{server.base_url}/ok", json={"b": 2, "a": 1}).text == second  # same JSON, other order and spacing
        with pytest.raises(CassetteMiss, match="sent more often than recorded"):
            client.get(f"{server.base_url}/models")  # recorded once: a second identical request is not in the cassette


@pytest.mark.parametrize("mode", ["--disable-recording", "--record-mode=once"])
def test_an_echoed_key_reaches_no_message_report_or_cassette(tmp_path, mode):
    key = "sk-live-" + "5e6f7a8b9c0d1e2f3a4b"
    with FakeServer() as server:
        result = run_pytest("suites/test_chat_completions.py", "--base-url", server.base_url, "--key-env", "FAKE_GATEWAY_KEY", "--target-name", "fake",
                            "--model", "echo-auth", "--no-expectations", mode, "--report-dir", str(tmp_path / "reports"),
                            "--cassette-dir", str(tmp_path / "cassettes"), env={"FAKE_GATEWAY_KEY": key}, timeout=120)
    assert "upstream rejected" in result.stdout  # the failure is reported...
    assert key not in result.stdout + result.stderr  # ...without the key
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".json" for p in written)
    if mode == "--record-mode=once":
        assert any(p.suffix == ".yaml" for p in written)
    for path in written:
        assert key not in path.read_text(errors="replace"), path


def test_the_manifest_says_when_each_cassette_was_recorded(tmp_path):
    from anyint_conformance.wire.recording import read_manifest, write_manifest

    for name in ("a/one.yaml", "a/two.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("interactions: []\n")
    write_manifest(tmp_path, "t", "http://x/v1", "d", "0", "2026-01-01T00:00:00Z", ["a/one.yaml", "a/two.yaml"])
    assert read_manifest(tmp_path)["recordings"] == {}  # a complete recording: one time for all
    write_manifest(tmp_path, "t", "http://x/v1", "d", "0", "2026-02-02T00:00:00Z", ["a/two.yaml"])  # a partial re-recording
    manifest = read_manifest(tmp_path)
    assert manifest["recorded_at"] == "2026-02-02T00:00:00Z" and manifest["recordings"] == {"a/one.yaml": "2026-01-01T00:00:00Z"}


def test_a_miss_names_the_interaction_and_counts_plays_per_request(tmp_path):
    from anyint_conformance.wire.recording import Cassette

    cassette = Cassette(tmp_path / "c.yaml", "new_episodes", [])
    for body in (b'{"a": 1}', b'{"b": 2}'):
        request = httpx.Request("POST", "http://h/v1/x", content=body, headers={"content-type": "application/json"})
        cassette.record(request, body, {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": b"{}"}})
    cassette.save()
    replay = Cassette(tmp_path / "c.yaml", "none", [])
    assert replay.play("POST", "http://h/v1/x", b'{"a": 1}', "application/json") == 0
    # the same body on another host: the recording it matches is named (not a literal "#{index}")
    other_host = replay.miss("POST", "http://other/v1/x", b'{"b": 2}', "application/json")
    assert "matches interaction #1 but another part of the request differs" in other_host.where
    # played once already: the same request again was sent more often than recorded ...
    again = replay.miss("POST", "http://h/v1/x", b'{"a": 1}', "application/json")
    assert "sent more often than recorded" in again.where
    # ... but a request whose own recording was never played is not (plays count per request)
    assert "sent more often" not in other_host.where
