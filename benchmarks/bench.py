#!/usr/bin/env python
"""Benchmarks for anyint-conformance, run on demand (`make bench`); a report, not a timed test.

One run measures, side by side so that machine noise hits every figure alike:

  1. replay    the committed cassettes replayed through the suite (subprocess, as `make matrix` does)
               against the floor of bare VCR.py loading and matching the same cassettes (no suite code),
               with the fixed start-up cost separated from the per-interaction cost, and where the
               suite's time goes (stack sampling: an exclusive breakdown; cProfile: entry points);
  2. validate  compiled-validator throughput on the recorded response bodies and SSE events;
  3. cost      requests per cell as planned (--anyint-plan) and as sent live to the local LiteLLM
               proxy, max_tokens in every recorded request body, recorded tokens per cell;
  4. scaling   the chat suite live against a 40-model latency-bound LiteLLM catalogue
               (benchmarks/litellm-scale.yaml) at 1, 2 and 4 xdist workers; matrices must be equal;
               --rps must hold.

Every subprocess has a timeout; a server this script starts is stopped by its PID in `finally`.
The exit status is 0 even when a target is missed: the final table says which.

  .venv/bin/python benchmarks/bench.py [--rounds N] [--quick] [--skip-live] [--skip-scale]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
CASSETTES = ROOT / "cassettes"
PY = sys.executable
SKIP_FILES = ("models.yaml", "target.yaml")  # discovery and manifest, not interactions of a test

LITELLM_URL = "http://127.0.0.1:14000/v1"  # targets/local.sh's proxy (keys: targets/local.sh env)
LITELLM_VENV = ROOT / ".targets" / "litellm"
LLAMACPP_PORT = ":18080"  # models proxied to the llama.cpp server are never sent load from here
SCALE_CONFIG = BENCH / "litellm-scale.yaml"
SCALE_HOST, SCALE_PORT = "127.0.0.1", 14100
SCALE_RPS = 2.0

TIMEOUT_REPLAY = 600
TIMEOUT_LIVE = 900
TIMEOUT_SERVER = 180


# ------------------------------------------------------------------------------------------ helpers


@dataclass
class Row:
    figure: str
    measured: str
    target: str
    met: bool | None  # None: informational, no target


ROWS: list[Row] = []


def row(figure: str, measured: str, target: str = "-", met: bool | None = None) -> None:
    ROWS.append(Row(figure, measured, target, met))


def say(text: str = "") -> None:
    print(text, flush=True)


def section(title: str) -> None:
    say()
    say(f"== {title} " + "=" * max(0, 96 - len(title)))


@dataclass
class Run:
    cmd: list[str]
    rc: int | None
    wall: float
    out: str
    err: str
    timed_out: bool = False
    cpu: float = 0.0  # user + system CPU seconds of the subprocess tree

    @property
    def session_seconds(self) -> float | None:
        """pytest's own 'in 9.98s' (session start to end: no interpreter or plugin-import start-up)."""
        found = re.findall(r" in (\d+(?:\.\d+)?)s", self.out)
        return float(found[-1]) if found else None

    @property
    def summary(self) -> str:
        lines = [ln.strip(" =") for ln in self.out.splitlines() if re.search(r"\d+ (passed|failed|skipped|xfailed|error)", ln)]
        return lines[-1] if lines else (f"timed out after {self.wall:.0f} s" if self.timed_out else f"rc={self.rc}, no summary")


def run(cmd: list[str], timeout: float, env: dict | None = None, cwd: Path = ROOT) -> Run:
    """A bounded subprocess in its own session: on timeout its whole group (e.g. xdist workers) is killed."""
    start = time.perf_counter()
    cpu_before = _children_cpu()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this call created, nothing else
        out, err = proc.communicate()
        timed_out = True
    return Run(cmd, proc.returncode, time.perf_counter() - start, out, err, timed_out, _children_cpu() - cpu_before)


