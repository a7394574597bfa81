"""The pytest face: options, target x model parametrization, and the hooks that hand tests to the engine.

Everything that decides lives below, in run/: config.py (the option table, read once), engine.py (the
run's parts and its loop), runner.py (what a suite calls), outcomes.py (verdict -> outcome), plan.py
(--anyint-plan), reporting.py (the matrix on disk). A suite's test function takes
`conformance` and its own parameters; the plugin calls it through the engine (pytest_pyfunc_call).
"""

from __future__ import annotations

import gc
import re
from pathlib import Path

import pytest

from anyint_conformance.run import outcomes
from anyint_conformance.run.config import OPTIONS, RunConfig
from anyint_conformance.run.engine import Engine, Item, RunError
from anyint_conformance.run.shards import select
from anyint_conformance.model.paths import SUITES_DIR
from anyint_conformance.run.targets import TargetError
from anyint_conformance.model.verdicts import Cell

ENGINE = pytest.StashKey[Engine]()
UNUSABLE = pytest.StashKey[str]()  # why no engine could be made for a run that did not name the suites


def pytest_addoption(parser):
    """The options of run/config.py's table that this plugin declares (pytest-recording declares its own)."""
    group = parser.getgroup("anyint-conformance")
    for option in OPTIONS:
        if option.owner is None:
            kwargs = {"action": "store_true"} if option.kind is bool else {"action": "append"} if option.repeatable else {"type": option.kind if option.kind in (int, float) else None}
            group.addoption(option.flag, help=option.described, default=None if not option.kind is bool else False, **kwargs)


def pytest_configure(config):
    # VCR.py's absent optional imports would be retried by pytest-recording at every use: make them fail at once
    import importlib.util
    import sys

    for name in ("botocore", "boto3", "httplib2", "tornado", "aiohttp", "httpx_curl_cffi", "pyreqwest"):
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            sys.modules[name] = None
    try:
        cfg = RunConfig.from_options(config.getoption)
        if cfg.concurrency > 1 and config.getoption("numprocesses", None):
            raise TargetError("--concurrency and -n do not mix: choose threads in one process (--concurrency) or xdist workers (-n)")
        config.stash[ENGINE] = Engine(cfg)
    except TargetError as exc:
        if not _suite_args(config):  # a run of the project's own tests only: the suites' targets do not concern it
            config.stash[UNUSABLE] = str(exc)
            return
        raise pytest.UsageError(str(exc)) from None


def _suite_args(config) -> list[bool]:
    """For each command-line path that reaches suites/: is it narrower than all of suites/?"""
    out = []
    for arg in config.args:
        path = Path(str(arg).split("::")[0]).resolve()
        if path.is_relative_to(SUITES_DIR) or SUITES_DIR.is_relative_to(path):
            out.append("::" in str(arg) or (path != SUITES_DIR and path.is_relative_to(SUITES_DIR)))
    return out


def _prepare(engine: Engine) -> None:
    try:
        engine.prepare()
    except RunError as exc:
        raise pytest.UsageError(engine.ctx.scrub(str(exc))) from None


def pytest_sessionstart(session):
    """Run-level problems stop the run here, once, before any test (and before xdist starts workers)."""
    engine = session.config.stash.get(ENGINE, None)
    narrower = _suite_args(session.config)
    if engine is None or not narrower:
        return
    session.config.anyint_selected = any(narrower) or bool(engine.cfg.models)
    _prepare(engine)


def pytest_deselected(items):
    if items:
        items[0].config.anyint_selected = True


def pytest_generate_tests(metafunc):
    if "conformance" in metafunc.fixturenames:
        if UNUSABLE in metafunc.config.stash:  # the suites were reached after all (e.g. a file of suites/ named oddly)
            raise pytest.UsageError(metafunc.config.stash[UNUSABLE])
        engine = metafunc.config.stash[ENGINE]
        if not engine.discovered:  # collected by a path pytest_sessionstart did not recognise as suites/
            _prepare(engine)
        per_target = metafunc.definition.get_closest_marker("per_target") is not None
        subjects = engine.subjects(per_target=per_target)
        metafunc.parametrize("conformance", subjects, indirect=True, ids=[s.target.name if per_target else s.id for s in subjects])


