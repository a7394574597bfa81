"""One matrix cell (target x model x route [x parameter]): probe first, Hypothesis examples only if supported.

No pytest and no cassettes here: the plugin supplies an httpx client (recording, replaying or live)
and receives a `Cell`. Cost rule: one minimal probe settles an unsupported or broken cell; the
generated examples run only behind a supported probe.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

import httpx

from anyint_conformance import generate
from anyint_conformance.checks import (
    EFFECTS,
    Assessment,
    Expect,
    Finding,
    Severity,
    Unobservable,
    Verdict,
    assess,
    assess_rejection,
    worst,
)
from anyint_conformance.transport import NO_RETRY, Exchange, RetryPolicy, send


@dataclass
class Cell:
    target: str
    model: str | None
    route: str  # "POST /chat/completions"
    parameter: str | None  # e.g. "stream": the variant this cell varies, None for the route itself
    verdict: str
    reason: str
    status: int | None = None
    violation: dict | None = None  # first broken / non-conforming finding, with its JSON path
    warnings: list[dict] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)
    request: dict | None = None  # the deciding request (secrets are scrubbed when reports are written)
    exchanges: int = 0  # requests sent for this cell
    examples: int = 0  # generated examples among them
    test: str | None = None  # pytest node id
    cassette: str | None = None  # where the evidence sits, when recorded or replayed
    interaction: int | None = None  # index of the deciding request in that cassette
    kind: str = "route"  # route | parameter | negative | auth
    security: bool = False  # an auth cell answered without valid credentials

    @property
    def key(self) -> tuple:
        return (self.target, self.model or "", self.route, self.parameter or "")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CellSpec:
    """What a suite declares for one cell: the route, the probe, what is pinned and how to generate."""

    operation: dict
    probe: dict  # a minimal valid body, model excluded
    expect: Expect
    parameter: str | None = None
    pinned: dict = field(default_factory=dict)  # fields fixed for probe and examples (e.g. stream)
    overlay: dict | None = None
    kind: str = "route"  # route | parameter
    effect: str | None = None  # a checks.EFFECTS name: the observable effect the docs promise
    generate: bool = True  # run Hypothesis examples behind a supported probe
    files: dict | None = None  # multipart uploads {field: (filename, bytes, content type)}; body = form fields

    @property
    def route(self) -> str:
        return f"{self.operation['method']} {self.operation['path']}"

    def capped(self, cap: int) -> "CellSpec":
        """The spec with max_tokens bounded by `cap` in the probe and in the schema examples are drawn from."""
        probe, overlay = self.probe, self.overlay
        if "max_tokens" in probe:
            probe = {**probe, "max_tokens": min(probe["max_tokens"], cap)}
        if overlay and "max_tokens" in overlay.get("properties", {}):
            bound = overlay["properties"]["max_tokens"]
            overlay = generate.merge_patch(overlay, {"properties": {"max_tokens": {"maximum": min(bound.get("maximum", cap), cap), "minimum": min(bound.get("minimum", 1), cap)}}})
        return replace(self, probe=probe, overlay=overlay)


def run_cell(
    client: httpx.Client,
    url: str,
    spec: CellSpec,
    *,
    target: str,
    model: str,
    examples: int,
    seed: int,
    timeout: float,
    retry: RetryPolicy = NO_RETRY,
    on_exchange: Callable[[Exchange], None] | None = None,
) -> Cell:
    pinned = {"model": model, **spec.pinned}
    probe_body = {**spec.probe, **pinned}
    uploads = {name: "<binary>" for name in spec.files or {}}  # what the schema sees of a file field
    generate.check_request(spec.operation, {**probe_body, **uploads})

    def exchange(body: dict) -> tuple[Exchange, Assessment]:
        ex = send(client, spec.operation["method"], url, body, stream=bool(body.get("stream")), timeout=timeout, retry=retry, files=spec.files)
        if on_exchange:
            on_exchange(ex)
        return ex, assess(ex, spec.expect)

    results = [exchange(probe_body)]
    if spec.effect and results[0][1].verdict is Verdict.SUPPORTED:
        results[0] = (results[0][0], _with_effect(spec.effect, probe_body, *results[0]))
    drawn = 0
    if spec.generate and results[0][1].verdict is Verdict.SUPPORTED:
        bodies = generate.draw_bodies(
            spec.operation, spec.overlay, pinned, examples, generate.cell_seed(target, model, spec.route, spec.parameter or "", base=seed), uploads
        )
        drawn = len(bodies)
        results += [_as_example(*exchange(body)) for body in bodies]
    decided_ex, decided = _deciding(results)
    return Cell(
        target=target,
        model=model,
        route=spec.route,
        parameter=spec.parameter,
        verdict=decided.verdict.value,
        reason=decided.reason,
        status=decided_ex.status,
        violation=decided.first_violation.to_dict() if decided.first_violation else None,
        warnings=_unique(f.to_dict() for _, a in results for f in a.warnings),
        notes=_unique(f.to_dict() for _, a in results for f in a.notes),
        request={"method": decided_ex.method, "url": decided_ex.url, "body": decided_ex.body},
        exchanges=sum(ex.attempts for ex, _ in results),  # retried 429s count: each is a request sent
        examples=drawn,
        kind=spec.kind,
    )


def _with_effect(name: str, body: dict, ex: Exchange, result: Assessment) -> Assessment:
    """Accepted and conforming: is the parameter's documented effect observable in the answer?"""
    try:
        ignored = EFFECTS[name](body, ex)
    except Unobservable as why:
        finding = Finding(name, Severity.WARNING, f"effect not observable: {why}")
        return Assessment(result.verdict, result.reason, [*result.findings, finding])
    if ignored:
        finding = Finding(name, Severity.NOTE, f"accepted but ignored: {ignored}")
        return Assessment(Verdict.IGNORED, finding.message, [*result.findings, finding])
    return Assessment(result.verdict, f"{result.reason}; effect observed ({name})", result.findings)


