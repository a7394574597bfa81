"""The pytest plugin: options, target x model parametrization, VCR wiring, cell records, reports.

The run's configuration (config.RunConfig) is built once from the options; how a verdict becomes a
pytest outcome lives in outcomes.py; how a run's cells join the matrix on disk lives in observed.py.
Run-level problems (no key, no recordings, a failed discovery, an unknown --model) stop the run once,
before any test, with the cause and the fix.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
import vcr as vcrpy
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException

from anyint_conformance import __version__, cassettes, outcomes, sdk
from anyint_conformance.cells import Cell, CellSpec, Judging, Rejection, judge, run_cell, run_rejection_cell
from anyint_conformance.checks import Expect
from anyint_conformance.config import ROOT, SUITES_DIR, RunConfig
from anyint_conformance.cost import EXPENSIVE, PriceError, Prices, Spend, request_price, route_class
from anyint_conformance.expectations import Expectations, cell_label
from anyint_conformance.families import family_of
from anyint_conformance.generate import OverlayError, cap_tokens
from anyint_conformance.lifecycle import Lifecycle, Settings
from anyint_conformance.negative import Mutation
from anyint_conformance.schemas import operation as documented_operation
from anyint_conformance.targets import DEFAULT_TARGET, Target, TargetError, adhoc_target, load_profiles, model_ids, secrets_of
from anyint_conformance.transport import FAILURE_HOOK, Exchange, RetryPolicy, send, ssl_context
from anyint_conformance.verdicts import Finding, Provenance, Severity, Verdict

STATE = pytest.StashKey["State"]()
CHAT_ROUTE = "POST /chat/completions"
AUTH_RULE = Finding(
    "auth", Severity.NONCONFORMING, "a request without the valid key as a Bearer token must be refused", provenance=Provenance.DOCUMENTED,
    rule='000_c0a4473b350488b6.txt / Authentication: "Authorization: Bearer <ANYINT_API_KEY>"; Common mistakes: "Using x-api-key instead of Authorization: Bearer"',
)


def pytest_addoption(parser):
    group = parser.getgroup("anyint-conformance")
    group.addoption("--target", action="append", default=[], help="target profile from targets.yaml (repeatable); default: recorded targets on replay, anyint when live")
    group.addoption("--base-url", default=None, help="any OpenAI-compatible base URL to test instead of a profile")
    group.addoption("--key-env", default=None, help="with --base-url: environment variable that holds the key")
    group.addoption("--target-name", default=None, help="with --base-url: name for cassettes and reports")
    group.addoption("--model", action="append", default=[], help="model id to test (repeatable; applies to the targets that have it, or target:id); default: every discovered model")
    group.addoption("--examples", type=int, default=4, help="Hypothesis examples per supported route cell, after the page's own examples (default 4)")
    group.addoption("--seed", type=int, default=0, help="base seed for generation (default 0; changing it changes every request)")
    group.addoption("--strict-upstream", action="store_true", help="strict mode: upstream OpenAI rules decide verdicts too (default: only the pages and the official SDK decide; pytest owns --strict)")
    group.addoption("--request-timeout", type=float, default=60.0, help="seconds per request (default 60)")
    group.addoption("--poll-timeout", type=float, default=60.0, help="seconds a lifecycle may wait for a run/batch/video to finish (default 60)")
    group.addoption("--max-requests", type=int, default=0, help="budget: stop sending after this many requests; the rest is untested (default: no limit)")
    group.addoption("--prices", default=None, help="price table (YAML: per route class and model pattern, per request or per 1k tokens) for the plan's spend estimate and --budget")
    group.addoption("--budget", type=float, default=0.0, help="spend budget in the price table's currency: a cell that could pass it is not sent (untested); needs --prices (default: no limit)")
    group.addoption("--expensive-examples", action="store_true", help="also send the page's and generated examples on the expensive classes (images, speech, video); default: their probe only")
    group.addoption("--token-cap", type=int, default=16, help="upper bound for max_tokens in every body sent (default 16)")
    group.addoption("--rps", type=float, default=0.0, help="requests per second per target, shared by all workers (default: unlimited)")
    group.addoption("--retries", type=int, default=2, help="retries of a 429 answer, honouring Retry-After up to 30 s (default 2)")
    group.addoption("--cassette-dir", default=str(ROOT / "cassettes"), help="root of the cassettes, one folder per target (default cassettes/)")
    group.addoption("--report-dir", default=str(ROOT / "reports"), help="where support-matrix.{json,md,html} are written (default reports/)")
    group.addoption("--anyint-plan", action="store_true", help="dry run: print models x cells x requests a live run would send, send nothing")
    group.addoption("--no-expectations", action="store_true", help="ignore suites/expectations/: judge every cell by the default rules")
    group.addoption("--declarations", default=None, help="a catalogue export (YAML: model -> {routes, parameters}, or target -> model -> ...) to confront with the observed matrix, beside what GET /models declares")


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


class RunError(Exception):
    """A problem of the whole run: reported once, before any test, with its fix."""


class State:
    def __init__(self, config):
        self.config = config
        self.cfg = RunConfig.from_options(config.getoption)
        self.profiles = load_profiles()
        self.targets = self._targets()
        self.secrets = secrets_of({**self.profiles, **{t.name: t for t in self.targets}})
        self.judging = Judging(strict=self.cfg.strict, secrets=tuple(self.secrets), timeout=self.cfg.request_timeout,
                               retry=RetryPolicy(retries=self.cfg.retries, sleep=self.sleep), token_cap=self.cfg.token_cap)
        self.cells: list[Cell] = []
        self.expectations = Expectations.load() if self.cfg.expectations else Expectations({})
        self.discovered: dict[str, Discovery] = {}
        self._clients: dict[str, httpx.Client] = {}
        self._last_request: dict[str, list[float]] = {}
        self._gates: dict[tuple, str | None] = {}
        self.tracker = cassettes.InteractionTracker()
        self.spend = Spend(self._prices(), self.cfg.budget)
        self.requests_sent = 0
        self.selected = False  # some tests were deselected or only some files run: not a complete run
        self.recorded_paths: dict[str, set[str]] = {}  # target -> cassettes this run wrote (relative to its folder)
        self._manifests: dict[str, dict] = {}
        self._rewritten: set[Path] = set()

    @property
    def live(self) -> bool:
        return self.cfg.live

    def _targets(self) -> list[Target]:
        cfg = self.cfg
        if cfg.base_url:
            return [adhoc_target(cfg.base_url, cfg.key_env, cfg.target_name)]
        names = list(cfg.targets) or ([DEFAULT_TARGET] if cfg.live else cassettes.recorded_targets(cfg.cassette_dir))
        unknown = [n for n in names if n not in self.profiles]
        if unknown:
            raise TargetError(f"unknown target(s) {', '.join(unknown)}; profiles in targets.yaml: {', '.join(self.profiles)}")
        if not names:
            raise TargetError(f"no recorded targets under {_shown(cfg.cassette_dir)} to replay; record some (see README) or pass --target")
        return [self.profiles[n] for n in names]

    # -- run-level preparation: discovery and the checks that stop a run once ----------------------

    def prepare(self) -> None:
        """Discover every target's models and validate --model, or raise RunError with the fix."""
        problems = []
        for target in self.targets:
            if self.cfg.plan and not (self.target_dir(target.name) / "models.yaml").exists():
                from anyint_conformance.plan import EACH_MODEL  # a plan sends nothing, not even GET /models

                chosen = self.cfg.models_for(target.name, None, {t.name for t in self.targets})
                models = chosen or list(target.models or [EACH_MODEL])
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
            raise RunError(f"no recordings of target {target.name} under {_shown(self.target_dir(target.name))}: record them with "
                           f"{rerecord_hint(target, record_mode='once')}")
        try:
            ex = self.recorded(path, lambda: send(self.client(target), "GET", target.url("/models"), timeout=self.cfg.request_timeout), replay=self.cfg.plan)
        except CannotOverwriteExistingCassetteException:
            raise RunError(f"{_shown(path)} has no recorded GET /models for {target.url('/models')}: {rerecord_hint(target)}") from None
        except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
            if not (isinstance(exc, yaml.YAMLError) or _from_vcr(exc)):
                raise
            raise RunError(f"{_shown(path)} cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}): "
                           f"restore it (git checkout -- {_shown(path)}) or {rerecord_hint(target)}") from None
        ids, entries = model_ids(ex.parsed) if ex.status == 200 else ([], {})
        if target.models:  # a profile's own list narrows (or, without a model list, replaces) discovery
            ids = [m for m in target.models if m in ids] or list(target.models)
        if not ids:
            why = ex.error or f"HTTP {ex.status}: {ex.snippet(200)}"
            raise RunError(f"cannot discover the models of target {target.name} at {target.url('/models')}: {why}")
        chosen = self.cfg.models_for(target.name, ids, {t.name for t in self.targets})
        return Discovery(ex, ids if chosen is None else [m for m in ids if m in chosen], path, entries, listed=ids)

    # -- clients, pacing, budget -------------------------------------------------------------------

    def client(self, target: Target) -> httpx.Client:
        return self._client(target.name, {"User-Agent": f"anyint-conformance/{__version__}", **target.auth_headers()})

    def bare_client(self, target: Target) -> httpx.Client:
        """A client that sends no credentials: auth cells set their own."""
        return self._client(f"{target.name}#bare", {"User-Agent": f"anyint-conformance/{__version__}"}, target.name)

    def _client(self, key: str, headers: dict, target: str | None = None) -> httpx.Client:
        if key not in self._clients:
            pace = self._pacer(target or key)
            hooks = {"request": [self._count, *([pace] if pace else [])], "response": [self.tracker]}
            client = httpx.Client(headers=headers, follow_redirects=False, event_hooks=hooks, verify=ssl_context())
            setattr(client, FAILURE_HOOK, self._record_failure)
            self._clients[key] = client
        return self._clients[key]

    def _record_failure(self, request, exchange) -> int | None:
        """A failure that left no answer, written into the cassette being recorded (replay repeats it)."""
        if self.cfg.recording and self.tracker.cassette is not None:
            index = cassettes.record_failure(self.tracker.cassette, request, exchange.error_kind or "connection", exchange.error)
            self.tracker.use(self.tracker.cassette)  # the appended failure is not a new answer for the next request
            return index
        return None

    def _prices(self) -> Prices | None:
        if self.cfg.budget and not self.cfg.prices:
            raise TargetError("--budget needs --prices: a price table to estimate what each request costs (see README, Cost)")
        try:
            return Prices.load(self.cfg.prices) if self.cfg.prices else None
        except PriceError as exc:
            raise TargetError(str(exc)) from None

    def _count(self, request) -> None:
        self.requests_sent += 1
        if self.spend.prices is not None:
            try:
                body = json.loads(request.content) if request.headers.get("content-type", "").startswith("application/json") else None
            except (ValueError, httpx.RequestNotRead):
                body = None
            self.spend.add(request_price(self.spend.prices, request.url.path, body, self.cfg.token_cap))

    def over_budget(self, item=None, model: str | None = None) -> str | None:
        """Why the next cell must not be sent: the request budget is spent, or the cell could pass the spend budget."""
        budget = self.cfg.max_requests
        if budget and self.requests_sent >= budget:
            return f"request budget exhausted ({self.requests_sent} of --max-requests {budget} sent)"
        if item is not None and self.spend.budget:
            from anyint_conformance.plan import bounds, item_class

            _, _, paid = bounds(item, self.cfg)
            amount = paid * self.spend.prices.per_request(item_class(item), model, self.cfg.token_cap)
            if self.spend.would_exceed(amount):
                currency = self.spend.prices.currency
                return (f"spend budget: this cell (up to {paid} priced requests, about {amount:.4f} {currency}) would pass --budget {self.cfg.budget:g} "
                        f"({self.spend.spent:.4f} {currency} estimated so far)")
        return None

    def _pacer(self, target: str):
        """--rps: space this process's requests to one target; xdist workers share the budget evenly."""
        if self.cfg.rps <= 0 or not self.live:
            return None
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        interval = workers / self.cfg.rps
        last = self._last_request.setdefault(target, [0.0])

        def pace(request):
            wait = last[0] + interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            last[0] = time.monotonic()

        return pace

    def sleep(self, seconds: float) -> None:
        """Waits between retries and polls; replay answers from recordings, so it never waits."""
        if self.live:
            time.sleep(seconds)

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

    def recorded(self, path: Path, call, replay: bool = False):
        """Run `call` under its own cassette (replayed, or recorded in record mode; live: directly).
        For requests that belong to no single test: model discovery, route probes shared by many cells.
        `replay` forces a replay whatever the mode (a plan reads recorded models, never asks)."""
        if self.live and not self.cfg.recording and not replay:
            return call()
        recorder = vcrpy.VCR()
        cassettes.register(recorder)
        mode = "none" if replay else self.cfg.record_mode
        if mode == "rewrite":  # pytest-recording's own mode: VCR.py knows it as delete + new_episodes
            if path not in self._rewritten:
                path.unlink(missing_ok=True)
                self._rewritten.add(path)
            mode = "new_episodes"
        with recorder.use_cassette(str(path), record_mode=mode, **self.vcr_config()) as cassette:
            previous = self.tracker.cassette
            self.tracker.use(cassette)
            try:
                return call()
            finally:
                self.tracker.use(previous)
                if self.cfg.recording and not replay:
                    self.record_written(path)

    def route_gate(self, target: Target, model: str, operation: dict, valid: dict) -> str | None:
        """Why invalid requests to this route are not worth sending (the route or model does not exist
        for it: its valid request answered 404/405/501), or None. One probe per route and model, in its
        own cassette, so the outcome does not depend on test order or xdist workers."""
        route = f"{operation['method']} {operation['path']}"
        key = (target.name, model, route)
        if key not in self._gates:
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{route}--{model}")
            path = self.target_dir(target.name) / "_route_probes" / f"{name}.yaml"
            body = cap_tokens({**valid, "model": model}, self.cfg.token_cap)
            ex = self.recorded(path, lambda: send(self.client(target), operation["method"], target.url(operation["path"]), body, timeout=self.cfg.request_timeout))
            missing = ex.status in (404, 405, 501)
            self._gates[key] = f"the valid request to {route} was answered HTTP {ex.status}: the route is not there for this model" if missing else None
        return self._gates[key]

    def vcr_config(self) -> dict:
        return cassettes.vcr_config(self.secrets, recording=self.cfg.recording)

    def target_dir(self, target: str) -> Path:
        return self.cfg.cassette_dir / target

    def scrub(self, text: str) -> str:
        return cassettes.scrub_text(text, self.secrets)

    def record_written(self, path: Path) -> None:
        """Remember a cassette this run recorded, for the target manifest's `recordings`."""
        path = Path(path).resolve()
        for target in self.targets:
            base = self.target_dir(target.name).resolve()
            if path.is_relative_to(base):
                self.recorded_paths.setdefault(target.name, set()).add(path.relative_to(base).as_posix())

    def observed_at(self, target: str, cassette: str | None) -> str:
        """When a cell was observed: live, the run's start; replayed, when its cassette was recorded."""
        if self.live:
            return self.cfg.started_at
        if target not in self._manifests:
            try:
                self._manifests[target] = cassettes.read_manifest(self.target_dir(target))
            except ValueError:
                self._manifests[target] = {}
        info = self._manifests[target]
        relative = None
        if cassette:
            path = Path(cassette) if Path(cassette).is_absolute() else ROOT / cassette
            base = self.target_dir(target).resolve()
            relative = path.resolve().relative_to(base).as_posix() if path.resolve().is_relative_to(base) else None
        return (info.get("recordings") or {}).get(relative) or info.get("recorded_at") or self.cfg.started_at