def _children_cpu() -> float:
    """User + system CPU of every reaped child (and the children they reaped, e.g. xdist workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def suite_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    # As the Makefile does: with PYTHONDONTWRITEBYTECODE=1 pytest re-parses its rewritten modules every run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BENCH), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


PYTEST = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider"]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt_s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.2f} s"


def table(headers: list[str], rows: list[list], indent: str = "  ") -> None:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    say(indent + "  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    say(indent + "  ".join("-" * w for w in widths))
    for r in cells:
        say(indent + "  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(r, widths)))


def _numeric(text: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[\d.,]+\s*(s|ms|x|×|%|/s)?", text.strip()))


# ---------------------------------------------------------------------------- the cassette set


@dataclass
class Interaction:
    cassette: Path
    index: int
    method: str
    uri: str
    headers: dict
    body: object  # str | bytes | None, as recorded
    status: int
    response_headers: dict
    response_body: object


def cassette_paths() -> list[Path]:
    return sorted(p for p in CASSETTES.rglob("*.yaml") if p.name not in SKIP_FILES)


def load_cassettes() -> dict[Path, list[Interaction]]:
    import yaml

    out = {}
    for path in cassette_paths():
        data = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        items = []
        for i, it in enumerate(data.get("interactions") or []):
            req, resp = it["request"], it["response"]
            items.append(
                Interaction(path, i, req["method"], req["uri"], req.get("headers") or {}, req.get("body"),
                            resp["status"]["code"], resp.get("headers") or {}, (resp.get("body") or {}).get("string"))
            )
        out[path] = items
    return out


def header(headers: dict, name: str) -> str:
    for key, values in headers.items():
        if key.lower() == name:
            return (values[0] if isinstance(values, list) else str(values)) or ""
    return ""


def as_text(body) -> str:
    if body is None:
        return ""
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)


def json_or_none(body):
    try:
        return json.loads(as_text(body)) if body not in (None, "", b"") else None
    except ValueError:
        return None


def sse_events(body) -> list[dict]:
    events = []
    for block in as_text(body).split("\n\n"):
        data = "\n".join(ln[5:].lstrip() for ln in block.splitlines() if ln.startswith("data:"))
        if data and data.strip() != "[DONE]":
            try:
                events.append(json.loads(data))
            except ValueError:
                pass
    return events


def shown(path: Path | str) -> str:
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_absolute() and path.is_relative_to(ROOT) else str(path)


# ------------------------------------------------------------------------------- 1. replay


def measure_startup() -> dict:
    """The fixed cost every suite run pays before its first test, in three nested layers."""
    bare = run([PY, "-c", "pass"], 60)
    imports = run([PY, "-c", "import anyint_conformance.plugin"], 120, env=suite_env())
    collect = run(PYTEST + ["suites", "--collect-only"], TIMEOUT_REPLAY, env=suite_env())
    floor_imports = run([PY, "-c", "import httpx, vcr, yaml, anyint_conformance.cassettes"], 120, env=suite_env())
    return {"interpreter": bare.wall, "imports": imports.wall, "collect": collect.wall, "collect_cpu": collect.cpu, "floor_imports": floor_imports.wall}


def measure_suite_replay(tmp: Path, round_no: int) -> dict:
    report_dir = tmp / f"replay-{round_no}"
    counts = tmp / f"counts-{round_no}.json"
    result = run(PYTEST + ["suites", "--report-dir", str(report_dir), "-p", "_playcount"], TIMEOUT_REPLAY,
                 env=suite_env({"ANYINT_BENCH_COUNTS": str(counts)}))
    played = json.loads(counts.read_text()) if counts.exists() else {}
    return {"wall": result.wall, "cpu": result.cpu, "session": result.session_seconds, "summary": result.summary, "rc": result.rc,
            "played": played, "matrix": report_dir / "support-matrix.json"}


def measure_floor(tmp: Path, round_no: int) -> dict:
    out = tmp / f"floor-{round_no}.json"
    result = run([PY, str(Path(__file__).resolve()), "--_floor", str(out)], TIMEOUT_REPLAY, env=suite_env())
    if not out.exists():
        raise RuntimeError(f"floor run failed (rc {result.rc}): {result.err[-2000:]}")
    data = json.loads(out.read_text())
    data["wall"] = result.wall
    return data


def _floor_main(out: str) -> None:
    """Bare VCR.py: load each cassette and replay every recorded request through httpx; no suite code
    but the json_body matcher (registered as the suite registers it). Timed: the loop only."""
    sys.path.insert(0, str(ROOT))
    import httpx
    import vcr
    from vcr.errors import CannotOverwriteExistingCassetteException

    from anyint_conformance import cassettes

    recorded = {p: items for p, items in load_cassettes().items()}  # what to send: harness, not timed
    client = httpx.Client()
    variants = {
        # the brief's floor: only what VCR needs to match the suite's requests
        "bare": {"match_on": cassettes.MATCH_ON, "allow_playback_repeats": True},
        # the same plus the suite's own VCR config (filter_headers, before_record_* hooks, decoding)
        "suite_config": cassettes.vcr_config([]),
    }
    result = {"lookup": _lookup_floor(recorded)}
    for name, config in variants.items():
        recorder = vcr.VCR()
        cassettes.register(recorder)
        played = missed = 0
        start, cpu = time.perf_counter(), time.process_time()
        for path, items in recorded.items():
            with recorder.use_cassette(str(path), record_mode="none", **config):
                for it in items:
                    headers = [(k, v) for k, vs in it.headers.items() for v in (vs if isinstance(vs, list) else [vs])]
                    body = it.body.encode() if isinstance(it.body, str) else it.body
                    try:
                        client.request(it.method, it.uri, headers=headers, content=body or None).read()
                        played += 1
                    except CannotOverwriteExistingCassetteException:
                        missed += 1
        result[name] = {"loop": time.perf_counter() - start, "cpu": time.process_time() - cpu, "played": played, "missed": missed}
    Path(out).write_text(json.dumps(result))


def _canonical(method: str, uri: str, body, content_type: str) -> tuple:
    """A hashable request key, compared the way the suite's replay matcher compares bodies."""
    from anyint_conformance.cassettes import canonical_body

    raw = body.encode() if isinstance(body, str) else body  # YAML holds str, httpx sends bytes (VCR.py normalises the same way)
    value = canonical_body(raw, content_type or "")
    return method, uri, value if isinstance(value, (bytes, str, type(None))) else json.dumps(value, sort_keys=True)


def _lookup_floor(recorded: dict) -> dict:
    """What replay would cost without VCR.py: each cassette parsed once (libyaml), requests answered
    from a dict keyed by the canonical request (method, URI, JSON-canonical or boundary-free body)
    through httpx.MockTransport. Timed like the VCR floors: the loop only."""
    import httpx
    import yaml

    answers: dict = {}

    def handler(request: httpx.Request) -> httpx.Response:
        key = _canonical(request.method, str(request.url), request.content, request.headers.get("content-type", ""))
        status, headers, body = answers[key]
        return httpx.Response(status, headers=headers, content=body)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    played = missed = 0
    start, cpu = time.perf_counter(), time.process_time()
    for path, items in recorded.items():
        answers.clear()
        data = yaml.load(Path(path).read_text(), Loader=yaml.CSafeLoader)
        for it in data["interactions"]:
            req, resp = it["request"], it["response"]
            ctype = next((v[0] for k, v in (req.get("headers") or {}).items() if k.lower() == "content-type"), "")
            body = resp["body"]["string"]
            answers.setdefault(_canonical(req["method"], req["uri"], req.get("body"), ctype),
                               (resp["status"]["code"], [(k, v) for k, vs in (resp.get("headers") or {}).items() for v in vs],
                                body.encode() if isinstance(body, str) else body))
        for it in items:
            headers = [(k, v) for k, vs in it.headers.items() for v in (vs if isinstance(vs, list) else [vs])]
            body = it.body.encode() if isinstance(it.body, str) else it.body
            try:
                client.request(it.method, it.uri, headers=headers, content=body or None).read()
                played += 1
            except KeyError:
                missed += 1
    return {"loop": time.perf_counter() - start, "cpu": time.process_time() - cpu, "played": played, "missed": missed}


