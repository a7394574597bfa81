"""The engine: one run's parts, and the loop that runs each test's suite function with a Runner. No pytest here.

Its parts, each with one job, are built once and handed to what needs them (a Runner, reporting, the plan):
  ctx          RunContext (context.py): options, targets, secrets, rules, prices, declarations, expectations
  budget       wire/cost.Budget: the meter of requests sent and spent, and why the next cell must not be sent
  connections  Connections (connections.py): the transport stack and the live pools
  cassettes    Cassettes (cassettes.py): opening, saving, what this run recorded, manifests, observed_at
  discovered   discovery.discover: every target's models
  gates        judging/negative.RouteGates: whether a route's invalid requests are worth sending
The plugin asks it to `prepare()` (discovery, and every problem that stops a run, raised once as
RunError), then `result()` for each test, or `prerun()` them all on a thread pool (--concurrency N:
many requests in flight, each test's own requests in order, in its own cassette, so cassettes and matrix
equal a sequential run's).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx

from anyint_conformance.judging.cells import Judging
from anyint_conformance.judging.negative import RouteGates
from anyint_conformance.model.paths import shown
from anyint_conformance.judging import oracle
from anyint_conformance.model.verdicts import Cell, Verdict
from anyint_conformance.run.cassettes import Cassettes, rerecord_hint
from anyint_conformance.run.config import RunConfig
from anyint_conformance.run.connections import Connections
from anyint_conformance.run.context import RunContext
from anyint_conformance.run.discovery import EACH_MODEL, Discovery, RunError, Subject, discover, subjects
from anyint_conformance.run.runner import Runner
from anyint_conformance.run.targets import Target
from anyint_conformance.wire.cost import Budget, request_pricer
from anyint_conformance.wire.recording import CassetteMiss, CassetteUnreadable
from anyint_conformance.wire.transport import Meter

__all__ = ["EACH_MODEL", "Engine", "Item", "Outcome", "RunError", "Subject"]


@dataclass
class Item:
    """What the engine needs of one test (pytest's item, reduced): its function, parameters and cassette."""

    nodeid: str
    function: Callable
    params: dict
    subject: Subject
    marker: str | None
    cassette_path: Path
    per_target: bool = False


@dataclass
class Outcome:
    """What one test produced: its cells, and the failure that stopped it (a recording problem) if any."""

    cells: list[Cell]
    failure: str | None = None


class Engine:
    def __init__(self, cfg: RunConfig, answering: Callable[[Target], httpx.BaseTransport] | None = None):
        self.ctx = ctx = RunContext.build(cfg)
        meter = Meter(request_pricer(ctx.prices, cfg.token_cap) if ctx.prices else None)
        self.budget = Budget(meter, ctx.prices, cfg.max_requests, cfg.budget, cfg.token_cap)
        # live with --concurrency N: a cell's examples go at once too, N at a time (recorded in order all the same)
        self._fanout = ThreadPoolExecutor(max_workers=cfg.concurrency, thread_name_prefix="anyint-cell") if cfg.live and cfg.concurrency > 1 and answering is None else None
        self.judging = Judging(rules=ctx.rules, timeout=cfg.request_timeout, budget=self.budget, trials=cfg.trials,
                               fanout=self._fanout.map if self._fanout is not None else None)
        self.connections = Connections(ctx, meter, answering)
        self.cassettes = Cassettes(ctx)
        self.gates = RouteGates()
        self.discovered: dict[str, Discovery] = {}
        self.shard_groups: list[tuple[str, str]] = []  # --shard: the (target, model) groups this shard runs
        self.cells: list[Cell] = []
        self._incomplete: list[str] = []
        self._lock = threading.Lock()
        self._futures: dict[str, Future] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._cache = not cfg.live and answering is None  # replay: the SDK's findings on an unchanged recording are read, not recomputed
        if self._cache:
            oracle.CACHE.open(cfg.cassette_dir / ".cache" / "oracle.json")

    @property
    def cfg(self) -> RunConfig:
        return self.ctx.cfg

    @property
    def meter(self) -> Meter:
        return self.budget.meter

    @property
    def incomplete(self) -> list[str]:
        """Why this run did not run to its end (a budget cut, a test that crashed or missed its cassette, a
        lost worker; the plugin adds pytest's own stops): an incomplete run drops no cell it did not observe."""
        return self._incomplete + (["a budget was spent"] if self.budget.cut and "a budget was spent" not in self._incomplete else [])

    def stopped_by(self, why: str) -> None:
        """Note that the run did not run to its end (thread-safe, each reason once)."""
        with self._lock:
            if why not in self._incomplete:
                self._incomplete.append(why)

    def prepare(self) -> None:
        """Discover every target's models and validate --model, or raise RunError with the fix."""
        self.discovered = discover(self.ctx, self.cassettes, self.connections)

    def subjects(self, per_target: bool = False) -> list[Subject]:
        return subjects(self.ctx, self.discovered, per_target)

    # -- running tests -----------------------------------------------------------------------------------

    def run_item(self, item: Item) -> Outcome:
        """Run one test's suite function with a Runner inside its cassette; a recording problem becomes a
        failure that says what to do (never VCR.py's or httpx's own message)."""
        target = item.subject.target.name
        cassette = runner = None
        unfinished = "the test was stopped"  # until it returns: a cassette saved on the way out says it is unfinished
        try:
            cassette = self.cassettes.open(item.cassette_path)
            runner = Runner(self.ctx, self.connections, self.cassettes, self.judging, self.gates, self.discovered.get(target),
                            item.subject, cassette, item.nodeid, item.marker)
            item.function(conformance=runner, **item.params)
            unfinished = None
            if self.budget.cut and any(c.verdict == Verdict.UNTESTED.value for c in runner.cells):
                unfinished = "the budget ran out"  # its later requests were never sent: a resumed recording sends them
        except (CassetteMiss, CassetteUnreadable) as exc:
            unfinished = None  # nothing was recorded past the problem: the cassette says what it holds
            return self._recording_problem(item, runner, exc)
        finally:
            if cassette is not None:
                self.cassettes.close(cassette, target, unfinished)
            if runner is not None:
                runner.close()
        return Outcome(runner.cells)

    def _recording_problem(self, item: Item, runner: Runner | None, exc) -> Outcome:
        """The test's cells up to the problem, and a failure; the cells it could not observe keep their
        earlier verdicts (the run is not complete)."""
        target = item.subject.target
        self.stopped_by(f"{item.nodeid} could not be replayed")
        if isinstance(exc, CassetteMiss):
            message = (f"{item.nodeid}: no recorded answer for {exc.asked} (model {item.subject.model}) in {shown(exc.path)}: {exc.where}.\n"
                       f"The request differs from the recording (the suite, overlay, seed or library versions changed) or the cassette "
                       f"is missing. Re-record with: {rerecord_hint(target, item.nodeid)}")
        else:
            where = f"{shown(exc.path)}{f', line {exc.line}' if exc.line else ''}"
            message = (f"{item.nodeid}: the cassette {where} cannot be read ({exc.why}).\n"
                       f"It is corrupted, truncated, hand-edited or from another format. Restore it from git "
                       f"(git checkout -- {shown(exc.path)}) or re-record with: {rerecord_hint(target, item.nodeid)}")
        return Outcome(list(runner.cells) if runner is not None else [], failure=message)

    def prerun(self, items: list[Item]) -> None:
        """--concurrency N: start every test now on N threads; `result()` hands each one's outcome to pytest."""
        self._pool = ThreadPoolExecutor(max_workers=self.cfg.concurrency, thread_name_prefix="anyint")
        for item in items:
            self._futures[item.nodeid] = self._pool.submit(self.run_item, item)

    def result(self, item: Item) -> Outcome:
        future = self._futures.pop(item.nodeid, None)
        return future.result() if future is not None else self.run_item(item)

    def stop(self) -> None:
        """No further test starts (pytest stopped early: -x, an interrupt); running ones finish."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        self.stop()
        if self._fanout is not None:
            self._fanout.shutdown(wait=True, cancel_futures=True)
        self.connections.close()
        if self._cache:
            oracle.CACHE.save()
            oracle.CACHE.entries = None
            self._cache = False
