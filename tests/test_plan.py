"""--anyint-plan: models x tests x requests before anything is sent."""

import re

from tests.helpers import run_pytest


def test_plan_lists_every_model_with_request_bounds_and_sends_nothing(tmp_path):
    result = run_pytest("suites", "--anyint-plan", "--target", "llamacpp", "--target", "litellm", "--report-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout[-2000:]
    rows = {m.group(2): (int(m.group(3)), int(m.group(4)), int(m.group(5)))
            for m in re.finditer(r"^(llamacpp|litellm)\s+(\S+)\s+(\d+)\s+(\d+)-(\d+)$", result.stdout, re.M)}
    assert {"gemma-3-270m", "mock-chat-a", "dead-upstream"} <= set(rows)
    tests, low, high = rows["gemma-3-270m"]
    assert tests > 50 and tests <= low <= high  # at least one request per test; examples and polls raise the ceiling
    assert re.search(r"^total\s+\d+\s+\d+-\d+$", result.stdout, re.M)
    assert "max_tokens <= 16" in result.stdout
    assert not any(tmp_path.iterdir())  # no cell was run, no report written