def measure_replay(tmp: Path, cass: dict, rounds: int) -> dict:
    section("1. Replay throughput: the suite vs bare VCR.py on the same cassettes")
    n_cassettes = len(cass)
    n = sum(len(v) for v in cass.values())
    say(f"  cassette set: {n} recorded interactions in {n_cassettes} cassettes "
        f"(cassettes/**/*.yaml without models.yaml/target.yaml; {n / max(n_cassettes, 1):.2f} per cassette)")
    startups, suites, floors = [], [], []
    for r in range(rounds):  # interleaved, so that drift in machine load hits all of them alike
        startups.append(measure_startup())
        suites.append(measure_suite_replay(tmp, r))
        floors.append(measure_floor(tmp, r))
        say(f"  round {r + 1}/{rounds}: suite {suites[-1]['wall']:.2f} s ({suites[-1]['summary']}), "
            f"bare floor loop {floors[-1]['bare']['loop']:.2f} s, collect-only {startups[-1]['collect']:.2f} s")

    def med(items, *keys):
        values = []
        for item in items:
            for k in keys:
                item = item[k]
            values.append(item)
        return median([v for v in values if v is not None])

    wall = {
        "interp": med(startups, "interpreter"), "imports": med(startups, "imports"), "collect": med(startups, "collect"),
        "suite": med(suites, "wall"), "session": med(suites, "session"), "floor_imports": med(startups, "floor_imports"),
        "bare": med(floors, "bare", "loop"), "config": med(floors, "suite_config", "loop"), "lookup": med(floors, "lookup", "loop"),
    }
    cpu = {"collect": med(startups, "collect_cpu"), "suite": med(suites, "cpu"), "bare": med(floors, "bare", "cpu"),
           "config": med(floors, "suite_config", "cpu"), "lookup": med(floors, "lookup", "cpu")}
    per_test, per_test_cpu = wall["suite"] - wall["collect"], cpu["suite"] - cpu["collect"]
    floor_process = wall["floor_imports"] + wall["bare"]
    played = suites[0]["played"]
    in_tests = {p: v for p, v in played.items() if Path(p).name not in SKIP_FILES}
    n_played = sum(v["played"] for v in in_tests.values())
    n_distinct = sum(v["distinct"] for v in in_tests.values())

    say()
    say("  What each number includes:")
    say("    suite run       `python -m pytest suites -q -p no:cacheprovider --report-dir <tmp>`, whole process: interpreter,")
    say("                    imports, pytest config, model discovery, collection, every test (VCR load/match/play, generation,")
    say("                    validation, judging) and the matrix + Markdown + HTML written.")
    say("    start-up        `pytest suites --collect-only`, whole process (interpreter + imports + config + discovery + collection).")
    say("    suite - start-up  the per-test part of the suite run (what the in-process floors are compared with).")
    say("    floor loops     in-process, no interpreter, no imports; per cassette `vcr.VCR().use_cassette(path, record_mode='none',")
    say("                    match_on=MATCH_ON with json_body registered, allow_playback_repeats=True)`, then every recorded request")
    say("                    sent with httpx (method, URI, headers, body) and its response read. '+ suite VCR config' adds the")
    say("                    suite's filter_headers and before_record_* hooks; 'lookup' is no VCR at all: each cassette parsed once")
    say("                    and answered from a dict keyed by the canonical request via httpx.MockTransport (what a hash-keyed")
    say("                    replay transport would cost).")
    say("    floor process   bare floor loop + `python -c 'import httpx, vcr, yaml, anyint_conformance.cassettes'`.")
    say()

    def line(label, w, c=None, per=True):
        return [label, fmt_s(w), fmt_s(c) if c is not None else "", f"{1000 * w / n:.2f} ms" if per else "", f"{n / w:,.0f}" if per else ""]

    table(["figure (median of rounds)", "wall", "CPU", "wall / interaction", "interactions/s"], [
        line("python -c pass (interpreter)", wall["interp"], per=False),
        line("python -c 'import anyint_conformance.plugin'", wall["imports"], per=False),
        line("start-up: pytest suites --collect-only", wall["collect"], cpu["collect"], per=False),
        line("suite run, whole process", wall["suite"], cpu["suite"]),
        line("suite run, pytest's own 'in X s'", wall["session"]),
        line("suite run minus start-up", per_test, per_test_cpu),
        line("floor loop: bare VCR.py", wall["bare"], cpu["bare"]),
        line("floor loop: VCR.py + suite VCR config", wall["config"], cpu["config"]),
        line("floor loop: lookup, no VCR.py", wall["lookup"], cpu["lookup"]),
        line("floor process (imports + bare loop)", floor_process),
    ])
    say()
    say(f"  ratios  suite minus start-up / bare floor loop = {per_test / wall['bare']:.2f}x wall, {per_test_cpu / cpu['bare']:.2f}x CPU;"
        f"  suite whole / floor process = {wall['suite'] / floor_process:.2f}x")
    say(f"          suite VCR config / bare = {wall['config'] / wall['bare']:.2f}x;  lookup / bare = {wall['lookup'] / wall['bare']:.2f}x;"
        f"  start-up share of the suite run = {wall['collect'] / wall['suite']:.0%}")
    say(f"  played by the suite: {n_played} responses, {n_distinct} distinct recorded interactions ({n - n_distinct} never played; "
        f"{n_cassettes - len(in_tests)} cassettes never opened: stale or for tests not collected); the floors played "
        f"{floors[0]['bare']['played']} (missed {floors[0]['bare']['missed']}), lookup {floors[0]['lookup']['played']} (missed {floors[0]['lookup']['missed']})")
    if any(s["rc"] != 0 for s in suites):
        say(f"  NOTE: the replay did not pass cleanly ({suites[0]['summary']}); the timings still cover every test run.")

    rate_whole, rate_tests = n / wall["suite"], n / per_test
    row("replay: interactions/s, whole suite run", f"{rate_whole:,.0f}/s ({fmt_s(wall['suite'])})", ">= 1,000/s", rate_whole >= 1000)
    row("replay: interactions/s, start-up excluded", f"{rate_tests:,.0f}/s ({fmt_s(per_test)})", ">= 1,000/s", rate_tests >= 1000)
    row("replay: bare VCR.py floor (reference)", f"{n / wall['bare']:,.0f}/s ({fmt_s(wall['bare'])})", "-", None)
    row("replay: suite (start-up excluded) / bare floor", f"{per_test / wall['bare']:.2f}x wall, {per_test_cpu / cpu['bare']:.2f}x CPU", "<= 1.3x", per_test / wall["bare"] <= 1.3)
    row("replay: suite whole / floor process", f"{wall['suite'] / floor_process:.2f}x", "<= 1.3x", wall["suite"] / floor_process <= 1.3)
    row("replay: fixed start-up (collect-only)", f"{fmt_s(wall['collect'])} ({wall['collect'] / wall['suite']:.0%} of the run)", "-", None)
    return {"matrix": suites[0]["matrix"], "interactions": n}


# ---------------------------------------------------------------- 1b. where the suite's time goes

# A sample's stack (innermost first) goes to the first phase, then the first component, that matches.
PHASES = [
    ("session end: matrix/MD/HTML written", lambda s: any(f == "pytest_sessionfinish" and "anyint_conformance" in p for p, f in s)),
    ("fixed: collection + model discovery", lambda s: any(f == "perform_collect" for _, f in s)),
    ("per test", lambda s: any(f == "pytest_runtestloop" for _, f in s)),
    ("fixed: imports + pytest config", lambda s: True),
]


def _has(stack, path_part: str, funcs: tuple[str, ...] = ()) -> bool:
    return any(path_part in p and (not funcs or f in funcs) for p, f in stack)


COMPONENTS = [
    ("VCR: cassette load (YAML parse + load hooks)", lambda s: _has(s, "/vcr/cassette.py", ("_load", "load"))),
    ("VCR: request matching (+ per-request filter hooks)", lambda s: _has(s, "/vcr/cassette.py", ("can_play_response_for", "_responses", "play_response", "__contains__", "filter_request"))),
    ("VCR: cassette enter/exit, patching, stubs", lambda s: _has(s, "/vcr/") or _has(s, "/pytest_recording/")),
    ("Hypothesis/Schemathesis generation", lambda s: _has(s, "/hypothesis/") or _has(s, "/schemathesis/") or _has(s, "anyint_conformance/generate.py", ("draw_bodies",))),
    ("jsonschema validation", lambda s: _has(s, "/jsonschema/") or _has(s, "/referencing/") or _has(s, "/rpds")),
    ("openai SDK (documented example)", lambda s: _has(s, "/openai/")),
    ("httpx/httpx-sse client side", lambda s: _has(s, "/httpx/") or _has(s, "/httpcore/") or _has(s, "/httpx_sse/")),
    ("pytest reporting (failure/xfail reprs, terminal)", lambda s: _has(s, "/_pytest/_code/") or _has(s, "/_pytest/reports.py") or _has(s, "/_pytest/terminal.py")),
    ("our code (plugin, cells, checks, transport)", lambda s: _has(s, "anyint_conformance/") or _has(s, "/suites/")),
    ("pytest runner (fixtures, hooks, outcomes)", lambda s: _has(s, "/_pytest/") or _has(s, "/pluggy/")),
    ("other", lambda s: True),
]


