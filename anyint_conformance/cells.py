"""One matrix cell (target x model x route [x parameter]): probe first, Hypothesis examples only if supported.

No pytest and no cassettes here: the plugin supplies an httpx client (recording, replaying or live)
and receives a `Cell`. Cost rule: one minimal probe settles an unsupported or broken cell; the
generated examples run only behind a supported probe.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import httpx

from anyint_conformance import generate
from anyint_conformance.checks import Assessment, Expect, Finding, Severity, Verdict, assess, worst
from anyint_conformance.transport import Exchange, send


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

    @property
    def route(self) -> str:
        return f"{self.operation['method']} {self.operation['path']}"


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
    on_exchange: Callable[[Exchange], None] | None = None,
) -> Cell:
    pinned = {"model": model, **spec.pinned}
    probe_body = {**spec.probe, **pinned}
    generate.check_request(spec.operation, probe_body)

    def exchange(body: dict) -> tuple[Exchange, Assessment]:
        ex = send(client, spec.operation["method"], url, body, stream=bool(body.get("stream")), timeout=timeout)
        if on_exchange:
            on_exchange(ex)
        return ex, assess(ex, spec.expect)

    results = [exchange(probe_body)]
    drawn = 0
    if results[0][1].verdict is Verdict.SUPPORTED:
        bodies = generate.draw_bodies(
            spec.operation, spec.overlay, pinned, examples, generate.cell_seed(target, model, spec.route, spec.parameter or "", base=seed)
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
        exchanges=len(results),
        examples=drawn,
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
