"""The pytest plugin: options, target x model parametrization, VCR wiring, cell records, reports.

Modes
  replay (default, `--record-mode` unset or none): answers come from cassettes/<target>/, the network
         is blocked, targets default to every target that has committed cassettes.
  record (`--record-mode=once|rewrite|...`): a live target answers and VCR.py writes the cassettes;
         the target defaults to `anyint`.
  live   (`--disable-recording`): a live target answers, nothing is written under cassettes/.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import vcr as vcrpy
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException

from anyint_conformance import __version__, cassettes, sdk
from anyint_conformance.cells import (
    Cell,
    CellSpec,
    Rejection,
    run_cell,
    run_rejection_cell,
)
from anyint_conformance.checks import Expect, Verdict
from anyint_conformance.expectations import Expectations, cell_label
from anyint_conformance.generate import OverlayError
from anyint_conformance.lifecycle import Lifecycle, Settings
from anyint_conformance.matrix import write as write_reports
from anyint_conformance.negative import Mutation
from anyint_conformance.report import build_matrix
from anyint_conformance.targets import (
    DEFAULT_TARGET,
    Target,
    TargetError,
    adhoc_target,
    load_profiles,
    parse_models,
    secrets_of,
)
from anyint_conformance.transport import RetryPolicy, send, ssl_context

ROOT = Path(__file__).resolve().parent.parent
STATE = pytest.StashKey["State"]()
CHAT_ROUTE = "POST /chat/completions"


def pytest_addoption(parser):
    group = parser.getgroup("anyint-conformance")
    group.addoption("--target", action="append", default=[], help="target profile from targets.yaml (repeatable); default: recorded targets on replay, anyint when live")
    group.addoption("--base-url", default=None, help="any OpenAI-compatible base URL to test instead of a profile")
    group.addoption("--key-env", default=None, help="with --base-url: environment variable that holds the key")
    group.addoption("--target-name", default=None, help="with --base-url: name for cassettes and reports")
    group.addoption("--model", action="append", default=[], help="model id to test (repeatable); default: discover with GET /models")
    group.addoption("--examples", type=int, default=4, help="Hypothesis examples per supported cell (default 4)")
    group.addoption("--seed", type=int, default=0, help="base seed for generation (default 0; changing it changes every request)")
    group.addoption("--request-timeout", type=float, default=60.0, help="seconds per request (default 60)")
    group.addoption("--poll-timeout", type=float, default=60.0, help="seconds a lifecycle may wait for a run/batch/video to finish (default 60)")
    group.addoption("--max-requests", type=int, default=0, help="budget: stop sending after this many requests; the rest is untested (default: no limit)")
    group.addoption("--token-cap", type=int, default=16, help="upper bound for max_tokens in every generated and probe body (default 16)")
    group.addoption("--rps", type=float, default=0.0, help="requests per second per target, shared by all workers (default: unlimited)")
    group.addoption("--retries", type=int, default=2, help="retries of a 429 answer, honouring Retry-After up to 30 s (default 2)")
    group.addoption("--cassette-dir", default=str(ROOT / "cassettes"), help="root of the cassettes, one folder per target (default cassettes/)")
    group.addoption("--report-dir", default=str(ROOT / "reports"), help="where support-matrix.{json,md} are written")
    group.addoption("--anyint-plan", action="store_true", help="dry run: print models x cells x requests a live run would send, send nothing")
    group.addoption("--no-expectations", action="store_true", help="ignore suites/expectations/: judge every cell by the default rules")


@dataclass(frozen=True)
class Subject:
    """One parametrization of a suite: a target and a model (or why there is none)."""

    target: Target
    model: str | None
    error: str | None = None

    @property
    def id(self) -> str:
        return f"{self.target.name}/{self.model or 'no-model'}"


class State:
    def __init__(self, config):
        self.config = config
        record_mode = config.getoption("--record-mode") or "none"
        self.live = config.getoption("--disable-recording") or record_mode != "none"
        self.recording = not config.getoption("--disable-recording") and record_mode != "none"
        self.record_mode = record_mode
        self.mode = "replay" if not self.live else ("record" if self.recording else "live")
        self.cassette_dir = Path(config.getoption("--cassette-dir")).resolve()
        self.profiles = load_profiles()
        self.targets = self._targets()
        self.secrets = secrets_of({**self.profiles, **{t.name: t for t in self.targets}})
        self.cells: list[Cell] = []
        self.expectations = Expectations({}) if config.getoption("--no-expectations") else Expectations.load()
        self._subjects: dict[str, list[Subject]] = {}
        self._clients: dict[str, httpx.Client] = {}
        self._last_request: dict[str, list[float]] = {}
        self._gates: dict[tuple, str | None] = {}
        self.requests_sent = 0
        self._rewritten: set[Path] = set()

    def _targets(self) -> list[Target]:
        opt = self.config.getoption
        if opt("--base-url"):
            return [adhoc_target(opt("--base-url"), opt("--key-env"), opt("--target-name"))]
        names = opt("--target") or ([DEFAULT_TARGET] if self.live else cassettes.recorded_targets(self.cassette_dir))
        unknown = [n for n in names if n not in self.profiles]
        if unknown:
            raise TargetError(f"unknown target(s) {', '.join(unknown)}; profiles in targets.yaml: {', '.join(self.profiles)}")
        if not names:
            raise TargetError("no recorded targets under cassettes/ to replay; record some (see README) or pass --target")
        return [self.profiles[n] for n in names]

    def vcr_config(self) -> dict:
        return cassettes.vcr_config(self.secrets, recording=self.recording)

    def client(self, target: Target) -> httpx.Client:
        return self._client(target.name, {"User-Agent": f"anyint-conformance/{__version__}", **target.auth_headers()})

    def bare_client(self, target: Target) -> httpx.Client:
        """A client that sends no credentials: auth cells set their own."""
        return self._client(f"{target.name}#bare", {"User-Agent": f"anyint-conformance/{__version__}"}, target.name)

    def _client(self, key: str, headers: dict, target: str | None = None) -> httpx.Client:
        if key not in self._clients:
            pace = self._pacer(target or key)
            hooks = {"request": [self._count, *([pace] if pace else [])]}
            self._clients[key] = httpx.Client(headers=headers, follow_redirects=False, event_hooks=hooks, verify=ssl_context())
        return self._clients[key]

    def _count(self, request) -> None:
        self.requests_sent += 1

    def over_budget(self) -> str | None:
        budget = self.config.getoption("--max-requests")
        if budget and self.requests_sent >= budget:
            return f"request budget exhausted ({self.requests_sent} of --max-requests {budget} sent)"
        return None

    def _pacer(self, target: str):
        """--rps: space this process's requests to one target; xdist workers share the budget evenly."""
        rps = self.config.getoption("--rps")
        if rps <= 0 or not self.live:
            return None
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        interval = workers / rps
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

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(retries=self.config.getoption("--retries"), sleep=self.sleep)

    def subjects(self, per_target: bool = False) -> list[Subject]:
        """Target x model pairs; with `per_target`, one subject per target (its first model)."""
        if per_target:
            out = []
            for target in self.targets:
                subjects = [s for s in self.subjects() if s.target is target]
                preferred = [s for s in subjects if s.model and s.model == target.probe_model]
                out.append((preferred or [s for s in subjects if s.model] or subjects)[0])
            return out
        return self._all_subjects()

    def _all_subjects(self) -> list[Subject]:
        out = []
        for target in self.targets:
            if target.name not in self._subjects:
                self._subjects[target.name] = self._discover(target)
            out += self._subjects[target.name]
        return out

    def _discover(self, target: Target) -> list[Subject]:
        explicit = self.config.getoption("--model") or (list(target.models) if target.models else None)
        if explicit:
            return [Subject(target, m) for m in explicit]
        if self.live and target.auth == "bearer" and not target.key:
            return [Subject(target, None, f"{target.key_env} is not set: cannot call {target.url('/models')} (pass --model to skip discovery)")]
        path = self.target_dir(target.name) / "models.yaml"
        try:
            response = self.recorded(path, lambda: self.client(target).get(target.url("/models"), timeout=self.config.getoption("--request-timeout")))
            if response.status_code != 200:
                return [Subject(target, None, f"GET /models answered HTTP {response.status_code}: {response.text[:200]}")]
            return [Subject(target, m) for m in parse_models(response.json())]
        except CannotOverwriteExistingCassetteException:
            return [Subject(target, None, f"no recorded model list in {path}; {rerecord_hint(target)}")]
        except (httpx.HTTPError, ValueError, TargetError) as exc:
            return [Subject(target, None, f"cannot discover models at {target.url('/models')}: {type(exc).__name__}: {exc}")]

    def recorded(self, path: Path, call):
        """Run `call` under its own cassette (replayed, or recorded in record mode; live: directly).
        For requests that belong to no single test: model discovery, route probes shared by many cells."""
        if self.live and not self.recording:
            return call()
        recorder = vcrpy.VCR()
        cassettes.register(recorder)
        mode = self.record_mode
        if mode == "rewrite":  # pytest-recording's own mode: VCR.py knows it as delete + new_episodes
            if path not in self._rewritten:
                path.unlink(missing_ok=True)
                self._rewritten.add(path)
            mode = "new_episodes"
        with recorder.use_cassette(str(path), record_mode=mode, **self.vcr_config()):
            return call()

    def route_gate(self, target: Target, model: str, operation: dict, valid: dict) -> str | None:
        """Why invalid requests to this route are not worth sending (the route or model does not exist
        for it: its valid request answered 404/405/501), or None. One probe per route and model, in its
        own cassette, so the outcome does not depend on test order or xdist workers."""
        route = f"{operation['method']} {operation['path']}"
        key = (target.name, model, route)
        if key not in self._gates:
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{route}--{model}")
            path = self.target_dir(target.name) / "_route_probes" / f"{name}.yaml"
            body = {**valid, "model": model}
            timeout = self.config.getoption("--request-timeout")
            ex = self.recorded(path, lambda: send(self.client(target), operation["method"], target.url(operation["path"]), body, timeout=timeout))
            missing = ex.status in (404, 405, 501)
            self._gates[key] = f"the valid request to {route} was answered HTTP {ex.status}: the route is not there for this model" if missing else None
        return self._gates[key]

    def target_dir(self, target: str) -> Path:
        return self.cassette_dir / target

    def scrub(self, text: str) -> str:
        return cassettes.scrub_text(text, self.secrets)