def _classify(stack) -> str:
    phase = next(name for name, match in PHASES if match(stack))
    if phase != "per test":
        return phase
    return "per test: " + next(name for name, match in COMPONENTS if match(stack))


def _sample_main(out: str, args: list[str]) -> None:
    """Run pytest in this process while SIGPROF fires every ~1 ms of CPU time; the handler (in the main
    thread, so walking the stack is safe) charges the time since the previous sample to the current
    stack. Every sample goes to exactly one bucket, so the breakdown adds up to the run."""
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    stacks: collections.Counter = collections.Counter()
    last = [time.perf_counter()]

    def on_sample(_signum, frame):
        now = time.perf_counter()
        stack = []
        while frame is not None:
            stack.append((frame.f_code.co_filename, frame.f_code.co_name))
            frame = frame.f_back
        stacks[tuple(stack)] += now - last[0]
        last[0] = now

    signal.signal(signal.SIGPROF, on_sample)
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_PROF, 0.001, 0.001)
    try:
        import pytest  # inside the sampled region: its import is start-up cost

        code = pytest.main(args)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
    wall = time.perf_counter() - start
    buckets: collections.Counter = collections.Counter()
    selfs: collections.Counter = collections.Counter()
    for stack, seconds in stacks.items():
        bucket = _classify(stack)
        buckets[bucket] += seconds
        if bucket.startswith("per test") and stack:
            path, func = stack[0]
            selfs[f"{'/'.join(Path(path).parts[-2:])}:{func}"] += seconds
    Path(out).write_text(json.dumps({"wall": wall, "code": int(code), "buckets": buckets, "self": selfs.most_common(12)}))


CPROFILE_GROUPS = [
    ("cassette load / YAML", [("vcr/cassette.py", "_load"), ("yaml/__init__.py", "load")]),
    ("VCR enter/exit + patching", [("vcr/cassette.py", "__enter__"), ("vcr/cassette.py", "__exit__"), ("vcr/patch.py", "build")]),
    ("VCR matching", [("vcr/cassette.py", "can_play_response_for"), ("vcr/cassette.py", "play_response"), ("vcr/matchers.py", "requests_match"),
                      ("anyint_conformance/cassettes.py", "json_body_matcher"), ("vcr/config.py", "before_record_request")]),
    ("Hypothesis generation", [("anyint_conformance/generate.py", "draw_bodies"), ("schemathesis/specs/openapi/_hypothesis.py", "openapi_cases"),
                               ("anyint_conformance/schemas.py", "openapi_document")]),
    ("jsonschema validation", [("anyint_conformance/schemas.py", "first_violation"), ("anyint_conformance/schemas.py", "validator")]),
    ("pytest collection / reporting", [("_pytest/main.py", "perform_collect"), ("_pytest/reports.py", "from_item_and_call"), ("_pytest/nodes.py", "_repr_failure_py"),
                                       ("_pytest/fixtures.py", "_fillfixtures")]),
    ("our code", [("anyint_conformance/cells.py", "run_cell"), ("anyint_conformance/checks.py", "assess"), ("anyint_conformance/transport.py", "send"),
                  ("anyint_conformance/sdk.py", "run_documented_example"), ("anyint_conformance/plugin.py", "_locate"),
                  ("anyint_conformance/plugin.py", "pytest_sessionfinish")]),
    ("start-up imports", [("anyint_conformance/plugin.py", "<module>"), ("anyint_conformance/sdk.py", "<module>")]),
]


def _cprofile_main(out: str, args: list[str]) -> None:
    import cProfile
    import pstats

    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    import pytest

    pytest.main(args)
    profile.disable()
    wall = time.perf_counter() - start
    stats = pstats.Stats(profile).stats  # (file, line, func) -> (cc, nc, tt, ct, callers)
    groups = []
    for group, entries in CPROFILE_GROUPS:
        rows = []
        for suffix, func in entries:
            hits = [(k, v) for k, v in stats.items() if k[0].endswith(suffix) and k[2] == func]
            if hits:
                rows.append([f"{suffix}:{func}", sum(v[1] for _, v in hits), sum(v[3] for _, v in hits)])
        groups.append([group, rows])
    Path(out).write_text(json.dumps({"wall": wall, "groups": groups}))


def measure_breakdown(tmp: Path, interactions: int, cprofile: bool) -> None:
    section("1b. Where the suite's replay time goes")
    args = ["suites", "-q", "-p", "no:cacheprovider", "--report-dir", str(tmp / "sampled")]
    out = tmp / "sample.json"
    result = run([PY, str(Path(__file__).resolve()), "--_sample", str(out), "--"] + args, TIMEOUT_REPLAY, env=suite_env())
    if not out.exists():
        say(f"  sampling run failed (rc {result.rc}): {result.err[-1500:]}")
        return
    data = json.loads(out.read_text())
    wall = data["wall"]
    say(f"  stack sampling (SIGPROF every ~1 ms of CPU; exclusive buckets that add up to the run): pytest in-process, {wall:.2f} s")
    rows = sorted(data["buckets"].items(), key=lambda kv: (not kv[0].startswith("fixed"), -kv[1]))
    table(["bucket", "seconds", "share", "ms / interaction"],
          [[name, f"{sec:.2f}", f"{sec / wall:.0%}", f"{1000 * sec / interactions:.2f}" if name.startswith("per test") else ""] for name, sec in rows])
    say("  hottest innermost Python frames during tests (self time):")
    table(["frame", "seconds"], [[name, f"{sec:.2f}"] for name, sec in data["self"]], indent="    ")
    if not cprofile:
        return
    out = tmp / "cprofile.json"
    result = run([PY, str(Path(__file__).resolve()), "--_cprofile", str(out), "--"] + args, TIMEOUT_REPLAY, env=suite_env())
    if not out.exists():
        say(f"  cProfile run failed (rc {result.rc}): {result.err[-1500:]}")
        return
    data = json.loads(out.read_text())
    say()
    say(f"  cProfile entry points, grouped (cumulative, inclusive: groups overlap; the profiled run took {data['wall']:.2f} s,")
    say("  cProfile slows Python-heavy code more than C code, so read shares, not seconds):")
    rows = []
    for group, entries in data["groups"]:
        for i, (name, calls, cum) in enumerate(entries):
            rows.append([group if i == 0 else "", name, calls, f"{cum:.2f}", f"{cum / data['wall']:.0%}"])
    table(["group", "entry point", "calls", "cum s", "share"], rows)


# ------------------------------------------------------------------------------ 2. validation


def _route_table():
    from anyint_conformance.derive import operations

    table_ = []
    for op in operations():
        pattern = re.escape(op["path"])
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
        table_.append((op["method"], re.compile(f"{pattern}$"), op["responses"]))
    return table_


