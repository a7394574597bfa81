"""The engine's parts, in process: the option table, the outcome policy, the budget, the token cap on the
wire, route gates, cassettes, discovery and one test's run (no pytest subprocess, no network)."""

import ast
import dataclasses
import json
import threading
from pathlib import Path

import httpx
import pytest

from anyint_conformance.faces import cli, plugin
from anyint_conformance.judging.negative import RouteGates
from anyint_conformance.model.verdicts import Cell, Verdict
from anyint_conformance.run import outcomes
from anyint_conformance.run.config import OPTIONS, RunConfig
from anyint_conformance.run.engine import Engine, Item
from anyint_conformance.run.discovery import Subject
from anyint_conformance.run.targets import Target
from anyint_conformance.wire.cost import Budget, Prices
from anyint_conformance.wire.transport import Meter, cap_tokens, policies, send
from tests.helpers import ROOT

PACKAGE = ROOT / "anyint_conformance"


# -- one option table -------------------------------------------------------------------------------------


def test_each_option_is_declared_once_and_reaches_pytest_the_command_and_the_config():
    class Group:
        flags: list = []

        def addoption(self, flag, **kwargs):
            self.flags.append((flag, kwargs))

    class Parser:
        group = Group()

        def getgroup(self, name):
            return self.group

    parser = Parser()
    plugin.pytest_addoption(parser)
    ours = [o for o in OPTIONS if o.owner is None]
    assert [f for f, _ in parser.group.flags] == [o.flag for o in ours]
    assert all(kwargs["help"] == o.described for (_, kwargs), o in zip(parser.group.flags, ours))  # the same words everywhere
    matrix_args = {a.dest: a for a in cli._parser()._subparsers._group_actions[0].choices["matrix"]._actions if a.dest != "help"}
    assert set(matrix_args) == {o.name for o in OPTIONS if o.cli_flag is not None}
    assert all(o.described == matrix_args[o.name].help for o in OPTIONS if o.cli_flag is not None)
    assert {f.name for f in dataclasses.fields(RunConfig)} == {o.name for o in OPTIONS} | {"started_at"}
    cfg = RunConfig.from_options(lambda flag: None if flag != "--model" else ["a"])
    assert cfg.models == ("a",) and cfg.examples == 4 and cfg.expectations is True and cfg.mode == "replay"
    assert RunConfig.defaults(record_mode="once").mode == "record" and RunConfig.defaults(disable_recording=True).mode == "live"


def test_cells_are_made_only_by_the_model_s_constructors():
    calls = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Cell":
                calls.append(path.relative_to(ROOT).as_posix())
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "cls" and path.name == "verdicts.py":
                calls.append("constructor")
    assert calls == ["constructor"] * 3, calls  # Cell.judged, Cell.from_dict and Cell.untested, nothing else


def test_the_token_cap_is_applied_in_one_place():
    sites = [p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py") if "cap_tokens(" in p.read_text()]
    # the transport policy, and the runner's narrowing of a batch file the transport cannot see inside
    assert sorted(sites) == ["anyint_conformance/run/runner.py", "anyint_conformance/wire/transport.py"]


# -- the outcome policy (the table in outcomes.py's docstring, row by row) -----------------------------

TABLE = [  # verdict, no expectation, expected as observed
    ("supported", "pass", "pass"), ("rejected", "pass", "pass"), ("lenient", "warn", "warn"),
    ("unverified", "skip", "skip"), ("unsupported", "skip", "skip"), ("untested", "skip", "skip"),
    ("ignored", "skip", "xfail"), ("non-conforming", "fail", "xfail"), ("broken", "fail", "xfail"), ("accepted", "fail", "xfail"),
]


@pytest.mark.parametrize("verdict, alone, expected", TABLE)
def test_the_outcome_policy(verdict, alone, expected):
    assert outcomes.outcome(verdict, None)[0] == alone
    assert outcomes.outcome(verdict, verdict)[0] == expected
    other = "broken" if verdict != "broken" else "supported"
    assert outcomes.outcome(verdict, other) == (outcomes.FAIL, "expectation drift")
    if verdict != "rejected":
        assert outcomes.outcome(verdict, None, security=True)[0] == outcomes.FAIL


def test_a_test_fails_on_its_worst_cell_and_skips_only_when_every_cell_skipped():
    assert outcomes.worst_outcome(["pass", "skip", "xfail"]) == "xfail"
    assert outcomes.worst_outcome(["pass", "fail", "xfail"]) == "fail"
    assert outcomes.worst_outcome(["skip", "skip"]) == "skip" and outcomes.worst_outcome(["skip", "warn"]) == "warn"


# -- the budget and the token cap on the wire ----------------------------------------------------------


def test_the_budget_refuses_past_its_limits_and_says_the_run_was_cut():
    meter = Meter()
    budget = Budget(meter, max_requests=2)
    assert budget.refusal("POST /chat/completions", "m", 1) is None and not budget.cut
    meter.requests = 2
    assert "request budget exhausted (2 of --max-requests 2 sent; this cell sends up to 1)" in budget.refusal("POST /chat/completions", "m", 1) and budget.cut
    meter.requests = 1
    assert budget.refusal("POST /chat/completions", "m", 2) is not None  # a cell that would go past the budget is not started
    assert Budget(Meter(), max_requests=2).refusal("POST /chat/completions", "m", 2) is None
    prices = Prices(({"class": "images", "model": "*", "per_request": 0.5},))
    spend = Budget(Meter(), prices, spend=1.0)
    assert spend.refusal("POST /images/generations", "m", 2) is None
    assert "would pass --budget 1" in spend.refusal("POST /images/generations", "m", 3)


def _echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"sent": request.content.decode()}, request=request)