def _from_vcr(exc: BaseException) -> bool:
    """Did VCR.py raise this while loading a cassette (as opposed to a bug of ours)?"""
    tb = exc.__traceback__
    while tb is not None:
        if "/vcr/" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


def _shown(path) -> str:
    """A path as reports show it: relative to the repo when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def rerecord_hint(target: Target, nodeid: str | None = None, record_mode: str = "rewrite") -> str:
    what = f"'{nodeid}' " if nodeid else "suites "
    key = f"{target.key_env}=... " if target.key_env else ""
    return f"{key}pytest {what}--target {target.name} --record-mode={record_mode} (the target must be running)"


# VCR.py retries importing these optional libraries on every use_cassette; an absent module is not
# cached by the import system, so each try walks sys.path again (twice, with pytest's rewrite hook).
_VCR_OPTIONAL = ("botocore", "boto3", "httplib2", "tornado", "aiohttp", "httpx_curl_cffi", "pyreqwest")


def _skip_absent_vcr_probes() -> None:
    import importlib.util
    import sys

    for name in _VCR_OPTIONAL:
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            sys.modules[name] = None  # `import name` now fails at once (ModuleNotFoundError), as it would anyway


def pytest_configure(config):
    _skip_absent_vcr_probes()
    try:
        state = State(config)
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[STATE] = state


def _suite_args(config) -> list[tuple[Path, bool]]:
    """The command-line paths that reach suites/, each with whether it is narrower than all of suites/."""
    out = []
    for arg in config.args:
        path = Path(str(arg).split("::")[0]).resolve()
        if path.is_relative_to(SUITES_DIR) or SUITES_DIR.is_relative_to(path):
            out.append((path, "::" in str(arg) or (path != SUITES_DIR and path.is_relative_to(SUITES_DIR))))
    return out


def pytest_sessionstart(session):
    """Run-level problems stop the run here, once, before any test (and before xdist starts workers)."""
    config = session.config
    state = config.stash.get(STATE, None)
    args = _suite_args(config)
    if state is None or not args:
        return
    state.selected = any(narrower for _, narrower in args) or bool(state.cfg.models)
    _prepare(state)


def _prepare(state: State) -> None:
    try:
        state.prepare()
    except RunError as exc:
        raise pytest.UsageError(state.scrub(str(exc))) from None


def pytest_deselected(items):
    if items:
        config = items[0].config
        state = config.stash.get(STATE, None)
        if state is not None:
            state.selected = True


def pytest_recording_configure(config, vcr):
    cassettes.register(vcr)


def pytest_generate_tests(metafunc):
    if "conformance" in metafunc.fixturenames:
        per_target = metafunc.definition.get_closest_marker("per_target") is not None
        state = metafunc.config.stash[STATE]
        if not state.discovered:  # collected by a path pytest_sessionstart did not recognise as suites/
            _prepare(state)
        subjects = state.subjects(per_target=per_target)
        ids = [s.target.name if per_target else s.id for s in subjects]
        metafunc.parametrize("conformance", subjects, indirect=True, ids=ids)


def pytest_collection_modifyitems(config, items):
    state = config.stash[STATE]
    for item in items:
        if "conformance" not in getattr(item, "fixturenames", ()):
            continue
        if not state.cfg.live or state.cfg.recording:
            item.add_marker(pytest.mark.vcr)
        if not state.live:
            item.add_marker(pytest.mark.block_network)  # replay never opens a socket, loopback included


@pytest.fixture
def vcr_config(pytestconfig):
    return pytestconfig.stash[STATE].vcr_config()


def _subject(node) -> Subject | None:
    callspec = getattr(node, "callspec", None)
    return callspec.params.get("conformance") if callspec else None


def cassette_path(node, state: State) -> Path:
    """Where a test's cassette lives: cassettes/<target>/<suite file>/<test id without the target>.yaml.
    One cassette per test x model x variant: small cassettes keep VCR's matching cheap."""
    subject = _subject(node)
    target = subject.target.name if subject else "_"
    ident = node.callspec.id if hasattr(node, "callspec") else ""
    if subject is not None:
        for prefix in (f"{subject.target.name}:", f"{subject.target.name}-", subject.target.name):
            if ident.startswith(prefix):
                ident = ident[len(prefix):]
                break
    name = f"{node.originalname}[{ident}]" if ident else node.originalname
    return state.target_dir(target) / Path(node.fspath).stem / (re.sub(r"[^A-Za-z0-9._\[\]-]+", "_", name) + ".yaml")


