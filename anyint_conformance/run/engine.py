"""The engine: one run's targets, models, connections, cassettes, budgets and cells. No pytest here.

The pytest plugin asks it to `prepare()` (discovery, and every problem that stops a run, raised once as
`RunError`), to `run_item()` for each test (the suite's function, called with a `Runner`, inside the
test's cassette), or to `prerun()` them all on a thread pool (--concurrency N: many requests in flight,
each test's own requests in order, in its own cassette, so cassettes and matrix equal a sequential run's).
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx

from anyint_conformance import __version__
from anyint_conformance.judging.cells import Judging
from anyint_conformance.run.config import RunConfig
from anyint_conformance.run.cost import PriceError, Prices, request_price, route_class
from anyint_conformance.run.expectations import Expectations
from anyint_conformance.model.paths import shown
from anyint_conformance.wire.recording import (
    Cassette,
    CassetteMiss,
    CassetteTransport,
    CassetteUnreadable,
    read_manifest,
    recorded_targets,
    scrub_text,
    write_manifest,
)
from anyint_conformance.run.targets import DEFAULT_TARGET, Target, TargetError, adhoc_target, load_profiles, model_ids, secrets_of
from anyint_conformance.wire.transport import Exchange, Meter, policies, rate_limiter, send, ssl_context
from anyint_conformance.model.verdicts import Cell, Verdict

EACH_MODEL = "(each model)"  # a plan's row for a target whose models are not known without asking it


class RunError(Exception):
    """A problem of the whole run: reported once, before any test, with its fix."""


@dataclass(frozen=True)
class Subject:
    """One parametrization of a suite: a target and a model (None for target-wide cells)."""

    target: Target
    model: str | None

    @property
    def id(self) -> str:
        return f"{self.target.name}:{self.model or 'no-model'}"


@dataclass
class Discovery:
    """What GET /models answered for a target (recorded in cassettes/<target>/models.yaml)."""

    exchange: Exchange | None
    models: list[str]
    cassette: Path
    entries: dict = field(default_factory=dict)  # model id -> the raw entry the target declared
    placeholder: bool = False  # a plan without recordings or a key: the models are not known yet
    listed: list[str] = field(default_factory=list)  # every model the target lists, before --model chose


@dataclass
class Outcome:
    """What one test produced: its cells, and the failure that stopped it (a recording problem) if any."""

    cells: list[Cell]
    failure: str | None = None


def rerecord_hint(target: Target, nodeid: str | None = None, record_mode: str = "rewrite") -> str:
    what = f"'{nodeid}' " if nodeid else "suites "
    key = f"{target.key_env}=... " if target.key_env else ""
    return f"{key}pytest {what}--target {target.name} --record-mode={record_mode} (the target must be running)"


class Engine:
    def __init__(self, cfg: RunConfig, answering: Callable[[Target], httpx.BaseTransport] | None = None):
        self.cfg = cfg
        self.profiles = load_profiles()
        self.targets = self._targets()
        self.secrets = secrets_of({**self.profiles, **{t.name: t for t in self.targets}})
        self.prices = self._prices()
        self.declarations = self._declarations()
        self.meter = Meter(self._price if self.prices else None)
        self.judging = Judging(strict=cfg.strict, secrets=tuple(self.secrets), timeout=cfg.request_timeout, token_cap=cfg.token_cap,
                               before_cell=self.over_budget)
        self.expectations = Expectations.load() if cfg.expectations else Expectations({})
        self.discovered: dict[str, Discovery] = {}
        self.cells: list[Cell] = []
        # why this run did not run to its end (a budget cut, a test that crashed, a lost worker; the plugin
        # adds pytest's own stops): an incomplete run drops no cell it did not observe
        self.incomplete: list[str] = []
        self.recorded_paths: dict[str, set[str]] = {}  # target -> cassettes this run wrote (relative to its folder)
        self._answering = answering  # a plan's imaginary server instead of the network
        self._connections: dict[str, httpx.BaseTransport] = {}
        self._limiters: dict[str, object] = {}
        self._gates: dict[tuple, str | None] = {}
        self._manifests: dict[str, dict] = {}
        self._rewritten: set[Path] = set()
        self._lock = threading.RLock()
        self._futures: dict[str, Future] = {}
        self._pool: ThreadPoolExecutor | None = None

    @property
    def live(self) -> bool:
        return self.cfg.live

    def _targets(self) -> list[Target]:
        cfg = self.cfg
        if cfg.base_url:
            return [adhoc_target(cfg.base_url, cfg.key_env, cfg.target_name)]
        names = list(cfg.targets) or ([DEFAULT_TARGET] if cfg.live else recorded_targets(cfg.cassette_dir))
        unknown = [n for n in names if n not in self.profiles]
        if unknown:
            raise TargetError(f"unknown target(s) {', '.join(unknown)}; profiles in targets.yaml: {', '.join(self.profiles)}")
        if not names:
            raise TargetError(f"no recorded targets under {shown(cfg.cassette_dir)} to replay; record some (see README) or pass --target")
        return [self.profiles[n] for n in names]

    def _prices(self) -> Prices | None:
        if self.cfg.budget and not self.cfg.prices:
            raise TargetError("--budget needs --prices: a price table to estimate what each request costs (see README, Cost)")
        try:
            return Prices.load(self.cfg.prices) if self.cfg.prices else None
        except PriceError as exc:
            raise TargetError(str(exc)) from None

    def _declarations(self) -> dict:
        """The --declarations file, read (and refused with one line) before anything is sent."""
        from anyint_conformance.reports.declared import load_file

        try:
            return load_file(self.cfg.declarations) if self.cfg.declarations else {}
        except ValueError as exc:
            raise TargetError(str(exc)) from None

    def _price(self, request: httpx.Request) -> float:
        try:
            body = json.loads(request.content) if request.headers.get("content-type", "").startswith("application/json") else None
        except (ValueError, httpx.RequestNotRead):
            body = None
        return request_price(self.prices, request.url.path, body, self.cfg.token_cap)

    # -- run-level preparation: discovery and the checks that stop a run once ----------------------

    def prepare(self) -> None:
        """Discover every target's models and validate --model, or raise RunError with the fix."""
        problems = []
        for target in self.targets:
            if self.cfg.plan and not (self.target_dir(target.name) / "models.yaml").exists():
                chosen = self.cfg.models_for(target.name, None, {t.name for t in self.targets})
                models = chosen or list(target.models or [EACH_MODEL])  # a plan sends nothing, not even GET /models
                self.discovered[target.name] = Discovery(None, models, self.target_dir(target.name) / "models.yaml", placeholder=not chosen and not target.models)
                continue
            try:
                self.discovered[target.name] = self._discover(target)
            except RunError as exc:
                problems.append(str(exc))
        if problems:
            raise RunError("\n".join(problems))
        if self.cfg.models:
            names = {t.name for t in self.targets}
            listed = {t.name: self.discovered[t.name].listed or self.discovered[t.name].models for t in self.targets}
            bare = [m for m in self.cfg.models if m.partition(":")[0] not in names]
            unknown = [m for m in bare if not any(m in models for models in listed.values())]
            wrong = [m for m in self.cfg.models if m.partition(":")[0] in names and m.partition(":")[2] not in listed[m.partition(":")[0]]]
            if unknown or wrong:
                known = "; ".join(f"{t.name}: {', '.join(listed[t.name])}" for t in self.targets)
                where = "recorded" if not self.live else "discovered"
                raise RunError(f"unknown --model {', '.join(unknown + wrong)}: the {where} models are {known}")

    def _discover(self, target: Target) -> Discovery:
        path = self.target_dir(target.name) / "models.yaml"
        if self.live and not self.cfg.plan and target.auth == "bearer" and not target.key:
            raise RunError(f"{target.key_env} is not set: export {target.key_env}=<key> to test target {target.name} live "
                           f"({target.base_url}), or replay its recordings: drop --record-mode/--disable-recording")
        if (not self.live or self.cfg.plan) and not path.exists():
            raise RunError(f"no recordings of target {target.name} under {shown(self.target_dir(target.name))}: record them with "
                           f"{rerecord_hint(target, record_mode='once')}")
        try:
            cassette = self.cassette(path, replay=self.cfg.plan)
            with self.client(target, cassette) as client:
                ex = send(client, "GET", target.url("/models"), timeout=self.cfg.request_timeout)
            self.close_cassette(cassette, target.name)
        except CassetteMiss:
            raise RunError(f"{shown(path)} has no recorded GET /models for {target.url('/models')}: {rerecord_hint(target)}") from None
        except CassetteUnreadable as exc:
            raise RunError(f"{shown(exc.path)}{f', line {exc.line}' if exc.line else ''} cannot be read ({exc.why}): "
                           f"restore it (git checkout -- {shown(exc.path)}) or {rerecord_hint(target)}") from None
        ids, entries = model_ids(ex.parsed) if ex.status == 200 else ([], {})
        if target.models:  # a profile's own list narrows (or, without a model list, replaces) discovery
            ids = [m for m in target.models if m in ids] or list(target.models)
        if not ids:
            why = ex.error or f"HTTP {ex.status}: {ex.snippet(200)}"
            raise RunError(f"cannot discover the models of target {target.name} at {target.url('/models')}: {why}")
        chosen = self.cfg.models_for(target.name, ids, {t.name for t in self.targets})
        return Discovery(ex, ids if chosen is None else [m for m in ids if m in chosen], path, entries, listed=ids)

    def subjects(self, per_target: bool = False) -> list[Subject]:
        """Target x model pairs; with `per_target`, one subject per target (its probe model)."""
        out = []
        for target in self.targets:
            models = self.discovered[target.name].models if target.name in self.discovered else []
            if per_target:
                preferred = [m for m in models if m == target.probe_model]
                out.append(Subject(target, (preferred or models or [None])[0]))
            else:
                out += [Subject(target, m) for m in models]
        return out

    # -- connections, cassettes, budgets --------------------------------------------------------------

    def client(self, target: Target, cassette: Cassette | None, bare: bool = False) -> httpx.Client:
        """A client for one test: the run's policies around its cassette (or the live connection)."""
        headers = {"User-Agent": f"anyint-conformance/{__version__}", **({} if bare else target.auth_headers())}
        return httpx.Client(headers=headers, transport=self.transport(target, cassette), follow_redirects=False, timeout=self.cfg.request_timeout)

    def transport(self, target: Target, cassette: Cassette | None) -> httpx.BaseTransport:
        connection = Shared(self._connection(target)) if (self.live or self._answering) else None
        answering = CassetteTransport(cassette, connection) if cassette is not None else connection
        return policies(answering, retries=self.cfg.retries, sleep=self.sleep, meter=self.meter, limiter=self._limiter(target), name=target.name)

    def _connection(self, target: Target) -> httpx.BaseTransport:
        with self._lock:
            if target.name not in self._connections:
                if self._answering is not None:
                    self._connections[target.name] = self._answering(target)
                else:  # one pool per target, shared by every thread (httpx's pool is thread-safe)
                    limits = httpx.Limits(max_connections=max(10, 2 * self.cfg.concurrency), max_keepalive_connections=max(10, 2 * self.cfg.concurrency))
                    self._connections[target.name] = httpx.HTTPTransport(verify=ssl_context(), limits=limits)
            return self._connections[target.name]

    def _limiter(self, target: Target):
        """--rps per target: one limiter shared by this process's threads; xdist workers split the rate."""
        if self.cfg.rps <= 0 or not self.live:
            return None
        with self._lock:
            if target.name not in self._limiters:
                import os

                workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
                self._limiters[target.name] = rate_limiter(self.cfg.rps / workers)
            return self._limiters[target.name]

    def sleep(self, seconds: float) -> None:
        """Waits between retries and polls; replay answers from recordings, so it never waits."""
        if self.live and self._answering is None:
            time.sleep(seconds)

    def over_budget(self, route: str, model: str | None, requests: int) -> str | None:
        """Why the next cell (sending up to `requests` to `route`) must not be sent, or None."""
        why = None
        budget = self.cfg.max_requests
        if budget and self.meter.requests >= budget:
            why = f"request budget exhausted ({self.meter.requests} of --max-requests {budget} sent)"
        elif self.cfg.budget and self.prices is not None:
            amount = requests * self.prices.per_request(route_class(route.split(" ", 1)[-1]), model, self.cfg.token_cap)
            if self.meter.spent + amount > self.cfg.budget + 1e-12:
                currency = self.prices.currency
                why = (f"spend budget: this cell (up to {requests} priced requests, about {amount:.4f} {currency}) would pass --budget {self.cfg.budget:g} "
                       f"({self.meter.spent:.4f} {currency} estimated so far)")
        if why:
            self.stopped_by("a budget was spent")
        return why

    def stopped_by(self, why: str) -> None:
        """Note that the run did not run to its end (thread-safe, each reason once)."""
        with self._lock:
            if why not in self.incomplete:
                self.incomplete.append(why)

    def cassette(self, path: Path, replay: bool = False) -> Cassette | None:
        """The cassette at `path` in this run's mode (None when live without recording). --record-mode
        rewrite starts a cassette empty the first time this run opens it; the recording on disk is replaced
        only when the new one is saved (atomically), so an interrupted re-recording loses no cassette."""
        if self.live and not self.cfg.recording and not replay:
            return None
        mode = "none" if (replay or not self.cfg.recording) else self.cfg.record_mode
        fresh = False
        if mode == "rewrite":
            with self._lock:
                fresh = path not in self._rewritten
                self._rewritten.add(path)
            mode = "new_episodes"
        return Cassette(path, mode, self.secrets, cache_dir=self.cfg.cassette_dir / ".cache" if mode == "none" else None, fresh=fresh)

    def close_cassette(self, cassette: Cassette | None, target: str) -> None:
        if cassette is None or not cassette.dirty:
            return
        cassette.save()
        base = self.target_dir(target).resolve()
        with self._lock:
            self.recorded_paths.setdefault(target, set()).add(cassette.path.resolve().relative_to(base).as_posix())

    def target_dir(self, target: str) -> Path:
        return self.cfg.cassette_dir / target

    def scrub(self, text: str) -> str:
        return scrub_text(text, self.secrets)

    def route_gate(self, target: Target, model: str, operation: dict, valid: dict) -> str | None:
        """Why invalid requests to this route are not worth sending (its valid request answered 404/405/501:
        the route or model does not exist for it), or None. One probe per route and model, in its own
        cassette, so the outcome depends neither on test order nor on threads."""
        import re

        route = f"{operation['method']} {operation['path']}"
        key = (target.name, model, route)
        with self._lock:
            lock = self._gates.setdefault(("lock", *key), threading.Lock())
        with lock:
            if key not in self._gates:
                name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{route}--{model}")
                cassette = self.cassette(self.target_dir(target.name) / "_route_probes" / f"{name}.yaml")
                with self.client(target, cassette) as client:
                    ex = send(client, operation["method"], target.url(operation["path"]), valid, timeout=self.cfg.request_timeout)
                self.close_cassette(cassette, target.name)
                missing = ex.status in (404, 405, 501)
                self._gates[key] = f"the valid request to {route} was answered HTTP {ex.status}: the route is not there for this model" if missing else None
            return self._gates[key]

    # -- running tests -----------------------------------------------------------------------------------

    def run_item(self, item) -> Outcome:
        """Run one test's suite function with a Runner inside its cassette; a recording problem becomes an
        untested cell and a failure that says what to do (never VCR.py's or httpx's own message)."""
        from anyint_conformance.run.runner import Runner

        cassette = None
        runner = None
        try:
            cassette = self.cassette(item.cassette_path)
            runner = Runner(self, item.subject, cassette, item.nodeid, item.marker)
            item.function(conformance=runner, **item.params)
        except (CassetteMiss, CassetteUnreadable) as exc:
            return self._recording_problem(item, runner, exc)
        finally:
            if cassette is not None:
                self.close_cassette(cassette, item.subject.target.name)
            if runner is not None:
                runner.close()
        return Outcome(runner.cells)

    def _recording_problem(self, item, runner, exc) -> Outcome:
        target = item.subject.target
        cells = list(runner.cells) if runner is not None else []
        route = exc.asked if isinstance(exc, CassetteMiss) else "(cassette)"
        if isinstance(exc, CassetteMiss):
            message = (f"{item.nodeid}: no recorded answer for {exc.asked} (model {item.subject.model}) in {shown(exc.path)}: {exc.where}.\n"
                       f"The request differs from the recording (the suite, overlay, seed or library versions changed) or the cassette "
                       f"is missing. Re-record with: {rerecord_hint(target, item.nodeid)}")
            reason = f"no recorded answer in {shown(exc.path)}"
        else:
            where = f"{shown(exc.path)}{f', line {exc.line}' if exc.line else ''}"
            message = (f"{item.nodeid}: the cassette {where} cannot be read ({exc.why}).\n"
                       f"It is corrupted, truncated, hand-edited or from another format. Restore it from git "
                       f"(git checkout -- {shown(exc.path)}) or re-record with: {rerecord_hint(target, item.nodeid)}")
            reason = f"the cassette {shown(exc.path)} cannot be read"
        cells.append(Cell(target=target.name, model=item.subject.model, route=route, parameter=None, verdict=Verdict.UNTESTED.value, reason=reason, kind="route"))
        return Outcome(cells, failure=message)

    def prerun(self, items: list) -> None:
        """--concurrency N: start every test now on N threads; `result()` hands each one's outcome to pytest."""
        self._pool = ThreadPoolExecutor(max_workers=self.cfg.concurrency, thread_name_prefix="anyint")
        for item in items:
            self._futures[item.nodeid] = self._pool.submit(self.run_item, item)

    def result(self, item) -> Outcome:
        future = self._futures.pop(item.nodeid, None)
        return future.result() if future is not None else self.run_item(item)

    def stop(self) -> None:
        """No further test starts (pytest stopped early: -x, an interrupt); running ones finish."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def observed_at(self, target: str, cassette: str | None) -> str:
        """When a cell was observed: live, the run's start; replayed, when its cassette was recorded."""
        if self.live:
            return self.cfg.started_at
        with self._lock:
            if target not in self._manifests:
                try:
                    self._manifests[target] = read_manifest(self.target_dir(target))
                except ValueError:
                    self._manifests[target] = {}
        info = self._manifests[target]
        relative = None
        if cassette:
            base = shown(self.target_dir(target)) + "/"  # cells cite cassettes as shown(): compare the same way
            relative = cassette[len(base):] if cassette.startswith(base) else None
        return (info.get("recordings") or {}).get(relative) or info.get("recorded_at") or self.cfg.started_at

    def write_manifests(self, touched: list[str]) -> dict[str, dict]:
        """Each touched target's description for the matrix (recording: the manifest is written first)."""
        infos = {}
        for target in self.targets:
            if target.name not in touched:
                continue
            if self.cfg.recording:
                written = sorted(self.recorded_paths.get(target.name, ()))
                write_manifest(self.target_dir(target.name), target.name, target.base_url, target.describes, __version__, self.cfg.started_at, written)
            info = {"base_url": target.base_url, "describes": target.describes}
            if self.cfg.recording or not self.live:
                try:
                    manifest = read_manifest(self.target_dir(target.name))
                    info.update({k: manifest[k] for k in ("describes", "recorded_at", "recorded_with") if k in manifest})
                except ValueError:
                    pass
            infos[target.name] = info
        return infos

    def close(self) -> None:
        self.stop()
        for connection in self._connections.values():
            connection.close()


class Shared(httpx.BaseTransport):
    """A target's connection pool as one test's client sees it: closing the client leaves the pool open
    for the other threads (the engine closes it at the end of the run)."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:
        pass


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
