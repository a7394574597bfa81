"""Generation: deterministic, narrowed by the overlay only, always valid against the documented schema."""

import pytest

from anyint_conformance.contract import generate
from anyint_conformance.contract.schemas import first_violation
from anyint_conformance.suite import operation, overlay

CHAT = operation("/chat/completions")


def draw(seed=7, pinned=None, ov="default", count=6):
    return generate.draw_bodies(CHAT, overlay("chat.request") if ov == "default" else ov, pinned or {"model": "m1", "stream": False}, count, seed)


def test_same_seed_same_requests():
    assert draw() == draw()


def test_other_seed_other_requests():
    assert draw(seed=7) != draw(seed=8)


def test_bodies_are_valid_pinned_and_within_the_cost_overlay():
    bodies = draw(count=10)
    assert len(bodies) >= 3
    for body in bodies:
        assert first_violation("chat.request", body) is None
        assert body["model"] == "m1" and body["stream"] is False
        assert 1 <= body["max_tokens"] <= 16
        assert set(body) <= {"model", "messages", "stream", "max_tokens", "temperature", "top_p", "stop", "presence_penalty", "frequency_penalty", "user"}
        assert all(isinstance(m["content"], str) and len(m["content"]) <= 40 for m in body["messages"])


def test_integers_are_sent_as_integers():
    assert generate.canonical({"a": 2.0, "b": [1.5, 3.0]}) == {"a": 2, "b": [1.5, 3]}


def test_an_overlay_that_widens_the_schema_is_caught():
    # a merge patch that makes the documented-required `messages` optional and forbids it
    bad = {"required": ["model"], "properties": {"messages": False}}
    with pytest.raises(generate.OverlayError, match="documented schema rejects"):
        draw(ov=bad)


def test_merge_patch_follows_rfc7396():
    assert generate.merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": None, "e": 4}}) == {"a": 1, "b": {"d": 3, "e": 4}}


def test_probe_bodies_are_checked_against_the_documented_schema():
    with pytest.raises(generate.OverlayError, match="probe body"):
        generate.check_request(CHAT, {"model": "m"})


def test_project_source_does_not_leak_into_generation(tmp_path, monkeypatch):
    """Hypothesis mines literals from local modules; a new local module must not change the requests."""
    before = draw(count=8)
    module = tmp_path / "extra_literals_module.py"
    # literals that fit the overlay (letters only, short; fractions in [0, 1]), as project code would hold
    words = "".join(f"W{i} = {'Lorem ipsum' + chr(97 + i % 26)!r}\n" for i in range(60))
    floats = "".join(f"F{i} = {0.001 * (i + 1)!r}\n" for i in range(60))
    module.write_text(words + floats)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)  # Hypothesis treats files under the working directory as local
    import importlib

    importlib.import_module("extra_literals_module")
    assert draw(count=8) == before