def test_the_cap_policy_lowers_max_tokens_on_the_way_to_the_wire_and_the_evidence_shows_what_went():
    client = httpx.Client(transport=policies(httpx.MockTransport(_echo), retries=0, sleep=lambda s: None, meter=Meter(), token_cap=4))
    ex = send(client, "POST", "http://t/v1/chat/completions", {"model": "m", "max_tokens": 512, "messages": []})
    assert json.loads(ex.parsed["sent"])["max_tokens"] == 4 and ex.body["max_tokens"] == 4
    ex = send(client, "POST", "http://t/v1/chat/completions", {"model": "m", "max_tokens": "eight"})  # a negative case: as it is
    assert json.loads(ex.parsed["sent"])["max_tokens"] == "eight"
    ex = send(client, "POST", "http://t/v1/chat/completions", content=b'{"max_tokens": 99', headers={"Content-Type": "application/json"})
    assert ex.parsed["sent"] == '{"max_tokens": 99'  # malformed JSON goes out untouched
    assert cap_tokens({"max_tokens": True}, 1) == {"max_tokens": True}


# -- route gates, cassettes, discovery, one test's run ---------------------------------------------------


def test_a_route_gate_probes_once_whatever_the_threads():
    gates, probes = RouteGates(), []

    class Answer:
        status = 404

    def probe():
        probes.append(1)
        return Answer()

    threads = [threading.Thread(target=lambda: gates.gate(("t", "m", "POST /x"), "POST /x", probe)) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(probes) == 1 and "answered HTTP 404" in gates.gate(("t", "m", "POST /x"), "POST /x", probe)


def test_a_rewrite_keeps_the_old_cassette_until_the_new_one_is_saved(tmp_path):
    engine = Engine(RunConfig.defaults(cassette_dir=tmp_path, base_url="http://127.0.0.1:9/v1", record_mode="rewrite"))
    path = tmp_path / "t" / "c.yaml"
    path.parent.mkdir()
    path.write_text("the old recording")
    cassette = engine.cassettes.open(path)
    assert cassette.requests == [] and path.read_text() == "the old recording"  # started empty, the file untouched
    request = httpx.Request("GET", "http://127.0.0.1:9/v1/models")
    cassette.record(request, b"", {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": b"{}"}})
    engine.cassettes.close(cassette, "t")
    assert "interactions" in path.read_text() and engine.cassettes.recorded == {"t": {"c.yaml"}}
    assert len(engine.cassettes.open(path).requests) == 1  # opened again in the same run: what this run recorded


def _fake_target(models: dict) -> callable:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"object": "list", "data": [{"id": m, "object": "model", "created": 1, "owned_by": "x"} for m in models]})
        body = json.loads(request.content)
        return httpx.Response(200, json=models[body["model"]], request=request)
    return lambda target: httpx.MockTransport(answer)


COMPLETION = {"id": "r", "object": "chat.completion", "created": 1, "model": "m",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def test_one_test_runs_in_process_through_the_engine_parts(tmp_path):
    from anyint_conformance.suite import operation, route_cell

    models = {"good": COMPLETION, "bad": {**COMPLETION, "choices": None}}
    engine = Engine(RunConfig.defaults(base_url="http://fake.invalid/v1", target_name="fake", disable_recording=True, examples=0,
                                       cassette_dir=tmp_path, models=("good", "bad")), answering=_fake_target(models))
    engine.prepare()
    assert [s.model for s in engine.subjects()] == ["bad", "good"]

    def suite(conformance):
        conformance.check(route_cell(operation("/chat/completions"), {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8},
                                     pinned={"stream": False}))

    cells = {}
    for subject in engine.subjects():
        outcome = engine.run_item(Item(f"t[{subject.model}]", suite, {}, subject, "chat", tmp_path / "x.yaml"))
        cells[subject.model] = outcome.cells
    assert {m: [c.verdict for c in found] for m, found in cells.items()} == {"good": ["supported"], "bad": ["non-conforming"]}
    # GET /models; the bad model's probe only; the good one's probe, then the page's examples behind it
    assert cells["bad"][0].exchanges == 1 and cells["good"][0].exchanges > 1
    assert engine.meter.requests == 1 + cells["bad"][0].exchanges + cells["good"][0].exchanges


def test_a_target_none_of_whose_models_was_chosen_is_not_under_test():
    from anyint_conformance.run.discovery import Discovery, subjects

    ctx = type("Ctx", (), {"targets": (Target("a", "http://a/v1", probe_model="a2"), Target("b", "http://b/v1"))})()
    found = {"a": Discovery(None, ["a1"], Path("x"), listed=["a1", "a2"]), "b": Discovery(None, [], Path("y"), listed=["b1"], chosen=False)}
    assert [(s.target.name, s.model) for s in subjects(ctx, found)] == [("a", "a1")]
    # target-wide cells keep the target's probe model, whichever models --model chose: the same requests every time
    assert [(s.target.name, s.model) for s in subjects(ctx, found, per_target=True)] == [("a", "a2")]