def measure_validation(cass: dict) -> None:
    section("2. Validation throughput: compiled validators on recorded bodies and SSE events")
    sys.path.insert(0, str(ROOT))
    from anyint_conformance import schemas

    routes = _route_table()
    bodies: dict[str, list] = collections.defaultdict(list)  # schema id(s) -> instances
    events: dict[str, list] = collections.defaultdict(list)
    for items in cass.values():
        for it in items:
            path = urlsplit(it.uri).path
            route = next(((m, rx, resp) for m, rx, resp in routes if m == it.method and rx.search(path)), None)
            if route is None:
                continue
            ctype = header(it.response_headers, "content-type").split(";")[0].strip().lower()
            if not 200 <= it.status < 300:
                parsed = json_or_none(it.response_body)
                if isinstance(parsed, dict):
                    bodies["error"].append(parsed)
                continue
            target = route[2].get(ctype)
            if target in (None, "binary", "text"):
                continue
            if ctype == "text/event-stream":
                events[target].extend(sse_events(it.response_body))
                continue
            parsed = json_or_none(it.response_body)
            if parsed is not None:
                bodies[json.dumps(target)].append(parsed)

    engines = {
        "first_violation": lambda sid: lambda x: schemas.first_violation(sid, x) is None,  # what checks.py calls
        "is_valid": lambda sid: schemas.validator(sid).is_valid,  # the same compiled validator, no error search
    }
    rs = _rust_validators(schemas)
    if rs:
        engines["jsonschema_rs"] = lambda sid: rs[sid].is_valid  # a fast-path candidate, for comparison
    rows, totals, disagreements = [], collections.defaultdict(lambda: [0, 0.0]), []
    for kind, groups in (("body", bodies), ("SSE event", events)):
        for key, instances in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            ids = json.loads(key) if key.startswith(("[", '"')) else key
            ids = ids if isinstance(ids, list) else [ids]
            rates = {name: _validation_rate([make(sid) for sid in ids], instances) for name, make in engines.items()}
            if rs:
                disagreements += [(ids, x) for x in instances if _accepts([engines["is_valid"](sid) for sid in ids], x) != _accepts([rs[sid].is_valid for sid in ids], x)]
            rows.append([kind, " | ".join(ids), len(instances)] + [f"{r:,.0f}/s" for r in rates.values()] + [f"{1e6 / rates['first_violation']:.0f} µs"])
            totals[kind][0] += len(instances)
            totals[kind][1] += len(instances) / rates["first_violation"]
            if rs:
                totals[f"{kind} rs"][1] += len(instances) / rates["jsonschema_rs"]
    table(["kind", "schema", "recorded"] + list(engines) + ["per item (first_violation)"], rows)
    body_n, body_t = totals["body"]
    event_n, event_t = totals["SSE event"]
    body_rate = body_n / body_t if body_t else float("nan")
    event_rate = event_n / event_t if event_t else float("nan")
    say(f"  all recorded bodies: {body_n} at {body_rate:,.0f} bodies/s; all recorded SSE events: {event_n} at {event_rate:,.0f} events/s "
        f"(first_violation, validators compiled beforehand as in a run)")
    say(f"  validating everything recorded once costs {body_t + event_t:.2f} s of a replay; no target was set for these figures")
    if rs:
        say(f"  jsonschema_rs is_valid vs jsonschema is_valid on all {body_n + event_n} recorded instances: {len(disagreements)} disagreement(s)"
            + (f", e.g. {disagreements[0][0]}" if disagreements else ""))
    row("validation: bodies/s (first_violation)", f"{body_rate:,.0f}/s over {body_n} bodies", "(reported)", None)
    row("validation: SSE events/s (first_violation)", f"{event_rate:,.0f}/s over {event_n} events", "(reported)", None)
    if rs:
        rs_t = totals["body rs"][1] + totals["SSE event rs"][1]
        row("validation: jsonschema_rs is_valid, all instances", f"{(body_n + event_n) / rs_t:,.0f}/s, {len(disagreements)} disagreements", "(fast-path candidate)", None)


def _accepts(checks: list, instance) -> bool:
    """A list of schemas accepts what any one of them accepts (as checks.py reads a list)."""
    return any(check(instance) for check in checks)


def _validation_rate(checks: list, instances: list, seconds: float = 0.3) -> float:
    for instance in instances[:1]:
        _accepts(checks, instance)  # warm: validators are compiled once per process in a run too
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for instance in instances:
            _accepts(checks, instance)
        n += len(instances)
    return n / (time.perf_counter() - start)


def _rust_validators(schemas) -> dict:
    """jsonschema_rs (already in requirements.lock, a Schemathesis dependency) over the same schemas and registry."""
    try:
        import jsonschema_rs
    except ImportError:
        return {}
    loaded = schemas.load_schemas()
    registry = jsonschema_rs.Registry([(s["$id"], s) for s in loaded.values()])
    return {sid: jsonschema_rs.validator_for(schema, registry=registry) for sid, schema in loaded.items()}


# ---------------------------------------------------------------------------------- 3. cost


def local_keys() -> dict[str, str]:
    """The local servers' generated keys (targets/local.sh env): passed to subprocesses, never printed."""
    result = run(["bash", str(ROOT / "targets" / "local.sh"), "env"], 30)
    keys = {}
    for line in result.out.splitlines():
        found = re.match(r"export (\w+)=(.*)$", line.strip())
        if found:
            keys[found.group(1)] = found.group(2).strip("'\"")
    return keys


def http_ready(url: str, key: str | None, timeout: float = 5) -> bool:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def litellm_models_off_llamacpp() -> list[str]:
    """targets/litellm.yaml's models whose upstream is not the llama.cpp server (which is never loaded from here)."""
    import yaml

    config = yaml.safe_load((ROOT / "targets" / "litellm.yaml").read_text())
    return [m["model_name"] for m in config["model_list"] if LLAMACPP_PORT not in str(m.get("litellm_params", {}).get("api_base", ""))]


def parse_plan(text: str) -> tuple[list[list], tuple[int, int, int] | None]:
    rows, total = [], None
    for line in text.splitlines():
        found = re.match(r"^(\S+)\s+(\S+)\s+(\d+)\s+(\d+)-(\d+)\s*$", line)
        if found:
            rows.append([found.group(1), found.group(2), int(found.group(3)), int(found.group(4)), int(found.group(5))])
        found = re.match(r"^total\s+(\d+)\s+(\d+)-(\d+)\s*$", line)
        if found:
            total = tuple(int(g) for g in found.groups())
    return rows, total


