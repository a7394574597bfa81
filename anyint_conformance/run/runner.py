"""What a suite gets (the `conformance` argument): run declared cells against one target and model.

A Runner makes cells and keeps them; it never decides pass or fail (outcomes.py does) and knows nothing
of pytest. One Runner per test: its requests go, in order, through the test's own cassette.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import replace

import httpx

from anyint_conformance.clients.flows import FLOWS, Request, available
from anyint_conformance.clients.judge import client_cell
from anyint_conformance.contract.schemas import operation as documented_operation
from anyint_conformance.judging import sdk
from anyint_conformance.judging.cells import CellSpec, Judging, Rejection, run_cell, run_rejection_cell
from anyint_conformance.judging.checks import Expect
from anyint_conformance.judging.lifecycle import Lifecycle, Settings
from anyint_conformance.judging.negative import Mutation, RouteGates
from anyint_conformance.model.families import family_of
from anyint_conformance.model.paths import shown
from anyint_conformance.model.verdicts import Cell, Finding, Provenance, Severity
from anyint_conformance.replay.server import PLACEHOLDER_KEY
from anyint_conformance.run.cassettes import Cassettes
from anyint_conformance.run.connections import Connections
from anyint_conformance.run.context import RunContext
from anyint_conformance.run.discovery import Discovery, Subject
from anyint_conformance.wire.cost import EXPENSIVE, route_class
from anyint_conformance.wire.recording import Cassette
from anyint_conformance.wire.transport import cap_tokens, send

CHAT_ROUTE = "POST /chat/completions"


class Runner:
    """One test's view of the run: its subject and cassette, and the run's parts it needs (the frozen
    context, the connections, the cassettes, how cells are judged, the route gates, its target's discovery)."""

    def __init__(self, ctx: RunContext, connections: Connections, cassettes: Cassettes, judging: Judging, gates: RouteGates,
                 discovery: Discovery | None, subject: Subject, cassette: Cassette | None, nodeid: str, marker: str | None):
        self.ctx, self.connections, self.cassettes, self.judging, self.gates, self.discovery = ctx, connections, cassettes, judging, gates, discovery
        self.subject, self.cassette, self.nodeid, self.marker = subject, cassette, nodeid, marker
        self.target, self.model = subject.target, subject.model
        self.cells: list[Cell] = []
        self._clients: dict[bool, httpx.Client] = {}

    def client(self, bare: bool = False) -> httpx.Client:
        """This test's client (bare: without credentials, for auth cells that set their own)."""
        if bare not in self._clients:
            self._clients[bare] = self.connections.client(self.target, self.cassette, bare=bare)
        return self._clients[bare]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def narrow(self, body: dict) -> dict:
        """The token cap for a body a suite embeds where the transport cannot see it (a batch file's lines)."""
        return cap_tokens(body, self.ctx.cfg.token_cap)

    @staticmethod
    def rule(message: str, rule: str, provenance: Provenance = Provenance.UPSTREAM) -> Finding:
        """Why a lifecycle step must be refused, and where that rule comes from."""
        return Finding("refused", Severity.NONCONFORMING, message, provenance=provenance, rule=rule)

    # -- cells ------------------------------------------------------------------------------------------

    def check(self, spec: CellSpec) -> Cell:
        """A route or parameter cell: the probe, then (behind a supported probe) the page's and drawn examples."""
        cfg = self.ctx.cfg
        if route_class(spec.operation["path"]) in EXPENSIVE and not cfg.expensive_examples:
            spec = replace(spec, generate=False)  # an image, a clip or a video per example: the probe only, unless opted in
        cell = run_cell(self.client(), self.target.url(spec.operation["path"]), spec, target=self.target.name, model=self.model,
                        examples=cfg.examples, seed=cfg.seed, judging=self.judging)
        return self._keep(cell)

    def check_model_list(self) -> Cell:
        """GET /models as a cell of the target, judged on the discovery answer (no further request)."""
        found = self.discovery
        ex = found.exchange if found else None
        if ex is None:  # a plan that could not even read a recorded model list: nothing to judge
            return self._keep(Cell.untested(self.target.name, None, "GET /models", None, "the model list was not asked (a plan sends nothing)"))
        result = self.ctx.rules.judge(ex, Expect.for_request(documented_operation("/models", "GET"), None))
        cell = Cell.judged(self.target.name, None, "GET /models", None, result, ex, exchanges=0, request={"method": "GET", "url": ex.url, "body": None})
        if self.cassette is not None or not self.ctx.live:
            cell.cassette, cell.interaction = shown(found.cassette), ex.interaction if ex.interaction is not None else 0
        return self._keep(cell)

    def check_rejection(self, operation: dict, valid: dict, mutation: Mutation) -> Cell:
        """A negative cell: the valid probe body with one mutation must be refused (a 4xx). Not sent where
        the route is missing for the model (its valid request answered 404/405/501)."""
        route = f"{operation['method']} {operation['path']}"
        parameter = f"negative: {mutation.name}"
        valid = {**valid, "model": self.model}
        gate = self.gates.gate((self.target.name, self.model, route), route, lambda: self._probe_route(route, operation, valid))
        if gate:
            return self._keep(Cell.untested(self.target.name, self.model, route, parameter, gate, kind="negative"))
        return self._rejection(route, operation, mutation.apply(operation, valid), self.model)

    def _probe_route(self, route: str, operation: dict, valid: dict):
        """The route's valid request, in its own cassette (_route_probes/), for the route gate."""
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{route}--{self.model}")
        cassette = self.cassettes.open(self.ctx.target_dir(self.target.name) / "_route_probes" / f"{name}.yaml")
        with self.connections.client(self.target, cassette) as client:
            ex = send(client, operation["method"], self.target.url(operation["path"]), valid, timeout=self.ctx.cfg.request_timeout)
        self.cassettes.close(cassette, self.target.name)
        return ex

    def check_auth(self, operation: dict, valid: dict, how: str, headers: dict, shown_as: str, rule: Finding, security: bool = True) -> Cell:
        """An auth cell (per target): the valid request with bad or misplaced credentials (`headers`, where
        "{key}" stands for the valid key) must be refused. `shown_as` describes them in evidence;
        `security`: whether accepting it is a security finding (no valid key at all) or a mistake the
        page lists, accepted (the valid key in another form)."""
        route = f"{operation['method']} {operation['path']}"
        if self.target.auth == "none":
            return self._keep(Cell.untested(self.target.name, self.model, route, f"auth: {how}", "the target's profile declares no authentication", kind="auth"))
        key = self.target.key or "replayed-key"  # replay: the recorded request had the key scrubbed out
        headers = {name: value.replace("{key}", key) for name, value in headers.items()}
        body = {**valid, "model": self.model} if operation["method"] != "GET" else None
        case = Rejection(how, rule, body=body, headers=headers, statuses=(401,), auth=True, security=security, shown=shown_as)
        return self._rejection(route, operation, case, None, bare=True)

    def _rejection(self, route: str, operation: dict, case: Rejection, model: str | None, bare: bool = False) -> Cell:
        cell = run_rejection_cell(self.client(bare), operation["method"], self.target.url(operation["path"]), case, target=self.target.name,
                                  model=model, route=route, judging=self.judging)
        return self._keep(cell)

    @contextlib.contextmanager
    def lifecycle(self, per_model: bool = True, kind: str = "lifecycle", prefix: str = "lifecycle: "):
        """A stateful sequence whose steps are cells; what it created is deleted on exit, whatever happened."""
        settings = Settings(judging=self.judging, sleep=self.connections.sleep, poll_timeout=self.ctx.cfg.poll_timeout, poll_interval=1.0)
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
        cfg = self.ctx.cfg
        spent = self.judging.refusal(CHAT_ROUTE, self.model, 1)
        if spent:
            return self._keep(Cell.untested(self.target.name, self.model, CHAT_ROUTE, sdk.PARAMETER, spent))
        transport = self.connections.transport(self.target, self.cassette)
        result, ex = sdk.run_documented_example(self.target.base_url, self.target.key, self.model, cfg.request_timeout, cfg.token_cap, transport,
                                                self.ctx.rules, documented_operation("/chat/completions"))
        return self._keep(Cell.judged(self.target.name, self.model, CHAT_ROUTE, sdk.PARAMETER, result, ex, exchanges=1))

    def check_client(self, client: str, flow: str) -> Cell:
        """A real client library's flow (clients/flows.py), run against the replay server in front of this
        test's transport: its cassette on replay, the target live. The client never sees the key."""
        spec, cfg = FLOWS[(client, flow)], self.ctx.cfg
        unavailable = available(client)
        if unavailable:
            return self._keep(Cell.untested(self.target.name, self.model, CHAT_ROUTE, spec.parameter, unavailable, kind="client"))
        spent = self.judging.refusal(CHAT_ROUTE, self.model, 1)
        if spent:
            return self._keep(Cell.untested(self.target.name, self.model, CHAT_ROUTE, spec.parameter, spent, kind="client"))
        with self.connections.loopback(self.target, self.cassette) as server:
            result = spec.run(Request(server.base_url, PLACEHOLDER_KEY, self.model, cfg.token_cap, cfg.tool_token_cap, cfg.request_timeout))
        if server.problem is not None:
            raise server.problem  # a cassette miss: the test's own failure, reported as every miss is
        return self._keep(client_cell(self.target.name, self.model, spec, result, server.served, self.ctx.rules))

    # -- bookkeeping ------------------------------------------------------------------------------------

    def _keep(self, cell: Cell) -> Cell:
        """What the runner knows of a cell: its test, family, evidence file and when it was observed."""
        cell.test = self.nodeid
        cell.family = family_of(self.marker, cell.route, cell.parameter)
        if self.cassette is not None and cell.request is not None and cell.cassette is None:
            cell.cassette = shown(self.cassette.path)
        if cell.cassette is None:
            cell.interaction = None
        cell.observed_at = self.cassettes.observed_at(self.target.name, cell.cassette)
        for route, note in self.target.notes:  # what answered it, as the target's profile says
            if route == cell.route and cell.verdict != "untested":
                cell.notes = [*cell.notes, {"check": "answered_by", "severity": "note", "message": note, "path": None, "provenance": "declared",
                                            "rule": f"targets.yaml: {self.target.name}.notes"}]
        self.cells.append(cell)
        return cell
