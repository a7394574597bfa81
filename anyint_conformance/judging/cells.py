"""One matrix cell (target x model x route [x parameter]): probe first, examples only if supported.

No pytest and no cassettes here: the plugin supplies an httpx client (recording, replaying or live)
and receives a `Cell`. Cost rule: one minimal probe settles an unsupported or broken cell; the page's
examples and the generated ones run only behind a supported probe. What the answer must be comes from
the operation (`Expect.for_request`): the request picks it (stream, encoding_format, response_format).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import httpx

from anyint_conformance.contract import generate
from anyint_conformance.judging.checks import Assessment, Expect, Rules
from anyint_conformance.judging.effects import EFFECTS, NEEDS_CONTROL, Contradicts, Seen, Unobservable, Upstream
from anyint_conformance.model.verdicts import Cell, Finding, Provenance, Severity, Verdict, worst
from anyint_conformance.wire.cost import Budget
from anyint_conformance.wire.transport import Exchange, send


@dataclass(frozen=True)
class Judging:
    """How a cell's exchanges are judged and sent: the run's rules (made once), the bounds, the budget."""

    rules: Rules = Rules()
    timeout: float = 60.0
    budget: Budget | None = None  # asked before a cell sends anything: why it must not (a budget is spent)
    trials: int = 1  # --trials: how many times an effect cell is judged
    fanout: Callable | None = None  # live with --concurrency: map(fn, items) on the run's pool; a cell's examples go at once

    def refusal(self, route: str, model: str | None, requests: int) -> str | None:
        return self.budget.refusal(route, model, requests) if self.budget is not None else None

    def each(self, fn: Callable, items: list) -> list:
        """fn over items, in their order: at once on the run's pool when there is one, else one by one."""
        return list(self.fanout(fn, items)) if self.fanout is not None and len(items) > 1 else [fn(item) for item in items]


_BATCHES = itertools.count()


@dataclass(frozen=True)
class CellSpec:
    """What a suite declares for one cell: the route, the probe, what is pinned and how to generate."""

    operation: dict
    probe: dict  # a minimal valid body, model excluded
    parameter: str | None = None
    pinned: dict = field(default_factory=dict)  # fields fixed for probe and examples (e.g. stream)
    overlay: dict | None = None
    kind: str = "route"  # route | parameter
    effect: str | None = None  # an effects.EFFECTS name: the observable effect the docs promise
    control: dict | list | None = None  # the request(s) the effect is observed against (model excluded): without the parameter
    samples: int = 1  # how often the request (and each control) is sent for its effect (answers that must agree or vary)
    marks: tuple[str, ...] = ()  # for a message form: the word the request, then each control, should make the answer name
    generate: bool = True  # send the page's examples and Hypothesis examples behind a supported probe
    files: dict | None = None  # multipart uploads {field: (filename, bytes, content type)}; body = form fields

    @property
    def route(self) -> str:
        return f"{self.operation['method']} {self.operation['path']}"

    def bodies(self, model: str | None, examples: int, seed: int) -> tuple[dict, list[dict]]:
        """The probe, and the bodies sent behind a supported probe: the page's examples, then `examples`
        drawn ones. None of it depends on the target, and the model only where it is pinned. (The token
        cap is the transport's: wire/transport.CapTransport.)"""
        pinned = {**({"model": model} if model is not None else {}), **self.pinned}
        probe = {**self.probe, **pinned}
        uploads = {name: "<binary>" for name in self.files or {}}  # what the schema sees of a file field
        generate.check_request(self.operation, {**probe, **uploads})
        if not self.generate:
            return probe, []
        overlay = generate.without_capabilities(self.operation, self.overlay, probe)
        page = generate.explicit_bodies(self.operation, overlay, self.probe, pinned, uploads)
        drawn = generate.draw_bodies(self.operation, overlay, pinned, examples, generate.cell_seed(self.route, self.parameter or "", base=seed), uploads)
        seen, out = set(), []
        for body in [*page, *drawn]:
            key = repr(sorted(body.items()))
            if key not in seen and body != probe:
                seen.add(key)
                out.append(body)
        return probe, out


