"""--anyint-plan: what a live run would send, per target and model and per cost class, before a cent is spent.

The plan is two dry runs of the selected tests against imaginary targets that answer at once, without a
network: one that supports everything (the most a run can send: every probe supported, every example
sent, every lifecycle step taken, every poll until --poll-timeout) and one that refuses everything (the
least). The bounds therefore come from the suites' own code, lifecycles included, and every body a run
would send is seen, so the plan can say what the largest max_tokens in any of them is (batch files and
the SDK example included). With --prices, each class gets an estimated spend.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import replace

import httpx

from anyint_conformance.wire.cost import EXPENSIVE, paid, route_class
from anyint_conformance.run.discovery import EACH_MODEL
from anyint_conformance.run.engine import Engine
from anyint_conformance.wire.transport import structured
from anyint_conformance.judging.lifecycle import poll_attempts


class ImaginaryTarget(httpx.BaseTransport):
    """Answers every request at once: all supported (ids, a forced tool call, polls that finish at the last
    allowed poll) or all refused (404). Remembers every request it was sent."""

    def __init__(self, supports: bool, polls: int):
        self.supports, self.polls = supports, polls
        self.sent: list[tuple[str, str, bytes, str]] = []  # method, path, body, content type
        self._gets: Counter = Counter()
        self._ids = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()
        self.sent.append((request.method, request.url.path, content, request.headers.get("content-type", "")))
        if not self.supports:
            return httpx.Response(404, json={"error": {"message": "imaginary: refused", "type": "not_found"}}, request=request)
        self._ids += 1
        status = "in_progress"
        if request.method == "GET":
            self._gets[str(request.url)] += 1
            status = "completed" if self._gets[str(request.url)] >= self.polls else "in_progress"
        call = {"id": f"call_plan_{self._ids}", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        body = {"id": f"plan-{self._ids}", "object": "plan", "status": status, "output_file_id": "plan-output", "data": [],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [call]}, "finish_reason": "tool_calls"}]}
        if b'"stream": true' in content or b'"stream":true' in content:
            chunk = {"id": "plan", "object": "chat.completion.chunk", "created": 0, "model": "plan", "choices": [{"index": 0, "delta": {"content": "hi"}}]}
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode(), request=request)
        return httpx.Response(200, json=body, request=request)


def max_tokens_sent(sent: list[tuple[str, str, bytes, str]]) -> tuple[int | None, int, int | None, int]:
    """The largest integer max_tokens in any body (JSON bodies, and JSONL lines inside uploads) and how many
    bodies carried one; then the same for the bodies that offer tools (which have a cap of their own)."""
    plain, tools = [], []
    for _, _, content, content_type in sent:
        texts = [content] if "json" in content_type else (re.findall(rb"\{.*\}", content) if "multipart" in content_type else [])
        for text in texts:
            try:
                value = json.loads(text)
            except ValueError:
                continue
            for body in (value, value.get("body") if isinstance(value, dict) else None):  # a batch line carries its request under "body"
                if isinstance(body, dict) and isinstance(body.get("max_tokens"), int):
                    (tools if structured(body) else plain).append(body["max_tokens"])
    return (max(plain) if plain else None), len(plain), (max(tools) if tools else None), len(tools)


def shape(item) -> tuple:
    """What a test's requests depend on: its function and parameters, never its target or model (every
    model gets the same requests: tested in tests/test_generate.py), so one dry run per shape counts them all."""
    return item.function.__module__, item.function.__qualname__, repr(sorted(item.params.items())), item.per_target


def dry_run(engine: Engine, items: list, supports: bool) -> tuple[dict, list]:
    """Run the items against an imaginary target: {nodeid: the requests it sent (method, path, model)} and
    every body sent (method, path, body, content type), one list entry per test. One test per shape is
    run; the others of its shape send the same requests with their own model."""
    polls = poll_attempts(engine.cfg.poll_timeout, 1.0)
    server = ImaginaryTarget(supports, polls)
    cfg = replace(engine.cfg, disable_recording=True, record_mode=None, max_requests=0, budget=0.0, concurrency=1)
    dry = Engine(cfg, answering=lambda target: server)
    dry.discovered = engine.discovered
    by_shape: dict[tuple, tuple] = {}
    for item in items:
        if shape(item) not in by_shape:
            before = len(server.sent)
            dry.run_item(item)
            by_shape[shape(item)] = (item.subject.model, server.sent[before:])
    dry.close()
    sent, bodies = {}, []
    for item in items:
        model, requests = by_shape[shape(item)]
        own = lambda found: item.subject.model if model and found == model else found  # noqa: E731 - the shape's model -> this test's
        sent[item.nodeid] = [(m, p, own(_model(b, ct))) for m, p, b, ct in requests]
        bodies += requests
    return sent, bodies


def _model(content: bytes, content_type: str) -> str | None:
    if "json" not in content_type:
        return None
    try:
        body = json.loads(content)
    except ValueError:
        return None
    return body.get("model") if isinstance(body, dict) else None


def plan_lines(engine: Engine, items: list) -> list[str]:
    """The plan as printed: requests per target and model, per route class (with the spend), the token
    cap measured, and, with --latency, the wall time a live run would take at --concurrency. A target
    whose models are unknown has one "per model" row; its totals count --models-expected models (one
    when not given, and the plan says so)."""
    cfg, prices = engine.cfg, engine.ctx.prices
    most, bodies = dry_run(engine, items, supports=True)
    least, _ = dry_run(engine, items, supports=False)
    unknown = {t.name for t in engine.ctx.targets if (f := engine.discovered.get(t.name)) is None or f.placeholder}
    each = max(cfg.models_expected, 1)

    def weight(item) -> int:  # how many models one item of a "per model" row stands for
        return each if item.subject.target.name in unknown and not item.per_target else 1

    rows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    classes: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for item in items:
        target, w = item.subject.target.name, weight(item)
        label = "(target-wide)" if item.per_target else ("per model" if target in unknown else (item.subject.model or EACH_MODEL))
        row = rows[(target, label)]
        row[0] += 1
        row[1] += len(least[item.nodeid])
        row[2] += len(most[item.nodeid])
        for bound, requests in ((0, least[item.nodeid]), (1, most[item.nodeid])):
            for method, path, model in requests:
                klass = route_class(path)
                classes[(target, klass)][bound] += w
                if bound == 1 and prices is not None and paid(method, path):
                    classes[(target, klass)][2] += w * prices.per_request(klass, model or item.subject.model, cfg.token_cap)
    lines = []
    for target in engine.ctx.targets:
        found = engine.discovered.get(target.name)
        if target.name in unknown:
            count = f"--models-expected {cfg.models_expected}: totals count {each} model(s)" if cfg.models_expected else \
                "totals count one model: pass --models-expected N for a catalogue of N"
            lines.append(f"{target.name}: models unknown until a live run asks GET /models; the 'per model' row is one model's, {count}")
        else:
            lines.append(f"{target.name}: {len(found.models)} {'recorded' if not engine.ctx.live else 'discovered'} model(s); one row per model")
    lines.append(f"{'target':10} {'model':28} {'tests':>6} {'requests (min-max)':>20}")
    total = [0, 0, 0]
    for (target, model), (tests, lo, hi) in sorted(rows.items()):
        lines.append(f"{target:10} {model:28} {tests:>6} {f'{lo}-{hi}':>20}")
        w = each if model == "per model" else 1
        total = [total[0] + w * tests, total[1] + w * lo, total[2] + w * hi]
    lines.append(f"{'total':39} {total[0]:>6} {f'{total[1]}-{total[2]}':>20}")
    lines.append("")
    money = f"{'estimated spend (max, ' + prices.currency + ')':>28}" if prices else ""
    lines.append(f"{'target':10} {'route class':20} {'requests (min-max)':>20} {money}".rstrip())
    spend = 0.0
    for (target, klass), (lo, hi, amount) in sorted(classes.items()):
        note = " (probe only; --expensive-examples for more)" if klass in EXPENSIVE and not cfg.expensive_examples else ""
        lines.append(f"{target:10} {klass:20} {f'{int(lo)}-{int(hi)}':>20}" + (f" {amount:>28.4f}" if prices else "") + note)
        spend += amount
    if prices:
        lines.append(f"{'total':52}{spend:>29.4f}" + (f"  (--budget {cfg.budget:g}: cells that could pass it are not sent)" if cfg.budget else ""))
    else:
        lines.append("no price table: pass --prices FILE (see README, Cost) for an estimated spend")
    largest, carried, tool_largest, tool_bodies = max_tokens_sent(bodies)
    lines.append(f"max_tokens <= {cfg.token_cap} in every body (measured on the dry run: largest {largest} in {carried} bodies that carry it, "
                 f"batch files and the SDK example included), <= {cfg.tool_token_cap} in bodies that offer tools or ask for JSON (largest {tool_largest} in {tool_bodies}: "
                 f"room for a whole structure); min = every probe refused, max = every probe supported, every example, "
                 f"every lifecycle step, polls up to --poll-timeout")
    if cfg.latency:
        lines.append(wall_time(items, least, most, weight, cfg.latency, cfg.concurrency))
    return lines


def wall_time(items: list, least: dict, most: dict, weight, latency: float, concurrency: int) -> str:
    """How long a live run would take at `latency` seconds per answer with `concurrency` tests in flight:
    the requests spread over the threads, but never less than the longest test (its requests go in order)."""
    def estimate(sent: dict) -> float:
        total = sum(weight(i) * len(sent[i.nodeid]) for i in items)
        longest = max((len(sent[i.nodeid]) for i in items), default=0)
        return latency * max(total / max(concurrency, 1), longest)

    lo, hi = estimate(least), estimate(most)
    return (f"wall time at {latency:g} s per answer, --concurrency {concurrency}: about {_duration(lo)} to {_duration(hi)} "
            f"(sequential: up to {_duration(latency * sum(weight(i) * len(most[i.nodeid]) for i in items))}; shard with --shard I/N past that)")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
