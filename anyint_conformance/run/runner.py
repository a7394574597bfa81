"""What a suite gets (the `conformance` argument): run declared cells against one target and model.

A Runner makes cells and keeps them; it never decides pass or fail (outcomes.py does) and knows nothing
of pytest. One Runner per test: its requests go, in order, through the test's own cassette.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

import httpx

from anyint_conformance.judging import sdk
from anyint_conformance.judging.cells import CellSpec, Rejection, judge, run_cell, run_rejection_cell
from anyint_conformance.judging.checks import Expect
from anyint_conformance.run.cost import EXPENSIVE, route_class
from anyint_conformance.model.families import family_of
from anyint_conformance.contract.generate import cap_tokens
from anyint_conformance.judging.lifecycle import Lifecycle, Settings
from anyint_conformance.judging.negative import Mutation
from anyint_conformance.model.paths import shown
from anyint_conformance.contract.schemas import operation as documented_operation
from anyint_conformance.model.verdicts import Cell, Finding, Provenance, Severity, Verdict

CHAT_ROUTE = "POST /chat/completions"


class Runner:
    def __init__(self, engine, subject, cassette, nodeid: str, marker: str | None):
        self.engine, self.subject, self.cassette, self.nodeid, self.marker = engine, subject, cassette, nodeid, marker
        self.target, self.model = subject.target, subject.model
        self.cells: list[Cell] = []
        self._clients: dict[bool, httpx.Client] = {}

    def client(self, bare: bool = False) -> httpx.Client:
        """This test's client (bare: without credentials, for auth cells that set their own)."""
        if bare not in self._clients:
            self._clients[bare] = self.engine.client(self.target, self.cassette, bare=bare)
        return self._clients[bare]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def narrow(self, body: dict) -> dict:
        """The run's cost narrowing, for a body a suite embeds where the runner cannot see it (a batch file)."""
        return cap_tokens(body, self.engine.cfg.token_cap)

    @staticmethod
    def rule(message: str, rule: str, provenance: Provenance = Provenance.UPSTREAM) -> Finding:
        """Why a lifecycle step must be refused, and where that rule comes from."""
        return Finding("refused", Severity.NONCONFORMING, message, provenance=provenance, rule=rule)

    # -- cells ------------------------------------------------------------------------------------------

    def check(self, spec: CellSpec) -> Cell:
        """A route or parameter cell: the probe, then (behind a supported probe) the page's and drawn examples."""
        cfg = self.engine.cfg
        if route_class(spec.operation["path"]) in EXPENSIVE and not cfg.expensive_examples:
            spec = replace(spec, generate=False)  # an image, a clip or a video per example: the probe only, unless opted in
        cell = run_cell(self.client(), self.target.url(spec.operation["path"]), spec, target=self.target.name, model=self.model,
                        examples=cfg.examples, seed=cfg.seed, judging=self.engine.judging)
        return self._keep(cell)

    def check_model_list(self) -> Cell:
        """GET /models as a cell of the target, judged on the discovery answer (no further request)."""
        found = self.engine.discovered[self.target.name]
        ex = found.exchange
        if ex is None:  # a plan that could not even read a recorded model list: nothing to judge
            return self._keep(self._untested("GET /models", None, "the model list was not asked (a plan sends nothing)"))
        result = judge(ex, Expect.for_request(documented_operation("/models", "GET"), None), self.engine.judging)
        cell = Cell(target=self.target.name, model=None, route="GET /models", parameter=None, verdict=result.verdict.value, reason=result.reason,
                    status=ex.status, violation=result.first_violation.to_dict() if result.first_violation else None,
                    warnings=[f.to_dict() for f in result.warnings], notes=[f.to_dict() for f in result.notes],
                    request={"method": "GET", "url": ex.url, "body": None}, exchanges=0, kind="route", strict=self.engine.cfg.strict,
                    security=any(f.check == "credential_reflected" for f in result.findings))
        if self.cassette is not None or not self.engine.live:
            cell.cassette, cell.interaction = shown(found.cassette), ex.interaction if ex.interaction is not None else 0
        return self._keep(cell)

    def check_rejection(self, operation: dict, valid: dict, mutation: Mutation) -> Cell:
        """A negative cell: the valid probe body with one mutation must be refused (a 4xx)."""
        route = f"{operation['method']} {operation['path']}"
        parameter = f"negative: {mutation.name}"
        valid = cap_tokens({**valid, "model": self.model}, self.engine.cfg.token_cap)
        gate = self.engine.route_gate(self.target, self.model, operation, valid)
        if gate:
            return self._keep(self._untested(route, parameter, gate, kind="negative"))
        return self._rejection(route, operation, mutation.apply(operation, valid), self.model)

    def check_auth(self, operation: dict, valid: dict, how: str, headers: dict, shown_as: str, rule: Finding) -> Cell:
        """An auth cell (per target): the valid request with bad or misplaced credentials (`headers`, where
        "{key}" stands for the valid key) must be refused. `shown_as` describes them in evidence."""
        route = f"{operation['method']} {operation['path']}"
        if self.target.auth == "none":
            return self._keep(self._untested(route, f"auth: {how}", "the target's profile declares no authentication", kind="auth"))
        key = self.target.key or "replayed-key"  # replay: the recorded request had the key scrubbed out
        headers = {name: value.replace("{key}", key) for name, value in headers.items()}
        body = cap_tokens({**valid, "model": self.model}, self.engine.cfg.token_cap) if operation["method"] != "GET" else None
        case = Rejection(how, rule, body=body, headers=headers, statuses=(401,), auth=True, shown=shown_as)
        return self._rejection(route, operation, case, None, bare=True)

    def _rejection(self, route: str, operation: dict, case: Rejection, model: str | None, bare: bool = False) -> Cell:
        cell = run_rejection_cell(self.client(bare), operation["method"], self.target.url(operation["path"]), case, target=self.target.name,
                                  model=model, route=route, judging=self.engine.judging)
        return self._keep(cell)

    @contextlib.contextmanager
    def lifecycle(self, per_model: bool = True, kind: str = "lifecycle", prefix: str = "lifecycle: "):
        """A stateful sequence whose steps are cells; what it created is deleted on exit, whatever happened."""
        settings = Settings(judging=self.engine.judging, sleep=self.engine.sleep, poll_timeout=self.engine.cfg.poll_timeout, poll_interval=1.0)
        life = Lifecycle(self.client(), self.target.base_url, self.target.name, self.model if per_model else None, settings, kind, prefix)
        try:
            yield life
        finally:
            try:
                life.close()  # delete what was created, even when a step or the suite itself failed
            except Exception:  # noqa: BLE001 - a cleanup after a recording problem fails too: the first problem is the one to report
                pass
            for cell in life.cells:
                self._keep(cell)

    def check_sdk_example(self) -> Cell:
        """The page's Python example through the official openai SDK, over this test's transport (recorded and replayed)."""
        cfg = self.engine.cfg
        spent = self.engine.over_budget(CHAT_ROUTE, self.model, 1)
        if spent:
            return self._keep(self._untested(CHAT_ROUTE, sdk.PARAMETER, spent))
        transport = self.engine.transport(self.target, self.cassette)
        result = sdk.run_documented_example(self.target.base_url, self.target.key, self.model, cfg.request_timeout, cfg.token_cap, transport)
        cell = Cell(target=self.target.name, model=self.model, route=CHAT_ROUTE, parameter=sdk.PARAMETER, verdict=result["verdict"],
                    reason=result["reason"], status=result["status"], warnings=result["warnings"], violation=result["violation"],
                    request={"method": "POST", "url": self.target.url("/chat/completions"), "body": result["request"]}, exchanges=1,
                    strict=cfg.strict, interaction=result.get("interaction"))
        return self._keep(cell)

    # -- bookkeeping ------------------------------------------------------------------------------------

    def _untested(self, route: str, parameter: str | None, reason: str, kind: str = "route") -> Cell:
        return Cell(target=self.target.name, model=self.model, route=route, parameter=parameter, verdict=Verdict.UNTESTED.value, reason=reason, kind=kind)

    def _keep(self, cell: Cell) -> Cell:
        """What the runner knows of a cell: its test, family, evidence file and when it was observed."""
        cell.test = self.nodeid
        cell.family = family_of(self.marker, cell.route, cell.parameter)
        if self.cassette is not None and cell.request is not None and cell.cassette is None:
            cell.cassette = shown(self.cassette.path)
        if cell.cassette is None:
            cell.interaction = None
        cell.observed_at = self.engine.observed_at(self.target.name, cell.cassette)
        self.cells.append(cell)
        return cell