def run_cell(
    client: httpx.Client,
    url: str,
    spec: CellSpec,
    *,
    target: str,
    model: str,
    examples: int,
    seed: int,
    judging: Judging = Judging(),
) -> Cell:
    probe_body, later = spec.bodies(model, examples, seed)
    controls = [spec.control] if isinstance(spec.control, dict) else list(spec.control or [])
    control_bodies = [{**c, **({"model": model} if model is not None else {})} for c in controls]
    effect = spec.effect is not None
    trials = max(judging.trials, 1) if effect else 1
    spent = judging.refusal(spec.route, model, 1 + len(later) + trials * spec.samples * (1 + len(control_bodies)) - 1)
    if spent:
        return Cell.untested(target, model, spec.route, spec.parameter, spent, kind=spec.kind)

    def exchange(body: dict, order: tuple | None = None) -> tuple[Exchange, Assessment]:
        ex = send(client, spec.operation["method"], url, body, stream=bool(body.get("stream")), timeout=judging.timeout, files=spec.files, order=order)
        return ex, judging.rules.judge(ex, Expect.for_request(spec.operation, body))

    results = [exchange(probe_body)]
    # a parameter or beyond-the-page cell is judged by its effect: unverified without one
    if results[0][1].verdict is Verdict.SUPPORTED and spec.kind in ("parameter", "beyond"):
        results = _trials(spec, probe_body, control_bodies, results[0], trials, exchange)
    sent = 0
    if results[0][1].verdict is Verdict.SUPPORTED and spec.kind == "route":
        batch = next(_BATCHES)  # sent at once on a live run with --concurrency: recorded in this order all the same
        for ex, result in judging.each(lambda job: exchange(job[1], (batch, job[0]) if judging.fanout else None), list(enumerate(later))):
            results.append(_as_example(ex, result))
            sent += 1
    decided_ex, decided = _deciding(results)
    return Cell.judged(
        target, model, spec.route, spec.parameter, replace(decided, security=any(a.security for _, a in results)), decided_ex,
        kind=spec.kind, examples=sent,
        exchanges=sum(ex.attempts for ex, _ in results),  # retried 429s count: each is a request sent
        warnings=_unique(f.to_dict() for _, a in results for f in a.warnings),
        notes=_unique(f.to_dict() for _, a in results for f in a.notes),
    )


def _trials(spec: CellSpec, body: dict, control_bodies: list[dict], first: tuple[Exchange, Assessment], trials: int, exchange) -> list[tuple[Exchange, Assessment]]:
    """The parameter's effect judged `trials` times, each on `spec.samples` answers and against its control
    answers (which show what the answer is without the parameter and decide nothing of their own). One
    outcome for all: K of K alike, or flaky with its count. The deciding answer comes first; every request
    sent is in the list."""
    judged, sent = [], []
    for trial in range(trials):
        answers = []
        for sample in range(spec.samples):
            ex, result = first if trial == 0 and sample == 0 else exchange(body)
            if result.verdict is not Verdict.SUPPORTED:
                return [(ex, result), *sent]  # an answer that broke or was refused decides the cell as it is
            answers.append((ex, result))
            if sample:
                sent.append((ex, result))
        controls = []
        for control_body in control_bodies:
            got = []
            for _ in range(spec.samples):
                control, control_result = exchange(control_body)
                sent.append((control, replace(control_result, verdict=Verdict.SUPPORTED, findings=[])))  # counted, never deciding
                got.append(control if control_result.verdict is Verdict.SUPPORTED else replace(control, status=None, error=f"{control_result.verdict.value}: {control_result.reason}"))
            controls.append(got)
        ex, result = answers[0]
        provenance = Provenance.UPSTREAM if spec.kind == "beyond" else Provenance.DOCUMENTED  # beyond the page: OpenAI's field, not the page's
        judged.append((ex, with_effect(spec.effect, body, result, Seen([a for a, _ in answers], controls, spec.marks), provenance)))
    verdicts = [a.verdict for _, a in judged]
    counts = {v: verdicts.count(v) for v in set(verdicts)}
    if len(counts) == 1:
        ex, result = judged[0]
        rest = [(e, replace(a, verdict=Verdict.SUPPORTED)) for e, a in judged[1:]]
        return [(ex, replace(result, reason=f"{result.reason} ({trials}/{trials} trials alike)") if trials > 1 else result), *rest, *sent]
    observed = counts.get(Verdict.SUPPORTED, 0)
    ex, result = next((e, a) for e, a in judged if a.verdict is not Verdict.SUPPORTED)
    flaky = Finding(spec.effect or "effect", Severity.NOTE, f"the effect was observed in {observed} of {trials} trials "
                    f"({counts.get(Verdict.IGNORED, 0)} ignored, {counts.get(Verdict.UNVERIFIED, 0)} not observable); one that was not: {result.reason}")
    decided = replace(result, verdict=Verdict.FLAKY, reason=f"flaky {observed}/{trials}: {flaky.message}", findings=[*result.findings, flaky])
    return [(ex, decided), *[(e, replace(a, verdict=Verdict.SUPPORTED)) for e, a in judged if e is not ex], *sent]