@dataclass(frozen=True)
class Rejection:
    """One request that the contract says must be refused (a negative or an auth case)."""

    name: str
    body: Any = None  # JSON body, or None with `content`
    content: bytes | None = None  # raw bytes (malformed JSON)
    headers: dict = field(default_factory=dict)
    statuses: tuple[int, ...] | None = None  # None: any 4xx
    auth: bool = False
    shown: str | None = None  # how the request is described in evidence (credentials never shown)


def run_rejection_cell(
    client: httpx.Client,
    method: str,
    url: str,
    case: Rejection,
    expect: Expect,
    *,
    target: str,
    model: str | None,
    route: str,
    timeout: float,
    retry: RetryPolicy = NO_RETRY,
) -> Cell:
    ex = send(client, method, url, case.body, content=case.content, headers=case.headers, timeout=timeout, retry=retry)
    result = assess_rejection(ex, expect, case.statuses, auth=case.auth)
    request = {"method": method, "url": url, "body": ex.body}
    if case.shown:
        request["credentials"] = case.shown
    return Cell(
        target=target,
        model=model,
        route=route,
        parameter=f"{'auth' if case.auth else 'negative'}: {case.name}",
        verdict=result.verdict.value,
        reason=result.reason,
        status=ex.status,
        violation=result.first_violation.to_dict() if result.first_violation else None,
        notes=[f.to_dict() for f in result.notes],
        request=request,
        exchanges=ex.attempts,
        kind="auth" if case.auth else "negative",
        security=case.auth and result.verdict is Verdict.ACCEPTED,
    )


def _as_example(ex: Exchange, result: Assessment) -> tuple[Exchange, Assessment]:
    """Behind a supported probe, a refusal of a schema-valid generated body is a contract deviation."""
    if result.verdict is Verdict.UNSUPPORTED:
        finding = Finding("valid_request_accepted", Severity.NONCONFORMING, f"refused a request the documented schema allows: {result.reason}")
        return ex, Assessment(Verdict.NONCONFORMING, finding.message, [finding, *result.findings])
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