def _shown(path) -> str:
    """A cassette path as reports show it: relative to the repo when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def rerecord_hint(target: Target, nodeid: str | None = None) -> str:
    what = f"'{nodeid}' " if nodeid else ""
    key = f"{target.key_env}=... " if target.key_env else ""
    return f"re-record with: {key}pytest {what}--target {target.name} --record-mode=rewrite (the target must be running)"


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


def pytest_recording_configure(config, vcr):
    cassettes.register(vcr)


def pytest_generate_tests(metafunc):
    if "conformance" in metafunc.fixturenames:
        per_target = metafunc.definition.get_closest_marker("per_target") is not None
        subjects = metafunc.config.stash[STATE].subjects(per_target=per_target)
        ids = [s.target.name if per_target else s.id for s in subjects]
        metafunc.parametrize("conformance", subjects, indirect=True, ids=ids)


def pytest_collection_modifyitems(config, items):
    state = config.stash[STATE]
    for item in items:
        if "conformance" not in getattr(item, "fixturenames", ()):
            continue
        if not config.getoption("--disable-recording"):
            item.add_marker(pytest.mark.vcr)
        if not state.live:
            item.add_marker(pytest.mark.block_network)  # replay never opens a socket, loopback included


@pytest.fixture
def vcr_config(pytestconfig):
    return pytestconfig.stash[STATE].vcr_config()


def _subject(request) -> Subject | None:
    callspec = getattr(request.node, "callspec", None)
    return callspec.params.get("conformance") if callspec else None


@pytest.fixture
def vcr_cassette_dir(request):
    subject = _subject(request)
    target = subject.target.name if subject else "_"
    return str(request.config.stash[STATE].target_dir(target) / Path(request.node.fspath).stem)


@pytest.fixture
def default_cassette_name(request):
    # one cassette per test x model x variant (small cassettes keep VCR's matching cheap), named by the
    # test id without the target (the directory already names it)
    subject = _subject(request)
    ident = request.node.callspec.id if hasattr(request.node, "callspec") else ""
    if subject is not None:
        for prefix in (f"{subject.target.name}/", f"{subject.target.name}-"):
            ident = ident.removeprefix(prefix)
    name = f"{request.node.originalname}[{ident}]" if ident else request.node.originalname
    return re.sub(r"[^A-Za-z0-9._\[\]-]+", "_", name)


class Runner:
    """What a suite gets: run a declared cell against the current target and model, and judge it."""

    def __init__(self, request, state: State, subject: Subject):
        self.request, self.state, self.subject = request, state, subject
        self.target, self.model = subject.target, subject.model

    @property
    def client(self) -> httpx.Client:
        return self.state.client(self.target)

    def check(self, spec: CellSpec) -> Cell:
        __tracebackhide__ = True  # verdicts are the message; plugin frames are noise (and slow to render)
        cfg = self.state.config.getoption
        if self.subject.error:
            self._finish(self._untested(spec.route, spec.parameter, self.subject.error), fail=True)
        self._within_budget(spec.route, spec.parameter, spec.kind)
        spec = spec.capped(cfg("--token-cap"))
        try:
            cell = self._replayable(
                spec.route,
                spec.parameter,
                lambda: run_cell(
                    self.client,
                    self.target.url(spec.operation["path"]),
                    spec,
                    target=self.target.name,
                    model=self.model,
                    examples=cfg("--examples"),
                    seed=cfg("--seed"),
                    timeout=cfg("--request-timeout"),
                    retry=self.state.retry_policy(),
                ),
            )
        except OverlayError as exc:
            pytest.fail(f"suite error: {exc}", pytrace=False)
        self._locate(cell)
        return self._finish(cell)

    def check_rejection(self, operation: dict, valid: dict, mutation: Mutation, expect: Expect) -> Cell:
        """A negative cell: the valid probe body with one mutation must be refused with a 4xx + envelope."""
        __tracebackhide__ = True  # verdicts are the message; plugin frames are noise (and slow to render)
        route = f"{operation['method']} {operation['path']}"
        self._within_budget(route, f"negative: {mutation.name}", "negative")
        if not self.subject.error:
            gate = self._replayable(route, f"negative: {mutation.name}", lambda: self.state.route_gate(self.target, self.model, operation, valid))
            if gate:
                return self._finish(self._untested(route, f"negative: {mutation.name}", gate, kind="negative"))
        case = mutation.apply({**valid, "model": self.model})
        return self._rejection(route, operation, case, expect, self.state.client(self.target), self.model)

    def check_auth(self, operation: dict, valid: dict, how: str, expect: Expect) -> Cell:
        """An auth cell (per target): the valid request with bad or misplaced credentials must get a 401."""
        __tracebackhide__ = True  # verdicts are the message; plugin frames are noise (and slow to render)
        route = f"{operation['method']} {operation['path']}"
        key = self.target.key or ("replayed-key" if not self.state.live else None)
        if key is None:
            self._finish(self._untested(route, f"auth: {how}", f"{self.target.key_env} is not set"), fail=True)
        cases = {
            "no credentials": ({}, "none"),
            "x-api-key instead of Bearer": ({"x-api-key": key}, "x-api-key: <the valid key>"),
            "wrong key": ({"Authorization": "Bearer anyint-conformance-wrong-key"}, "Authorization: Bearer <a wrong key>"),
            "malformed Authorization": ({"Authorization": key}, "Authorization: <the valid key without 'Bearer '>"),
        }
        headers, shown = cases[how]
        body = {**valid, "model": self.model} if operation["method"] != "GET" else None
        case = Rejection(how, body=body, headers=headers, statuses=(401,), auth=True, shown=shown)
        return self._rejection(route, operation, case, expect, self.state.bare_client(self.target), None)

    def _rejection(self, route, operation, case, expect, client, model) -> Cell:
        __tracebackhide__ = True  # verdicts are the message; plugin frames are noise (and slow to render)
        if self.subject.error:
            self._finish(self._untested(route, case.name, self.subject.error), fail=True)
        cfg = self.state.config.getoption
        cell = self._replayable(
            route,
            case.name,
            lambda: run_rejection_cell(
                client,
                operation["method"],
                self.target.url(operation["path"]),
                case,
                expect,
                target=self.target.name,
                model=model,
                route=route,
                timeout=cfg("--request-timeout"),
                retry=self.state.retry_policy(),
            ),
        )
        self._locate(cell)
        return self._finish(cell)

    @contextlib.contextmanager
    def lifecycle(self, per_model: bool = True):
        """A stateful lifecycle whose steps are cells; what it created is deleted on exit, whatever happened."""
        __tracebackhide__ = True
        if self.subject.error:
            self._finish(self._untested("lifecycle", None, self.subject.error), fail=True)
        cfg = self.state.config.getoption
        settings = Settings(
            timeout=cfg("--request-timeout"),
            retry=self.state.retry_policy(),
            sleep=self.state.sleep,
            poll_timeout=cfg("--poll-timeout"),
            poll_interval=1.0,
        )
        self._within_budget("lifecycle", None, "lifecycle")
        life = Lifecycle(self.client, self.target.base_url, self.target.name, self.model if per_model else None, settings)
        problem = None
        try:
            try:
                yield life
            finally:
                life.close()  # delete what was created, even when a step or the suite itself failed
        except CannotOverwriteExistingCassetteException:
            problem = "miss"
        except RuntimeError as exc:
            if "Network is disabled" not in str(exc):
                raise
            problem = str(exc)
        # outside the except block: a chained exception would print VCR's unfiltered request
        if problem == "miss":
            self._cassette_miss("lifecycle", None)
        if problem:
            self._network_blocked("lifecycle", None, problem)
        for cell in life.cells:
            self._locate(cell)
        self._finish_many(life.cells)

    def check_sdk_example(self) -> Cell:
        """The page's Python example through the official openai SDK (recorded and replayed like any cell)."""
        __tracebackhide__ = True  # verdicts are the message; plugin frames are noise (and slow to render)
        if self.subject.error:
            self._finish(self._untested(CHAT_ROUTE, sdk.PARAMETER, self.subject.error), fail=True)
        timeout = self.state.config.getoption("--request-timeout")
        result = self._replayable(CHAT_ROUTE, sdk.PARAMETER, lambda: sdk.run_documented_example(self.target.base_url, self.target.key, self.model, timeout))
        url = self.target.url("/chat/completions")
        cell = Cell(
            target=self.target.name,
            model=self.model,
            route=CHAT_ROUTE,
            parameter=sdk.PARAMETER,
            verdict=result["verdict"],
            reason=result["reason"],
            status=result["status"],
            warnings=result["warnings"],
            request={"method": "POST", "url": url, "body": result["request"]},
            exchanges=1,
        )
        self._locate(cell)
        return self._finish(cell)

    def _replayable(self, route: str, parameter: str | None, call):
        """Run `call`; a cassette miss or a blocked socket becomes a clean failure naming the fix."""
        __tracebackhide__ = True  # verdicts are the message; plugin frames are noise (and slow to render)
        try:
            return call()
        except CannotOverwriteExistingCassetteException:
            problem = None
        except RuntimeError as exc:
            if "Network is disabled" not in str(exc):
                raise
            problem = str(exc)
        # Outside the except block on purpose: a chained exception would print VCR's unfiltered request.
        if problem is None:
            self._cassette_miss(route, parameter)
        self._network_blocked(route, parameter, problem)

    def _within_budget(self, route: str, parameter: str | None, kind: str) -> None:
        __tracebackhide__ = True
        spent = self.state.over_budget()
        if spent:
            self._finish(self._untested(route, parameter, spent, kind=kind))

    def _untested(self, route: str, parameter: str | None, reason: str, kind: str = "route") -> Cell:
        return Cell(target=self.target.name, model=self.model, route=route, parameter=parameter, verdict=Verdict.UNTESTED.value, reason=reason, kind=kind)

    def _cassette_miss(self, route: str, parameter: str | None) -> None:
        __tracebackhide__ = True  # verdicts are the message; plugin frames are noise (and slow to render)
        # VCR's own message prints the unfiltered request: never show it, name what to do instead.
        cassette = self.request.getfixturevalue("vcr")
        where = _shown(cassette._path) if cassette is not None else "?"
        message = (
            f"{self.request.node.nodeid}: no recorded answer for {route} (model {self.model}) in {where}.\n"
            f"The request differs from the recording (the suite, overlay, seed or library versions changed) "
            f"or the cassette is missing.\n{rerecord_hint(self.target, self.request.node.nodeid)}"
        )
        self._finish(self._untested(route, parameter, f"no recorded answer in {where}"), fail=True, message=message)

    def _network_blocked(self, route: str, parameter: str | None, problem: str) -> None:
        __tracebackhide__ = True  # verdicts are the message; plugin frames are noise (and slow to render)
        message = (
            f"{self.request.node.nodeid}: replay tried to open a socket ({problem}); replay answers only from "
            f"cassettes. To talk to a live target pass --record-mode=once|rewrite or --disable-recording."
        )
        self._finish(self._untested(route, parameter, "replay tried to open a socket"), fail=True, message=message)

    def _locate(self, cell: Cell) -> None:
        cell.test = self.request.node.nodeid
        cassette = self.request.getfixturevalue("vcr") if not self.state.config.getoption("--disable-recording") else None
        if cassette is None or cell.request is None:
            return
        cell.cassette = str(_shown(cassette._path))
        for index, recorded in enumerate(cassette.requests):
            if recorded.method == cell.request["method"] and recorded.uri == cell.request["url"] and cassettes.canonical_body(recorded.body) == cell.request["body"]:
                cell.interaction = index
                break

    def _finish(self, cell: Cell, fail: bool | None = None, message: str | None = None) -> Cell:
        """Record the cell, then turn its verdict into a pytest outcome (expectations first)."""
        __tracebackhide__ = True
        self.state.cells.append(cell)
        outcome, text = ("fail", self._describe(cell, message)) if fail else self._judge(cell)
        _raise(outcome, text)
        return cell

    def _finish_many(self, cells: list[Cell]) -> list[Cell]:
        """Several cells from one test (a lifecycle): every cell is recorded, the worst outcome is raised."""
        __tracebackhide__ = True
        self.state.cells.extend(cells)
        judged = [self._judge(cell) for cell in cells]
        for outcome in ("fail", "xfail", "skip"):
            texts = [text for o, text in judged if o == outcome]
            if texts and (outcome != "skip" or len(texts) == len(judged)):
                _raise(outcome, "\n".join(texts))
        return cells

    def _describe(self, cell: Cell, message: str | None = None) -> str:
        text = self.state.scrub(message or f"{cell.route} [{cell.parameter or 'route'}] on {self.target.name}/{cell.model or '(target)'}: {cell.verdict}: {cell.reason}")
        if cell.request and not message:
            text += f"\nrequest: {self.state.scrub(str(cell.request['body']))[:500]}"
        if cell.cassette:
            text += f"\nevidence: {cell.cassette}" + (f" #{cell.interaction}" if cell.interaction is not None else "")
        return text

    def _judge(self, cell: Cell) -> tuple[str, str]:
        """pass | skip | xfail | fail, and the message: expectations decide first, then the verdict."""
        verdict = Verdict(cell.verdict)
        text = self._describe(cell)
        expected = self.state.expectations.expected(cell.target, cell.model, cell.route, cell.parameter)
        if expected is not None and expected != verdict.value:
            label = cell_label(cell.model, cell.route, cell.parameter)
            return "fail", (
                f"expectation drift for {cell.target}: {label}\n  - expected: {expected}\n  + observed: {verdict.value}\n{text}\n"
                f"(if the change is right, update suites/expectations/{cell.target}.yaml)"
            )
        if verdict in (Verdict.BROKEN, Verdict.NONCONFORMING, Verdict.IGNORED, Verdict.ACCEPTED):
            if expected == verdict.value:
                return "xfail", f"known deviation (suites/expectations/{cell.target}.yaml): {text}"
            if verdict is not Verdict.IGNORED:
                return "fail", ("SECURITY FINDING: " if cell.security else "") + text
        if verdict in (Verdict.UNSUPPORTED, Verdict.UNTESTED, Verdict.IGNORED):
            return "skip", text
        return "pass", text