def scan_max_tokens(cass: dict) -> None:
    """max_tokens (and its aliases) in every recorded request body; chat requests that send no cap."""
    caps: list[tuple[int, Path]] = []
    mutated, uncapped, unparsable = [], [], 0
    chat = 0
    for path, items in cass.items():
        for it in items:
            body = json_or_none(it.body)
            is_chat = it.uri.endswith("/chat/completions") and it.method == "POST"
            chat += is_chat
            if not isinstance(body, dict):
                unparsable += bool(it.body) and is_chat
                continue
            found = [(k, body[k]) for k in ("max_tokens", "max_completion_tokens", "max_output_tokens") if k in body]
            for key, value in found:
                if isinstance(value, int) and not isinstance(value, bool):
                    caps.append((value, path))
                else:
                    mutated.append((key, value, path))
            if is_chat and not found:
                uncapped.append(path)
    top = max(caps, key=lambda c: c[0]) if caps else (None, None)
    say(f"  max_tokens scan over {sum(len(v) for v in cass.values())} recorded requests ({chat} chat): "
        f"{len(caps)} integer caps, max {top[0]} (in {shown(top[1]) if top[1] else '-'}); "
        f"{len(mutated)} non-integer values (negative cases mutating max_tokens itself); "
        f"{unparsable} chat bodies not JSON (malformed-JSON cases)")
    over = sorted({shown(p) for v, p in caps if v > 16})
    if over:
        say(f"    caps above 16 in: {', '.join(over[:6])}{' …' if len(over) > 6 else ''}")
    if uncapped:
        names = sorted({shown(p) for p in uncapped})
        say(f"    {len(uncapped)} chat request bodies with no cap at all, in {len(names)} cassettes, e.g. {', '.join(names[:3])}")
    row("cost: max max_tokens in recorded requests", f"{top[0]}", "<= 16", top[0] is not None and top[0] <= 16)
    row("cost: chat requests with no token cap", f"{len(uncapped)} of {chat}", "0 (negative cases excepted)", None if uncapped else True)


def recorded_tokens(cass: dict, matrix_path: Path) -> None:
    """usage.total_tokens answered per cell, from the recorded chat responses (one cassette per chat cell)."""
    per_cassette: dict[Path, int] = {}
    for path, items in cass.items():
        total, seen = 0, False
        for it in items:
            if not it.uri.endswith("/chat/completions"):
                continue
            parsed = json_or_none(it.response_body)
            candidates = [parsed] if isinstance(parsed, dict) else sse_events(it.response_body)
            for c in candidates:
                usage = c.get("usage") if isinstance(c, dict) else None
                if isinstance(usage, dict) and isinstance(usage.get("total_tokens"), int):
                    total += usage["total_tokens"]
                    seen = True
        if seen:
            per_cassette[path] = total
    cells_by_cassette = collections.Counter()
    if matrix_path.exists():
        for cell in json.loads(matrix_path.read_text())["cells"]:
            if cell.get("cassette"):
                cells_by_cassette[cell["cassette"]] += 1
    if not per_cassette:
        say("  tokens: no recorded chat response carries usage.total_tokens")
        return
    by_target: dict[str, list[int]] = collections.defaultdict(list)
    for path, tokens in per_cassette.items():
        by_target[path.relative_to(CASSETTES).parts[0]].append(tokens)
    biggest = max(per_cassette.items(), key=lambda kv: kv[1])
    shared = sum(1 for p in per_cassette if cells_by_cassette.get(shown(p), 1) > 1)
    say(f"  recorded tokens per cell (sum of usage.total_tokens over a chat cassette = one cell; {shared} cassettes hold >1 cell):")
    table(["target", "cells with usage", "tokens total", "mean / cell", "max / cell"],
          [[t, len(v), sum(v), f"{sum(v) / len(v):.0f}", max(v)] for t, v in sorted(by_target.items())])
    say(f"  largest: {shown(biggest[0])} = {biggest[1]} tokens")
    row("cost: recorded tokens per chat cell (max)", f"{biggest[1]} (mean {sum(per_cassette.values()) / len(per_cassette):.0f})", "(reported)", None)


def cell_stats(cells: list[dict]) -> None:
    groups: dict[tuple, list[int]] = collections.defaultdict(list)
    for c in cells:
        groups[(c["kind"], c["verdict"])].append(c["exchanges"])
    table(["kind", "verdict", "cells", "requests", "max / cell", "mean / cell"],
          [[k, v, len(x), sum(x), max(x), f"{sum(x) / len(x):.1f}"] for (k, v), x in sorted(groups.items())])


def measure_cost(tmp: Path, cass: dict, replay_matrix: Path, live: bool) -> None:
    section("3. Live cost per cell: planned, sent, and what the recordings hold")
    plan = run(PYTEST + ["suites", "--anyint-plan", "--target", "litellm"], TIMEOUT_REPLAY, env=suite_env())
    rows, total = parse_plan(plan.out)
    say("  plan (`pytest suites --anyint-plan --target litellm`, models from cassettes/litellm/models.yaml):")
    if rows:
        table(["target", "model", "tests", "min requests", "max requests"], rows, indent="    ")
        say(f"    total {total[0] if total else '?'} tests, {total[1] if total else '?'}-{total[2] if total else '?'} requests")
    else:
        say(f"    plan output not understood (rc {plan.rc}):\n{plan.out[-1500:]}{plan.err[-800:]}")
    scan_max_tokens(cass)
    recorded_tokens(cass, replay_matrix)
    if live:
        _measure_live_cost(tmp)
    else:
        say("  live run skipped (--skip-live)")


def _measure_live_cost(tmp: Path) -> None:
    keys = local_keys()
    if "LITELLM_MASTER_KEY" not in keys:
        say("  live run skipped: no LITELLM_MASTER_KEY from targets/local.sh env")
        return
    started = False
    try:
        if not http_ready(f"{LITELLM_URL}/models", keys["LITELLM_MASTER_KEY"]):
            if not (LITELLM_VENV / "bin" / "litellm").exists():
                say("  live run skipped: the LiteLLM proxy is not installed (targets/local.sh install litellm)")
                return
            say("  the LiteLLM proxy on 127.0.0.1:14000 is not answering: starting it (targets/local.sh start litellm)")
            started = True  # from here on, stop it in finally, even if start half-succeeded
            start = run(["bash", str(ROOT / "targets" / "local.sh"), "start", "litellm"], TIMEOUT_SERVER)
            if start.rc != 0:
                say(f"  could not start it (rc {start.rc}): {start.err[-800:]}")
                return
        models = litellm_models_off_llamacpp()
        model_args = [a for m in models for a in ("--model", m)]
        say(f"  live run against the local LiteLLM proxy, models not proxied to llama.cpp: {', '.join(models)}")
        plan = run(PYTEST + ["suites", "--anyint-plan", "--target", "litellm"] + model_args, TIMEOUT_REPLAY, env=suite_env())
        _, planned = parse_plan(plan.out)
        report = tmp / "live"
        env = suite_env(keys)
        result = run(PYTEST + ["suites", "--target", "litellm", "--disable-recording", "--report-dir", str(report)] + model_args, TIMEOUT_LIVE, env=env)
        matrix = report / "support-matrix.json"
        if not matrix.exists():
            say(f"  live run wrote no matrix (rc {result.rc}, {result.summary}): {result.err[-800:]}")
            return
        cells = json.loads(matrix.read_text())["cells"]
        sent = sum(c["exchanges"] for c in cells)
        plan_text = f"plan for these models: {planned[1]}-{planned[2]}" if planned else "plan not parsed"
        say(f"  live run: {result.summary} in {result.wall:.1f} s; {len(cells)} cells, {sent} requests sent ({plan_text}; GET /models is not a cell)")
        cell_stats(cells)
        unsupported = [c for c in cells if c["verdict"] == "unsupported"]
        route_ok = [c for c in cells if c["kind"] == "route" and c["verdict"] == "supported"]
        worst_u = max((c["exchanges"] for c in unsupported), default=0)
        worst_r = max((c["exchanges"] for c in route_ok), default=0)
        over_u = [c for c in unsupported if c["exchanges"] > 2]
        over_r = [c for c in route_ok if c["exchanges"] > 12]
        for c in (over_u + over_r)[:5]:
            say(f"    over target: {c['model']} {c['route']} [{c['parameter'] or 'route'}] {c['verdict']}: {c['exchanges']} requests")
        row("cost: requests per unsupported cell (live, max)", f"{worst_u} over {len(unsupported)} cells", "<= 2", worst_u <= 2 if unsupported else None)
        row("cost: requests per supported route cell (live, max)", f"{worst_r} over {len(route_ok)} cells (--examples 4)", "<= 12", worst_r <= 12 if route_ok else None)
        if planned:
            row("cost: live requests within the plan", f"{sent} sent, plan {planned[1]}-{planned[2]}", "within plan", planned[1] <= sent <= planned[2])
    finally:
        if started:
            stop = run(["bash", str(ROOT / "targets" / "local.sh"), "stop", "litellm"], 90)
            say(f"  stopped the proxy this run started (rc {stop.rc})")