@pytest.fixture
def vcr_cassette_dir(request):
    return str(cassette_path(request.node, request.config.stash[STATE]).parent)


@pytest.fixture
def default_cassette_name(request):
    return cassette_path(request.node, request.config.stash[STATE]).stem


class Runner:
    """What a suite gets: run a declared cell against the current target and model, and judge it."""

    def __init__(self, request, state: State, subject: Subject):
        self.request, self.state, self.subject = request, state, subject
        self.target, self.model = subject.target, subject.model
        marker = request.node.get_closest_marker("route")
        self.marker = marker.args[0] if marker else None
        self.cassette = request.getfixturevalue("vcr") if not (state.cfg.live and not state.cfg.recording) else None
        state.tracker.use(self.cassette)

    @property
    def client(self) -> httpx.Client:
        return self.state.client(self.target)

    def narrow(self, body: dict) -> dict:
        """The run's cost narrowing, for a body a suite embeds somewhere the runner cannot see (a batch file)."""
        return cap_tokens(body, self.state.cfg.token_cap)

    @staticmethod
    def rule(message: str, rule: str, provenance: Provenance = Provenance.UPSTREAM) -> Finding:
        """Why a lifecycle step must be refused, and where that rule comes from."""
        return Finding("refused", Severity.NONCONFORMING, message, provenance=provenance, rule=rule)

    def check(self, spec: CellSpec) -> Cell:
        __tracebackhide__ = True  # verdicts are the message; plugin frames are noise (and slow to render)
        self._within_budget(spec.route, spec.parameter, spec.kind)
        cfg = self.state.cfg
        if route_class(spec.operation["path"]) in EXPENSIVE and not cfg.expensive_examples:
            spec = replace(spec, generate=False)  # an image, a clip or a video per example: the probe only, unless opted in
        try:
            cell = self._replayable(spec.route, spec.parameter, lambda: run_cell(
                self.client, self.target.url(spec.operation["path"]), spec, target=self.target.name, model=self.model,
                examples=cfg.examples, seed=cfg.seed, judging=self.state.judging))
        except OverlayError as exc:
            pytest.fail(f"suite error: {exc}", pytrace=False)
        return self._finish(cell)

    def check_model_list(self) -> Cell:
        """GET /models as a cell of the target, judged on the discovery answer (no further request)."""
        __tracebackhide__ = True
        found = self.state.discovered[self.target.name]
        op = documented_operation("/models", "GET")
        result = judge(found.exchange, Expect.for_request(op, None), self.state.judging)
        ex = found.exchange
        cell = Cell(target=self.target.name, model=None, route="GET /models", parameter=None, verdict=result.verdict.value, reason=result.reason,
                    status=ex.status, violation=result.first_violation.to_dict() if result.first_violation else None,
                    warnings=[f.to_dict() for f in result.warnings], notes=[f.to_dict() for f in result.notes],
                    request={"method": "GET", "url": ex.url, "body": None}, exchanges=0, kind="route", strict=self.state.cfg.strict,
                    security=any(f.check == "credential_reflected" for f in result.findings))
        if not (self.state.cfg.live and not self.state.cfg.recording):
            cell.cassette, cell.interaction = _shown(found.cassette), 0
        return self._finish(cell, located=True)

    def check_rejection(self, operation: dict, valid: dict, mutation: Mutation) -> Cell:
        """A negative cell: the valid probe body with one mutation must be refused (a 4xx)."""
        __tracebackhide__ = True  # verdicts are the message; plugin frames are noise (and slow to render)
        route = f"{operation['method']} {operation['path']}"
        parameter = f"negative: {mutation.name}"
        self._within_budget(route, parameter, "negative")
        valid = cap_tokens({**valid, "model": self.model}, self.state.cfg.token_cap)
        gate = self._replayable(route, parameter, lambda: self.state.route_gate(self.target, self.model, operation, valid))
        if gate:
            return self._finish(self._untested(route, parameter, gate, kind="negative"))
        case = mutation.apply(operation, valid)
        return self._rejection(route, operation, case, self.state.client(self.target), self.model)

    def check_auth(self, operation: dict, valid: dict, how: str) -> Cell:
        """An auth cell (per target): the valid request with bad or misplaced credentials must be refused."""
        __tracebackhide__ = True  # verdicts are the message; plugin frames are noise (and slow to render)
        route = f"{operation['method']} {operation['path']}"
        if self.target.auth == "none":
            return self._finish(self._untested(route, f"auth: {how}", "the target's profile declares no authentication", kind="auth"))
        key = self.target.key or ("replayed-key" if not self.state.live else None)
        cases = {
            "no credentials": ({}, "none"),
            "x-api-key instead of Bearer": ({"x-api-key": key}, "x-api-key: <the valid key>"),
            "wrong key": ({"Authorization": "Bearer anyint-conformance-wrong-key"}, "Authorization: Bearer <a wrong key>"),
            "malformed Authorization": ({"Authorization": key}, "Authorization: <the valid key without 'Bearer '>"),
        }
        headers, shown = cases[how]
        body = cap_tokens({**valid, "model": self.model}, self.state.cfg.token_cap) if operation["method"] != "GET" else None
        case = Rejection(how, AUTH_RULE, body=body, headers=headers, statuses=(401,), auth=True, shown=shown)
        return self._rejection(route, operation, case, self.state.bare_client(self.target), None)

    def _rejection(self, route, operation, case, client, model) -> Cell:
        __tracebackhide__ = True  # verdicts are the message; plugin frames are noise (and slow to render)
        cell = self._replayable(route, case.name, lambda: run_rejection_cell(
            client, operation["method"], self.target.url(operation["path"]), case, target=self.target.name, model=model, route=route,
            judging=self.state.judging))
        return self._finish(cell)

    @contextlib.contextmanager
    def lifecycle(self, per_model: bool = True, kind: str = "lifecycle", prefix: str = "lifecycle: "):
        """A stateful sequence whose steps are cells; what it created is deleted on exit, whatever happened."""
        __tracebackhide__ = True
        settings = Settings(judging=self.state.judging, sleep=self.state.sleep, poll_timeout=self.state.cfg.poll_timeout, poll_interval=1.0)
        self._within_budget("lifecycle", None, kind)
        life = Lifecycle(self.client, self.target.base_url, self.target.name, self.model if per_model else None, settings, kind, prefix)
        problem = None
        try:
            try:
                yield life
            finally:
                with contextlib.suppress(Exception):  # a cleanup after a miss misses too: the first problem is the one to report
                    life.close()  # delete what was created, even when a step or the suite itself failed
        except Exception as exc:  # noqa: BLE001 - classified below; anything else is re-raised
            problem = self._recording_problem(exc)
            if problem is None:
                raise
        # outside the except block: a chained exception would print VCR's unfiltered request
        if problem:
            for cell in life.cells:
                self._stamp(cell)
            self.state.cells.extend(life.cells)
            route = life.cells[-1].route if life.cells else "lifecycle"
            self._fail_recording(route, f"{prefix}(next step)", problem)
        self._finish_many(life.cells)

    def check_sdk_example(self) -> Cell:
        """The page's Python example through the official openai SDK (recorded and replayed like any cell)."""
        __tracebackhide__ = True  # verdicts are the message; plugin frames are noise (and slow to render)
        result = self._replayable(CHAT_ROUTE, sdk.PARAMETER, lambda: sdk.run_documented_example(
            self.target.base_url, self.target.key, self.model, self.state.cfg.request_timeout, self.state.cfg.token_cap))
        cell = Cell(target=self.target.name, model=self.model, route=CHAT_ROUTE, parameter=sdk.PARAMETER, verdict=result["verdict"],
                    reason=result["reason"], status=result["status"], warnings=result["warnings"], violation=result["violation"],
                    request={"method": "POST", "url": self.target.url("/chat/completions"), "body": result["request"]}, exchanges=1,
                    strict=self.state.cfg.strict)
        if self.cassette is not None:
            cell.interaction = next((i for i, n in self.cassette.play_counts.items() if n), len(self.cassette.data) - 1 if self.cassette.data else None)
        return self._finish(cell)

    def _replayable(self, route: str, parameter: str | None, call):
        """Run `call`; a cassette miss, an unreadable cassette or a blocked socket becomes a clean failure naming the fix."""
        __tracebackhide__ = True  # verdicts are the message; plugin frames are noise (and slow to render)
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - classified below; anything else is re-raised
            problem = self._recording_problem(exc)
            if problem is None:
                raise
        # Outside the except block on purpose: a chained exception would print VCR's unfiltered request.
        self._fail_recording(route, parameter, problem)

    def _recording_problem(self, exc: Exception) -> tuple[str, str] | None:
        """What went wrong with the recording, in words (VCR.py's own message prints the unfiltered request)."""
        if isinstance(exc, CannotOverwriteExistingCassetteException):
            request = exc.failed_request
            return "miss", f"{request.method} {request.path}: " + cassettes.describe_miss(exc.cassette, request, self.state.secrets)
        if isinstance(exc, RuntimeError) and "Network is disabled" in str(exc):
            return "socket", str(exc)
        if isinstance(exc, (KeyError, TypeError, ValueError, AttributeError, UnicodeDecodeError)) and _from_vcr(exc):
            return "unreadable", f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        return None

    def _fail_recording(self, route: str, parameter: str | None, problem: tuple[str, str]) -> None:
        __tracebackhide__ = True
        kind, text = problem
        if kind == "miss":
            asked, _, text = text.partition(": ")
            self._cassette_miss(route, parameter, text, asked)
        if kind == "unreadable":
            where = _shown(self.cassette._path) if self.cassette is not None else "?"
            message = (f"{self.request.node.nodeid}: the cassette {where} cannot be read while replaying ({text}).\n"
                       f"It is corrupted, truncated, hand-edited or from another format. Restore it from git "
                       f"(git checkout -- {where}) or re-record with: {rerecord_hint(self.target, self.request.node.nodeid)}")
            self._finish(self._untested(route, parameter, f"the cassette {where} cannot be read"), fail=True, message=message)
        self._network_blocked(route, parameter, text)

    def _within_budget(self, route: str, parameter: str | None, kind: str) -> None:
        __tracebackhide__ = True
        spent = self.state.over_budget(self.request.node, self.model)
        if spent:
            self._finish(self._untested(route, parameter, spent, kind=kind))

    def _untested(self, route: str, parameter: str | None, reason: str, kind: str = "route") -> Cell:
        return Cell(target=self.target.name, model=self.model, route=route, parameter=parameter, verdict=Verdict.UNTESTED.value, reason=reason, kind=kind)

    def _cassette_miss(self, route: str, parameter: str | None, where_it_differs: str, asked: str) -> None:
        __tracebackhide__ = True  # verdicts are the message; plugin frames are noise (and slow to render)
        # VCR's own message prints the unfiltered request: never show it, name what differs and what to do.
        where = _shown(self.cassette._path) if self.cassette is not None else "?"
        message = (
            f"{self.request.node.nodeid}: no recorded answer for {asked} (model {self.model}) in {where}: {where_it_differs}.\n"
            f"The request differs from the recording (the suite, overlay, seed or library versions changed) "
            f"or the cassette is missing. Re-record with: {rerecord_hint(self.target, self.request.node.nodeid)}"
        )
        self._finish(self._untested(route, parameter, f"no recorded answer in {where}"), fail=True, message=message)

    def _network_blocked(self, route: str, parameter: str | None, problem: str) -> None:
        __tracebackhide__ = True  # verdicts are the message; plugin frames are noise (and slow to render)
        message = (
            f"{self.request.node.nodeid}: replay tried to open a socket ({problem}); replay answers only from "
            f"cassettes. To talk to a live target pass --record-mode=once|rewrite or --disable-recording."
        )
        self._finish(self._untested(route, parameter, "replay tried to open a socket"), fail=True, message=message)

    def _stamp(self, cell: Cell) -> None:
        """What the runner knows of a cell: its test, family, evidence file and when it was observed."""
        cell.test = self.request.node.nodeid
        cell.family = family_of(self.marker, cell.route, cell.parameter)
        if self.cassette is not None and cell.request is not None and cell.cassette is None:
            cell.cassette = _shown(self.cassette._path)
        if cell.cassette is None:
            cell.interaction = None
        cell.observed_at = self.state.observed_at(self.target.name, cell.cassette)

    def _finish(self, cell: Cell, fail: bool | None = None, message: str | None = None, located: bool = False) -> Cell:
        """Record the cell, then turn its verdict into a pytest outcome (outcomes.py decides)."""
        __tracebackhide__ = True
        self._stamp(cell)
        self.state.cells.append(cell)
        if fail:
            _raise(outcomes.FAIL, self._describe(cell, message))
        outcome, text = self._judge(cell)
        _raise(outcome, text)
        return cell

    def _finish_many(self, cells: list[Cell]) -> list[Cell]:
        """Several cells from one test (a lifecycle): every cell is recorded, the worst outcome is raised."""
        __tracebackhide__ = True
        for cell in cells:
            self._stamp(cell)
        self.state.cells.extend(cells)
        judged = [self._judge(cell) for cell in cells]
        worst = outcomes.worst_outcome([o for o, _ in judged])
        _raise(worst, "\n".join(text for o, text in judged if o == worst or worst in (outcomes.PASS, outcomes.WARN)))
        return cells

    def _describe(self, cell: Cell, message: str | None = None) -> str:
        text = self.state.scrub(message or f"{cell.route} [{cell.parameter or 'route'}] on {self.target.name}/{cell.model or '(target)'}: {cell.verdict}: {cell.reason}")
        violation = cell.violation or {}
        if not message and violation.get("provenance"):
            text += f"\nrule ({violation['provenance']}): {violation.get('rule') or violation.get('check')}"
        if cell.request and not message:
            text += f"\nrequest: {self.state.scrub(str(cell.request['body']))[:500]}"
        if cell.cassette:
            text += f"\nevidence: {cell.cassette}" + (f" #{cell.interaction}" if cell.interaction is not None else "")
        return text

    def _judge(self, cell: Cell) -> tuple[str, str]:
        expected = self.state.expectations.expected(cell.target, cell.model, cell.route, cell.parameter)
        outcome, why = outcomes.outcome(cell.verdict, expected, cell.security)
        text = self._describe(cell)
        if why == "expectation drift":
            label = cell_label(cell.model, cell.route, cell.parameter)
            text = (f"expectation drift for {cell.target}: {label}\n  - expected: {expected}\n  + observed: {cell.verdict}\n{text}\n"
                    f"(if the change is right, update suites/expectations/{cell.target}.yaml)")
        elif outcome == outcomes.XFAIL:
            text = f"known deviation (suites/expectations/{cell.target}.yaml): {text}"
        elif why == "security finding":
            text = "SECURITY FINDING: " + text
        return outcome, text