def _raise(outcome: str, text: str) -> None:
    __tracebackhide__ = True
    if outcome == "fail":
        pytest.fail(text, pytrace=False)
    if outcome == "xfail":
        raise pytest.xfail.Exception(text, pytrace=False)  # pytest.xfail() builds a traceback repr per xfail, then discards it
    if outcome == "skip":
        pytest.skip(text)


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
        subject = item.callspec.params.get("conformance")
        state = item.config.stash[STATE]
        where = Path(state.target_dir(subject.target.name)) / Path(item.fspath).stem
        report.longrepr = state.scrub(
            f"{item.nodeid}: a cassette under {_shown(where)} cannot be read "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}).\n"
            f"It is corrupted, truncated, hand-edited or from another format. Restore it from git "
            f"(git checkout -- {_shown(where)}) or {rerecord_hint(subject.target, item.nodeid)}"
        )


@pytest.fixture
def conformance(request) -> Runner:
    state = request.config.stash[STATE]
    return Runner(request, state, request.param)


def pytest_testnodedown(node, error):
    """pytest-xdist controller: collect the cells a worker recorded (workers write no reports)."""
    state = node.config.stash.get(STATE, None)
    cells = getattr(node, "workeroutput", {}).get("anyint_cells", [])
    if state is not None:
        state.cells += [Cell(**c) for c in cells]