@pytest.fixture
def conformance(request):
    return request.param  # the Subject; the test function is called by pytest_pyfunc_call with a Runner


def item_of(node, engine: Engine) -> Item:
    """A pytest item as the engine sees it. One cassette per test x model x variant, named by the test id
    without the target (the folder names it): cassettes/<target>/<suite file>/<test[id]>.yaml."""
    subject = node.callspec.params["conformance"]
    ident = node.callspec.id
    for prefix in (f"{subject.target.name}:", f"{subject.target.name}-", subject.target.name):
        if ident.startswith(prefix):
            ident = ident[len(prefix):]
            break
    name = re.sub(r"[^A-Za-z0-9._\[\]-]+", "_", f"{node.originalname}[{ident}]" if ident else node.originalname)
    marker = node.get_closest_marker("route")
    params = {k: v for k, v in node.callspec.params.items() if k != "conformance"}
    return Item(node.nodeid, node.function, params, subject, marker.args[0] if marker else None,
                engine.ctx.target_dir(subject.target.name) / Path(node.fspath).stem / f"{name}.yaml", node.get_closest_marker("per_target") is not None)


@pytest.hookimpl(trylast=True)  # after -k, -m and every other deselection: a shard splits what is selected
def pytest_collection_modifyitems(config, items):
    engine = config.stash.get(ENGINE, None)
    if engine is None:
        return
    if engine.ctx.shard is not None:
        suite = [i for i in items if "conformance" in getattr(i, "fixturenames", ())]
        kept, engine.shard_groups = select(engine, [item_of(i, engine) for i in suite], engine.ctx.shard)
        ids = {k.nodeid for k in kept}
        dropped = {i.nodeid for i in suite} - ids
        if dropped:
            config.hook.pytest_deselected(items=[i for i in items if i.nodeid in dropped])
            items[:] = [i for i in items if i.nodeid not in dropped]
    for item in items:
        if "conformance" in getattr(item, "fixturenames", ()) and not engine.ctx.live:
            # replay never opens a socket, loopback included; a client cell talks to our replay server only
            loopback = item.get_closest_marker("loopback") is not None
            item.add_marker(pytest.mark.block_network(allowed_hosts=["127.0.0.1"]) if loopback else pytest.mark.block_network)


def pytest_collection_finish(session):
    # Everything imported and collected so far lives for the whole run: keep it out of the cyclic GC's
    # full collections (Hypothesis and Schemathesis allocate heavily; each full pass walked all of it).
    if not gc.get_freeze_count():  # once per process (a run inside another one, e.g. in the project's tests, is already frozen)
        gc.freeze()
    engine = session.config.stash.get(ENGINE, None)
    if engine is None:
        return
    items = [i for i in session.items if "conformance" in getattr(i, "fixturenames", ())]
    if engine.cfg.plan:
        from anyint_conformance.run.plan import plan_lines

        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for line in plan_lines(engine, [item_of(i, engine) for i in items]):
            (reporter.write_line if reporter else print)(line)  # without the terminal plugin (the plan command): plain lines
        session.items.clear()  # nothing is sent
    elif engine.cfg.concurrency > 1 and items and not session.config.option.collectonly:  # --collect-only runs nothing, threads included
        engine.prerun([item_of(i, engine) for i in items])


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if "conformance" not in pyfuncitem.fixturenames:
        return None
    __tracebackhide__ = True
    engine = pyfuncitem.config.stash[ENGINE]
    try:
        result = engine.result(item_of(pyfuncitem, engine))
    except BaseException:  # a crash or an interrupt inside a test: its cells are lost, the run is not complete
        engine.stopped_by(f"{pyfuncitem.nodeid} did not finish")
        raise
    engine.cells.extend(result.cells)  # the main thread only: threads hand their cells back in the Outcome
    outcome, text = outcomes.for_test(result.cells, engine.ctx.expectations.of, result.failure)
    _raise(outcome, engine.ctx.scrub(text))
    return True


def _raise(outcome: str, text: str) -> None:
    __tracebackhide__ = True
    if outcome == outcomes.FAIL:
        failure = pytest.fail.Exception(text, pytrace=False)
        failure.__suppress_context__ = True  # never show an underlying library's message (it may hold the unfiltered request)
        raise failure
    if outcome == outcomes.XFAIL:
        raise pytest.xfail.Exception(text, pytrace=False)  # pytest.xfail() builds a traceback repr per xfail, then discards it
    if outcome == outcomes.SKIP:
        pytest.skip(text)
    # PASS and WARN pass: the summary line counts the lenient cells (--strict-upstream fails them)