def with_effect(name: str | None, body: dict, result: Assessment, seen: Seen, provenance: Provenance = Provenance.DOCUMENTED) -> Assessment:
    """Accepted and conforming: was the parameter's documented effect observed on the answers, against the
    control answers? Supported means observed; without an effect check, or when these answers or their
    controls cannot show it, the cell is unverified; an answer that contradicts the request is non-conforming."""
    if name is None:
        finding = Finding("effect", Severity.WARNING, "accepted and conforming; no check can observe this parameter's effect", provenance=provenance)
        return replace(result, verdict=Verdict.UNVERIFIED, reason=f"{result.reason}; effect not verified (no effect check for this parameter)", findings=[*result.findings, finding])
    try:
        control = seen.control
        if name in NEEDS_CONTROL and (control is None or control.status is None or not 200 <= control.status < 300):
            why = control.error if control is not None and control.error else (f"answered HTTP {control.status}" if control is not None else "not sent")
            raise Unobservable(f"the control request (the same without the parameter) was {why}")
        ignored = EFFECTS[name](body, seen)
    except Unobservable as why:
        finding = Finding(name, Severity.WARNING, f"effect not observable: {why}", provenance=provenance)
        return replace(result, verdict=Verdict.UNVERIFIED, reason=f"{result.reason}; effect not verified: {why}", findings=[*result.findings, finding])
    except Upstream as why:
        message, rule = why.args
        finding = Finding(name, Severity.NONCONFORMING, message, "$", Provenance.UPSTREAM, rule)
        observed = replace(result, reason=f"{result.reason}; effect observed ({name}, against the control)", findings=[*result.findings, finding])
        return replace(observed, verdict=Verdict.NONCONFORMING, reason=f"HTTP {seen.answer.status}, {message}") if finding.decides(result.strict) else observed
    except Contradicts as why:
        finding = Finding(name, Severity.NONCONFORMING, str(why), "$", Provenance.INTEGRITY, "integrity: the answer does what the request asked for where it says it does")
        return replace(result, verdict=Verdict.NONCONFORMING, reason=f"HTTP {seen.answer.status}, {why}", findings=[finding, *result.findings])
    if ignored:
        finding = Finding(name, Severity.NOTE, f"accepted but ignored: {ignored}", provenance=provenance)
        return replace(result, verdict=Verdict.IGNORED, reason=finding.message, findings=[*result.findings, finding])
    return replace(result, reason=f"{result.reason}; effect observed ({name}" + (", against the control" if name in NEEDS_CONTROL else "") + ")")


@dataclass(frozen=True)
class Rejection:
    """One request that the contract says must be refused (a negative or an auth case)."""

    name: str
    rule: Finding  # why it must be refused, with the rule's provenance (documented / upstream)
    body: Any = None  # JSON body, or None with `content`
    content: bytes | None = None  # raw bytes (malformed JSON)
    headers: dict = field(default_factory=dict)
    statuses: tuple[int, ...] | None = None  # None: any 4xx
    auth: bool = False
    security: bool = False  # accepting it is a security finding (a request without the valid key)
    shown: str | None = None  # how the request is described in evidence (credentials never shown)


def run_rejection_cell(
    client: httpx.Client,
    method: str,
    url: str,
    case: Rejection,
    *,
    target: str,
    model: str | None,
    route: str,
    judging: Judging = Judging(),
) -> Cell:
    parameter = f"{'auth' if case.auth else 'negative'}: {case.name}"
    kind = "auth" if case.auth else "negative"
    spent = judging.refusal(route, model, 1)
    if spent:
        return Cell.untested(target, model, route, parameter, spent, kind=kind)
    ex = send(client, method, url, case.body, content=case.content, headers=case.headers, timeout=judging.timeout)
    result = judging.rules.judge_rejection(ex, case.rule, case.statuses, auth=case.auth, security=case.security)
    request = {"method": method, "url": url, "body": ex.body}
    if case.shown:
        request["credentials"] = case.shown
    return Cell.judged(target, model, route, parameter, result, ex, kind=kind, request=request)


def _as_example(ex: Exchange, result: Assessment) -> tuple[Exchange, Assessment]:
    """Behind a supported probe, a refusal of a schema-valid example is a contract deviation."""
    if result.verdict is Verdict.UNSUPPORTED:
        finding = Finding("valid_request_accepted", Severity.NONCONFORMING, f"refused a request the documented schema allows: {result.reason}",
                          rule="the request is valid against the documented request schema (and upstream's)")
        return ex, replace(result, verdict=Verdict.NONCONFORMING, reason=finding.message, findings=[finding, *result.findings])
    return ex, result


def _deciding(results: list[tuple[Exchange, Assessment]]) -> tuple[Exchange, Assessment]:
    verdict = worst(a.verdict for _, a in results)
    return next((ex, a) for ex, a in results if a.verdict is verdict)


def _unique(items) -> list[dict]:
    out, seen = [], set()
    for item in items:
        key = (item["check"], item["message"])
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out