def pytest_sessionfinish(session, exitstatus):
    if session.config.getoption("--anyint-plan"):
        session.exitstatus = pytest.ExitCode.OK  # a plan is a successful run that sent nothing
        return
    state: State | None = session.config.stash.get(STATE, None)
    if state is not None and hasattr(session.config, "workerinput"):
        session.config.workeroutput["anyint_cells"] = [c.to_dict() for c in state.cells]
        return
    if state is None or not state.cells:
        return
    touched = sorted({c.target for c in state.cells})
    infos = {}
    for target in state.targets:
        if target.name not in touched:
            continue
        if state.recording:
            cassettes.write_manifest(state.target_dir(target.name), target.name, target.base_url, target.describes, __version__)
        info = {"base_url": target.base_url, "describes": target.describes}
        if state.recording or not state.live:
            try:
                manifest = cassettes.read_manifest(state.target_dir(target.name))
                info.update({k: manifest[k] for k in ("describes", "recorded_at", "recorded_with") if k in manifest})
            except ValueError:
                pass
        infos[target.name] = info
    matrix = build_matrix([c.to_dict() for c in state.cells], infos, __version__, state.mode)
    paths = write_reports(matrix, Path(session.config.getoption("--report-dir")), state.secrets)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(f"anyint-conformance: {len(state.cells)} cells -> " + ", ".join(str(p) for p in paths))


