"""--shard I/N and merge: a CI job matrix as the distributed engine. Shards split by target and model,
balanced by the plan's request counts; their files merge into the matrix one run writes, byte for byte."""

import json

import pytest
import yaml

from anyint_conformance.reports import matrix
from anyint_conformance.run.shards import Shard, deal
from anyint_conformance.run.targets import TargetError
from tests.helpers import ROOT, run_pytest

SELECTION = ["suites/test_chat_completions.py", "suites/test_models.py", "suites/test_files.py", "suites/test_assistants.py"]
WORKFLOW = ROOT / ".github" / "workflows" / "conformance.yml"


def test_groups_are_dealt_largest_first_to_the_lightest_shard_the_same_way_every_time():
    weights = {("t", "a"): 10, ("t", "b"): 7, ("t", "c"): 5, ("t", ""): 3, ("u", "a"): 2}
    dealt = deal(weights, 2)
    assert dealt == deal(dict(reversed(list(weights.items()))), 2)  # the order groups were found in changes nothing
    loads = [sum(w for g, w in weights.items() if dealt[g] == i) for i in (1, 2)]
    assert dealt[("t", "a")] == 1 and dealt[("t", "b")] == 2 and abs(loads[0] - loads[1]) <= 3
    assert set(deal(weights, 9).values()) == {1, 2, 3, 4, 5}  # more shards than groups: some shards are empty


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "a/b", "2/0"])
def test_a_wrong_shard_is_one_line_with_the_form(text):
    with pytest.raises(TargetError, match=r"expected I/N with 1 <= I <= N"):
        Shard.parse(text)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The selection replayed whole, then as three shards, each into a folder of its own."""
    tmp = tmp_path_factory.mktemp("shards")
    whole = run_pytest(*SELECTION, "--report-dir", str(tmp / "whole"))
    assert whole.returncode in (0, 1), whole.stdout[-2000:]
    shards = []
    for i in (1, 2, 3):
        result = run_pytest(*SELECTION, "--shard", f"{i}/3", "--report-dir", str(tmp / f"shard{i}"))
        assert result.returncode in (0, 1, 5), result.stdout[-2000:]  # 5: a shard may hold no test
        assert f"shard {i}/3:" in result.stdout
        assert not (tmp / f"shard{i}" / "support-matrix.json").exists()  # a shard leaves the matrix as it was
        shards.append(tmp / f"shard{i}" / f"shard-{i}-of-3.json")
    return tmp, shards


def test_three_shards_merged_equal_the_unsharded_run_byte_for_byte(runs, tmp_path):
    tmp, shards = runs
    parts = [json.loads(p.read_text()) for p in shards]
    groups = [tuple(g) for part in parts for g in part["shard"]["groups"]]
    assert len(groups) == len(set(groups)) and all(part["cells"] for part in parts)  # no group twice, none empty here
    models_of = {(c["target"], c["model"] or "") for part in parts for c in part["cells"] if c["kind"] != "auth"}
    assert all(sum(1 for p in parts if (t, m) in {tuple(g) for g in p["shard"]["groups"]}) == 1 for t, m in models_of)
    out = tmp_path / "merged" / "support-matrix.json"
    result = command("merge", str(out), *map(str, shards))
    assert result.returncode == 0, result.stderr
    assert out.read_text() == (tmp / "whole" / "support-matrix.json").read_text()
    assert command("render", str(out)).returncode == 0
    for name in ("support-matrix.md", "support-matrix.html"):
        assert (out.parent / name).read_text() == (tmp / "whole" / name).read_text()


def test_merge_refuses_a_missing_a_repeated_or_an_interrupted_shard(runs, tmp_path):
    _, shards = runs
    with pytest.raises(matrix.MatrixError, match=r"shard\(s\) 3/3 missing"):
        matrix.merge([matrix.load(p) for p in shards[:2]])
    with pytest.raises(matrix.MatrixError, match=r"shard 1/3 given twice"):
        matrix.merge([matrix.load(p) for p in (shards[0], shards[0], shards[1], shards[2])])
    cut = json.loads(shards[1].read_text())
    cut["shard"].update(complete=False, incomplete=["the run was interrupted"])
    with pytest.raises(matrix.MatrixError, match=r"shard 2/3 did not run to its end \(the run was interrupted\): run it again"):
        matrix.merge([matrix.load(shards[0]), cut, matrix.load(shards[2])])


def test_the_workflow_runs_every_shard_of_its_list_then_merges_comments_and_diffs_nightly():
    flow = yaml.safe_load(WORKFLOW.read_text())
    on = flow.get(True, flow.get("on"))  # YAML 1.1 reads the key `on` as true
    assert "schedule" in on and "pull_request" in on and "workflow_dispatch" in on
    jobs = flow["jobs"]
    shard = jobs["shard"]
    listed = shard["strategy"]["matrix"]["shard"]
    total = shard["env"]["SHARDS"]
    assert listed == list(range(1, int(total) + 1))
    run = "\n".join(step.get("run", "") for step in shard["steps"])
    assert "--shard ${{ matrix.shard }}/${{ env.SHARDS }}" in run and "ANYINT_API_KEY" in json.dumps(shard)
    assert "${{ secrets.ANYINT_API_KEY }}" in json.dumps(shard)
    assert any("upload-artifact" in step.get("uses", "") for step in shard["steps"])
    merge = jobs["merge"]
    assert merge["needs"] == "shard"
    text = "\n".join(step.get("run", "") for step in merge["steps"])
    assert "anyint-conformance merge" in text and "anyint-conformance render" in text and "--fail-on-lost" in text
    assert any("download-artifact" in step.get("uses", "") for step in merge["steps"])
    assert any("github-script" in step.get("uses", "") or "gh pr comment" in step.get("run", "") for step in merge["steps"])


def command(*args):
    """The anyint-conformance command, in this process."""
    import contextlib
    import io

    from anyint_conformance.faces import cli
    from tests.helpers import Result

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(args))
        except SystemExit as exc:
            code = exc.code
    return Result(int(code or 0), out.getvalue(), err.getvalue())