def _raise(outcome: str, text: str) -> None:
    __tracebackhide__ = True
    if outcome == outcomes.FAIL:
        failure = pytest.fail.Exception(text, pytrace=False)
        failure.__suppress_context__ = True  # raised while a VCR.py error is handled: never show its unfiltered message
        raise failure
    if outcome == outcomes.XFAIL:
        raise pytest.xfail.Exception(text, pytrace=False)  # pytest.xfail() builds a traceback repr per xfail, then discards it
    if outcome == outcomes.SKIP:
        pytest.skip(text)
    # WARN is a pass: the summary line counts the lenient cells (--strict-upstream fails them)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A cassette VCR.py cannot load (truncated, hand-edited, older format) fails with what to do, not a traceback."""
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is None or call.when != "setup" or "conformance" not in getattr(item, "fixturenames", ()):
        return
    exc = call.excinfo.value
    from_vcr = any("/vcr/" in str(entry.path) for entry in call.excinfo.traceback)
    if isinstance(exc, yaml.YAMLError) or (from_vcr and isinstance(exc, (KeyError, TypeError, ValueError, UnicodeDecodeError, AttributeError))):
        state = item.config.stash[STATE]
        subject = item.callspec.params.get("conformance")
        path = cassette_path(item, state)
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        report.longrepr = state.scrub(
            f"{item.nodeid}: the cassette {_shown(path)}{line} cannot be read "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}).\n"
            f"It is corrupted, truncated, hand-edited or from another format. Restore it from git "
            f"(git checkout -- {_shown(path)}) or re-record with: {rerecord_hint(subject.target, item.nodeid)}"
        )