def pytest_collection_finish(session):
    """--anyint-plan: the requests a live run would send, before a cent is spent (upper bounds)."""
    # Everything imported and collected so far lives for the whole run: keep it out of the cyclic GC's
    # full collections (Hypothesis and Schemathesis allocate heavily; each full pass walked all of it).
    gc.freeze()
    config = session.config
    if not config.getoption("--anyint-plan"):
        return
    examples = config.getoption("--examples")
    polls = int(config.getoption("--poll-timeout")) + 1  # one poll a second
    rows: dict[tuple[str, str], list[int]] = {}
    for item in session.items:
        subject = getattr(item, "callspec", None) and item.callspec.params.get("conformance")
        if subject is None:
            continue
        # a route cell: 1 probe + N examples behind a supported probe; parameter/negative/auth/SDK cells: 1
        generating = item.get_closest_marker("generates") is not None
        low, high = 1, 1 + (examples if generating else 0)
        declared = item.get_closest_marker("requests")  # lifecycles declare their bounds
        if declared:
            low, high = declared.args[0], declared.args[1] + (polls if declared.kwargs.get("polls") else 0)
        key = (subject.target.name, subject.model or "(target)")
        cells, lo, hi = rows.get(key, [0, 0, 0])
        rows[key] = [cells + 1, lo + low, hi + high]
    tw = config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{'target':10} {'model':28} {'tests':>6} {'requests (min-max)':>20}"]
    total = [0, 0, 0]
    for (target, model), (cells, lo, hi) in sorted(rows.items()):
        lines.append(f"{target:10} {model:28} {cells:>6} {f'{lo}-{hi}':>20}")
        total = [total[0] + cells, total[1] + lo, total[2] + hi]
    lines.append(f"{'total':39} {total[0]:>6} {f'{total[1]}-{total[2]}':>20}")
    lines.append(f"max_tokens <= {config.getoption('--token-cap')} in every body; min = every probe refused, max = every probe supported "
                 f"({examples} examples per route cell, polls up to --poll-timeout); negative cells add one route probe per route and model")
    for line in lines:
        (tw.write_line if tw else print)(line)
    session.items.clear()  # nothing is sent


def pytest_unconfigure(config):
    state = config.stash.get(STATE, None)
    if state:
        for client in state._clients.values():
            client.close()