# ------------------------------------------------------------------------------- 4. scaling


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) != 0


def start_scale_proxy(key: str, log: Path) -> subprocess.Popen:
    """The second LiteLLM instance, started as targets/local.sh starts its proxy (clean environment,
    every remote JSON read from the bundled copy, telemetry off, key only in the environment)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        "LITELLM_MASTER_KEY": key,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True", "LITELLM_LOCAL_BLOG_POSTS": "True",
        "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True", "LITELLM_LOCAL_POLICY_TEMPLATES": "True", "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
    }
    cmd = [str(LITELLM_VENV / "bin" / "litellm"), "--config", str(SCALE_CONFIG), "--host", SCALE_HOST, "--port", str(SCALE_PORT), "--telemetry", "False"]
    with open(log, "ab") as fh:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds a running process has used so far (/proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def stop_pid(proc: subprocess.Popen) -> str:
    if proc.poll() is not None:
        return f"pid {proc.pid} had already exited (rc {proc.returncode})"
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
        return f"pid {proc.pid} stopped (SIGTERM)"
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        return f"pid {proc.pid} killed (ignored SIGTERM for 30 s)"


def _cell_key(cell: dict) -> tuple:
    return cell["target"], cell["model"] or "", cell["route"], cell["parameter"] or ""


def compare_matrices(a: dict, b: dict) -> list[str]:
    """Every difference between two matrices (nothing ignored); an ordering-only difference is named as such."""
    if a == b:
        return []
    diffs = [f"top-level {k!r} differs" for k in sorted(set(a) | set(b)) if k != "cells" and a.get(k) != b.get(k)]
    ca, cb = a.get("cells", []), b.get("cells", [])
    if ca != cb:
        if sorted(json.dumps(c, sort_keys=True) for c in ca) == sorted(json.dumps(c, sort_keys=True) for c in cb):
            diffs.append("cells: the same cells in a different order")
        else:
            ia, ib = {_cell_key(c): c for c in ca}, {_cell_key(c): c for c in cb}
            for k in sorted(set(ia) ^ set(ib)):
                diffs.append(f"cell only in one run: {k}")
            for k in sorted(set(ia) & set(ib)):
                fields = [f for f in ia[k] if ia[k][f] != ib[k].get(f)]
                if fields:
                    diffs.append(f"cell {k[1]} {k[2]} [{k[3] or 'route'}]: {', '.join(f'{f}: {ia[k][f]!r} != {ib[k][f]!r}'[:160] for f in fields)}")
    return diffs


def measure_scaling(tmp: Path) -> None:
    section("4. Scaling: the chat suite live against a 40-model latency-bound catalogue, 1/2/4 xdist workers")
    if not (LITELLM_VENV / "bin" / "litellm").exists():
        say("  skipped: .targets/litellm is not installed (targets/local.sh install litellm)")
        return
    if not port_free(SCALE_HOST, SCALE_PORT):
        say(f"  skipped: {SCALE_HOST}:{SCALE_PORT} is already in use by another process (not ours: left alone)")
        return
    import yaml

    models = [m["model_name"] for m in yaml.safe_load(SCALE_CONFIG.read_text())["model_list"]]
    delay = {m["litellm_params"].get("mock_delay") for m in yaml.safe_load(SCALE_CONFIG.read_text())["model_list"]}
    key = "sk-bench-" + secrets.token_hex(12)  # throw-away, for this run only
    log = tmp / "litellm-scale.log"
    proc = start_scale_proxy(key, log)
    say(f"  started LiteLLM (pid {proc.pid}) on {SCALE_HOST}:{SCALE_PORT} with {shown(SCALE_CONFIG)}: {len(models)} models, mock_delay {delay}")
    try:
        deadline = time.monotonic() + TIMEOUT_SERVER
        while not http_ready(f"http://{SCALE_HOST}:{SCALE_PORT}/v1/models", key):
            if proc.poll() is not None or time.monotonic() > deadline:
                say(f"  the scale proxy did not become ready; last log lines:\n{log.read_text()[-1500:]}")
                return
            time.sleep(1)
        _warm_up(key, models[0])
        base = PYTEST + ["suites/test_chat_completions.py", "--base-url", f"http://{SCALE_HOST}:{SCALE_PORT}/v1", "--key-env", "LITELLM_MASTER_KEY",
                         "--target-name", "scale", "--disable-recording", "--no-expectations"]
        env = suite_env({"LITELLM_MASTER_KEY": key})
        runs, startup = {}, {}
        for workers in (1, 2, 4):
            extra = [] if workers == 1 else ["-n", str(workers)]  # 1 worker = no xdist at all
            # start-up alone: workers spawned, plugin imported, models discovered, tests collected, none run
            startup[workers] = run(base + ["--report-dir", str(tmp / "scale-none"), "-k", "no_test_has_this_name"] + extra, TIMEOUT_LIVE, env=env)
            report = tmp / f"scale-{workers}"
            proxy_before = proc_cpu(proc.pid)
            result = run(base + ["--report-dir", str(report)] + extra, TIMEOUT_LIVE, env=env)
            matrix = report / "support-matrix.json"
            runs[workers] = (result, json.loads(matrix.read_text()) if matrix.exists() else None, proc_cpu(proc.pid) - proxy_before)
            say(f"  {workers} worker(s){' (no -n)' if workers == 1 else f' (-n {workers})'}: {result.wall:.1f} s wall, {result.summary}")
        one = runs[1][0].wall
        rows = []
        for workers, (result, matrix, proxy_cpu) in runs.items():
            requests = sum(c["exchanges"] for c in matrix["cells"]) if matrix else 0
            rows.append([workers, f"{result.wall:.1f} s", f"{startup[workers].wall:.1f} s", requests, f"{requests / result.wall:.1f}/s",
                         f"{result.cpu:.1f} s", f"{proxy_cpu:.1f} s", f"{(result.cpu + proxy_cpu) / result.wall:.2f} of {os.cpu_count()}", f"{one / result.wall:.2f}x"])
        table(["workers", "wall", "of it start-up", "requests", "requests/s", "suite CPU", "proxy CPU", "cores busy", "speed-up"], rows)
        mock_delay = max(d for d in delay if d)
        requests_1 = sum(c["exchanges"] for c in runs[1][1]["cells"]) if runs[1][1] else 0
        say("  'of it start-up' = the same command with every test deselected (-k): spawn workers, import, discover models, collect.")
        say(f"  latency alone: {requests_1} requests x mock_delay {mock_delay} s = {requests_1 * mock_delay:.0f} s sequential; "
            f"ideal at 4 workers = start-up + (1-worker run - its start-up) / 4 = "
            f"{startup[4].wall + (one - startup[1].wall) / 4:.1f} s -> {one / (startup[4].wall + (one - startup[1].wall) / 4):.2f}x")
        for workers in (2, 4):
            if runs[1][1] is None or runs[workers][1] is None:
                row(f"scaling: matrix at {workers} workers equals 1 worker", "no matrix", "equal", False)
                continue
            diffs = compare_matrices(runs[1][1], runs[workers][1])
            for d in diffs[:8]:
                say(f"    {workers} workers vs 1: {d}")
            row(f"scaling: matrix at {workers} workers equals 1 worker", "equal" if not diffs else f"{len(diffs)} difference(s)", "equal", not diffs)
        row("scaling: speed-up at 2 workers", f"{one / runs[2][0].wall:.2f}x", "(reported)", None)
        row("scaling: speed-up at 4 workers", f"{one / runs[4][0].wall:.2f}x ({runs[4][0].wall:.1f} s vs {one:.1f} s)", ">= 3x", one / runs[4][0].wall >= 3)
        _measure_rps(base, env, tmp, models[:2])
    finally:
        say(f"  scale proxy: {stop_pid(proc)}")


def _warm_up(key: str, model: str) -> None:
    """One request before timing, so the proxy's lazy imports are not charged to the 1-worker run."""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}).encode()
    request = urllib.request.Request(f"http://{SCALE_HOST}:{SCALE_PORT}/v1/chat/completions", data=body,
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=30).read()
    except (urllib.error.URLError, OSError):
        pass