@pytest.fixture
def conformance(request) -> Runner:
    state = request.config.stash[STATE]
    return Runner(request, state, request.param)


def pytest_testnodedown(node, error):
    """pytest-xdist controller: collect the cells a worker recorded (workers write no reports)."""
    state = node.config.stash.get(STATE, None)
    output = getattr(node, "workeroutput", {})
    if state is not None:
        state.cells += [Cell(**c) for c in output.get("anyint_cells", [])]
        state.selected = state.selected or output.get("anyint_selected", False)
        for target, paths in output.get("anyint_recorded", {}).items():
            state.recorded_paths.setdefault(target, set()).update(paths)


def pytest_sessionfinish(session, exitstatus):
    if session.config.getoption("--anyint-plan"):
        session.exitstatus = pytest.ExitCode.OK  # a plan is a successful run that sent nothing
        return
    state: State | None = session.config.stash.get(STATE, None)
    if state is not None and hasattr(session.config, "workerinput"):
        session.config.workeroutput["anyint_cells"] = [c.to_dict() for c in state.cells]
        session.config.workeroutput["anyint_selected"] = state.selected
        session.config.workeroutput["anyint_recorded"] = {t: sorted(p) for t, p in state.recorded_paths.items()}
        return
    if state is None or not state.cells:
        return
    write_reports(session, state)