def pytest_testnodedown(node, error):
    """pytest-xdist controller: collect the cells a worker recorded (workers write no reports)."""
    engine = node.config.stash.get(ENGINE, None)
    output = getattr(node, "workeroutput", {})
    if engine is not None and error is not None:
        engine.stopped_by(f"xdist worker {getattr(node, 'gateway', None) and node.gateway.id} was lost")
    if engine is not None:
        for why in output.get("anyint_incomplete", []):
            engine.stopped_by(why)
        engine.cells += [Cell.from_dict(c) for c in output.get("anyint_cells", [])]
        node.config.anyint_selected = getattr(node.config, "anyint_selected", False) or output.get("anyint_selected", False)
        for target, paths in output.get("anyint_recorded", {}).items():
            engine.cassettes.recorded.setdefault(target, set()).update(paths)
        engine.meter.requests += output.get("anyint_requests", 0)
        engine.shard_groups = engine.shard_groups or [tuple(g) for g in output.get("anyint_shard_groups", [])]  # every worker dealt the same


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    engine: Engine | None = config.stash.get(ENGINE, None)
    if engine is not None:
        engine.stop()
    if config.getoption("--anyint-plan"):
        session.exitstatus = pytest.ExitCode.OK  # a plan is a successful run that sent nothing
        return
    if engine is not None and hasattr(config, "workerinput"):
        config.workeroutput["anyint_cells"] = [c.to_dict() for c in engine.cells]
        config.workeroutput["anyint_selected"] = getattr(config, "anyint_selected", False)
        config.workeroutput["anyint_recorded"] = {t: sorted(p) for t, p in engine.cassettes.recorded.items()}
        config.workeroutput["anyint_requests"] = engine.meter.requests
        config.workeroutput["anyint_shard_groups"] = engine.shard_groups
        config.workeroutput["anyint_incomplete"] = [*engine.incomplete, *_pytest_stops(session, exitstatus)]
        return
    if engine is None or (not engine.cells and engine.ctx.shard is None):  # a shard writes its file even when empty: merge needs every one
        return
    from anyint_conformance.run.reporting import write_run

    for why in _pytest_stops(session, exitstatus):
        engine.stopped_by(why)
    lines = write_run(engine.ctx, engine.cassettes, engine.discovered, engine.cells, engine.meter.requests, engine.incomplete,
                      selected=getattr(config, "anyint_selected", False), groups=engine.shard_groups)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        if reporter._tw.width_of_current_line:  # after pytest's progress characters: start a line of our own
            reporter.write("\n")
        for line in lines:
            reporter.write_line(line)
        _one_line_failures(config, reporter)


MANY_FAILURES = 200


def _one_line_failures(config, reporter) -> None:
    """A run of many models fails hundreds of cells: pytest would print a block for each, finding each
    block's teardown sections by scanning every report (quadratic in the tests: a minute at 90 models, see
    pytest-dev/pytest#13360). Past MANY_FAILURES, unless --tb was chosen, one line each: the reports carry
    every cell's evidence."""
    failed = len(reporter.stats.get("failed", []))
    if failed > MANY_FAILURES and config.option.tbstyle == "auto":
        config.option.tbstyle = "line"
        reporter.write_line(f"anyint-conformance: {failed} failed tests, one line each below (--tb=short prints every block); "
                            "each cell's evidence is in the reports")


def _pytest_stops(session, exitstatus) -> list[str]:
    """Why pytest did not run every selected test to its end: an interrupt, -x / --maxfail, a crash."""
    out = []
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        out.append("the run was interrupted")
    elif exitstatus == pytest.ExitCode.INTERNAL_ERROR:
        out.append("pytest crashed")
    if session.shouldfail:
        out.append(f"pytest stopped early ({session.shouldfail})")
    elif session.shouldstop:
        out.append(f"pytest stopped early ({session.shouldstop})")
    return out


def pytest_unconfigure(config):
    engine = config.stash.get(ENGINE, None)
    if engine is not None:
        engine.close()