def _measure_rps(base: list[str], env: dict, tmp: Path, models: list[str]) -> None:
    model_args = [a for m in models for a in ("--model", m)]
    say(f"  --rps {SCALE_RPS:g} on {len(models)} models ({', '.join(models)}): the pacer spaces requests by workers/rps per process")
    rows = []
    for label, extra in (("unpaced, no -n", []), (f"--rps {SCALE_RPS:g}, no -n", ["--rps", str(SCALE_RPS)]), (f"--rps {SCALE_RPS:g}, -n 2", ["--rps", str(SCALE_RPS), "-n", "2"])):
        report = tmp / f"rps-{len(rows)}"
        result = run(base + model_args + ["--report-dir", str(report)] + extra, TIMEOUT_LIVE, env=env)
        matrix = report / "support-matrix.json"
        requests = sum(c["exchanges"] for c in json.loads(matrix.read_text())["cells"]) if matrix.exists() else 0
        floor = (requests - 1) / SCALE_RPS if "--rps" in extra else None
        session = result.session_seconds
        rows.append([label, requests, fmt_s(session), f"{result.wall:.1f} s", fmt_s(floor) if floor is not None else "-",
                     ("yes" if session is not None and session >= floor else "NO") if floor is not None else "-"])
        if floor is not None:
            row(f"rps: {label}: session >= (requests-1)/rps", f"{fmt_s(session)} for {requests} requests", f">= {floor:.1f} s", session is not None and session >= floor)
    table(["run", "requests", "pytest session", "wall", "paced minimum", "held?"], rows)


# ----------------------------------------------------------------------------------- main


def final_table() -> None:
    section("Summary")
    table(["figure", "measured", "target", "met?"],
          [[r.figure, r.measured, r.target, {True: "yes", False: "NO", None: "-"}[r.met]] for r in ROWS])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved replay rounds; medians are reported (default 3)")
    parser.add_argument("--quick", action="store_true", help="1 replay round, no cProfile run")
    parser.add_argument("--skip-live", action="store_true", help="no live run against the local LiteLLM proxy")
    parser.add_argument("--skip-scale", action="store_true", help="no scaling runs (no second LiteLLM instance)")
    args = parser.parse_args()
    rounds = 1 if args.quick else max(1, args.rounds)
    start = time.perf_counter()
    say(f"anyint-conformance benchmarks: {ROOT} ({os.cpu_count()} CPUs, Python {sys.version.split()[0]}); "
        f"git: {run(['git', 'describe', '--always', '--dirty'], 30).out.strip() or '?'}")
    tmp = Path(tempfile.mkdtemp(prefix="anyint-bench-"))
    try:
        cass = load_cassettes()
        replay = _guard("replay", lambda: measure_replay(tmp, cass, rounds)) or {}
        interactions = replay.get("interactions") or sum(len(v) for v in cass.values())
        _guard("breakdown", lambda: measure_breakdown(tmp, interactions, cprofile=not args.quick))
        _guard("validation", lambda: measure_validation(cass))
        _guard("cost", lambda: measure_cost(tmp, cass, replay.get("matrix", tmp / "none"), live=not args.skip_live))
        if args.skip_scale:
            section("4. Scaling: skipped (--skip-scale)")
        else:
            _guard("scaling", lambda: measure_scaling(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    final_table()
    say(f"\n(bench took {time.perf_counter() - start:.0f} s; exit status 0 whatever the table says)")
    return 0


def _guard(name: str, step):
    """A measurement that fails is reported and the others still run."""
    try:
        return step()
    except Exception:  # noqa: BLE001 - a report, not a test: say what broke and go on
        say(f"  [{name}] failed:\n" + "".join("    " + ln for ln in traceback.format_exc().splitlines(True)))
        row(f"{name}: measurement", "failed (see above)", "runs", False)
        return None


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--_floor":
        _floor_main(sys.argv[2])
    elif len(sys.argv) > 3 and sys.argv[1] in ("--_sample", "--_cprofile") and sys.argv[3] == "--":
        (_sample_main if sys.argv[1] == "--_sample" else _cprofile_main)(sys.argv[2], sys.argv[4:])
    else:
        sys.exit(main())