def write_reports(session, state: State) -> None:
    from anyint_conformance import matrix as matrices
    from anyint_conformance.declared import confront, note_cells, unknown_keys
    from anyint_conformance.observed import carry_over, carry_targets
    from anyint_conformance.report import build_matrix

    touched = sorted({c.target for c in state.cells})
    infos = {}
    for target in state.targets:
        if target.name not in touched:
            continue
        if state.cfg.recording:
            written = sorted(state.recorded_paths.get(target.name, ()))
            cassettes.write_manifest(state.target_dir(target.name), target.name, target.base_url, target.describes, __version__, state.cfg.started_at, written)
        info = {"base_url": target.base_url, "describes": target.describes}
        if state.cfg.recording or not state.live:
            try:
                manifest = cassettes.read_manifest(state.target_dir(target.name))
                info.update({k: manifest[k] for k in ("describes", "recorded_at", "recorded_with") if k in manifest})
            except ValueError:
                pass
        infos[target.name] = info
    cells = [c.to_dict() for c in state.cells]
    report_dir = state.cfg.report_dir
    existing_path = report_dir / "support-matrix.json"
    note = ""
    if existing_path.exists():
        try:
            existing = matrices.load(existing_path)
        except matrices.MatrixError as exc:
            existing, note = None, f" (the earlier matrix was not kept: {exc})"
        if existing is not None:
            complete = set() if state.selected else set(touched)
            kept_before = len(cells)
            cells = carry_over(existing["cells"], cells, complete)
            infos = carry_targets(existing["targets"], infos)
            if len(cells) > kept_before:
                note = f" ({len(cells) - kept_before} cells this run did not observe kept from the earlier matrix)"
    declared = _declarations(state, infos, touched)
    contradictions = confront(cells, declared)
    note_cells(cells, contradictions)
    drift = [
        {"target": c["target"], "model": c["model"], "route": c["route"], "parameter": c["parameter"], "expected": expected, "observed": c["verdict"]}
        for c in cells
        if (expected := state.expectations.expected(c["target"], c["model"], c["route"], c["parameter"])) is not None and expected != c["verdict"]
    ]
    matrix = build_matrix(cells, infos, __version__, state.cfg.mode, strict=state.cfg.strict, drift=drift, declared=contradictions + unknown_keys(declared))
    paths = matrices.write(matrix, report_dir, state.secrets)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        if reporter._tw.width_of_current_line:  # after pytest's progress characters: start a line of our own
            reporter.write("\n")
        reporter.write_line(f"anyint-conformance: {len(state.cells)} cells observed{note} -> " + ", ".join(_shown(p) for p in paths))
        lenient = sum(c.verdict == Verdict.LENIENT.value for c in state.cells)
        if lenient:
            reporter.write_line(f"anyint-conformance: {lenient} cell(s) lenient: accepted what only upstream OpenAI refuses "
                                f"(passes under the pages' rules; --strict-upstream fails them)")


def _declarations(state: State, infos: dict, touched: list[str]) -> dict[str, dict[str, dict]]:
    """{target: {model: what it declares}}: the raw GET /models entry of every model this run saw (kept in
    the matrix's target info), merged with the --declarations file; carried-over targets keep theirs."""
    from anyint_conformance.declared import load_file

    extra: dict = {}
    if state.config.getoption("--declarations"):
        try:
            extra = load_file(state.config.getoption("--declarations"))
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
    names = {t.name for t in state.targets}
    for target in touched:
        found = state.discovered.get(target)
        entries = dict(found.entries) if found else {}
        for key, value in extra.items():  # {model: ...} for every target, or {target: {model: ...}}
            if key in names:
                if key == target:
                    for model, entry in value.items():
                        entries[model] = {**entries.get(model, {}), **entry}
            elif key in entries or key in (found.models if found else []):
                entries[key] = {**entries.get(key, {}), **value}
        infos[target]["declared"] = entries
    return {name: info.get("declared", {}) for name, info in infos.items()}


def pytest_collection_finish(session):
    """--anyint-plan: the requests a live run would send, before a cent is spent (upper bounds)."""
    # Everything imported and collected so far lives for the whole run: keep it out of the cyclic GC's
    # full collections (Hypothesis and Schemathesis allocate heavily; each full pass walked all of it).
    gc.freeze()
    config = session.config
    if not config.getoption("--anyint-plan"):
        return
    from anyint_conformance.plan import print_plan

    print_plan(session, config.stash[STATE])
    session.items.clear()  # nothing is sent


def pytest_unconfigure(config):
    state = config.stash.get(STATE, None)
    if state:
        for client in state._clients.values():
            client.close()
