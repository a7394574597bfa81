"""A client cell: does the client library work against this target and model? Judged from what the replay
server served (every answer judged like any other: status, schema, SDK, integrity, the reflected key) and
from what the client did with it:

  an answer refused (4xx)                     unsupported: the client's error is the evidence
  a 5xx, a timeout, a cut connection          broken
  2xx, and the client raised                  non-conforming (the client's own error message decides: sdk)
  2xx, a forced tool call, no call answered   ignored (the client's error, if it raised on it, is the evidence)
  2xx, and the client handed its result over  supported
"""

from __future__ import annotations

from dataclasses import replace

from anyint_conformance.clients.flows import Flow, Result, version
from anyint_conformance.contract.schemas import operation
from anyint_conformance.judging.checks import Assessment, Expect, Rules, tool_calls_of
from anyint_conformance.model.verdicts import Cell, Finding, Provenance, Severity, Verdict, worst
from anyint_conformance.wire.transport import Exchange

ROUTE = "POST /chat/completions"


def client_cell(target: str, model: str, flow: Flow, result: Result, served: list[Exchange], rules: Rules) -> Cell:
    library = version(flow.client)
    said = f"{library}: {flow.what}"
    judged = [(ex, rules.judge(ex, Expect.for_request(operation("/chat/completions"), ex.body))) for ex in served if ex.url.endswith("/chat/completions")]
    if not judged:
        why = f"the client sent no request: {result.error}" if result.error else "the client sent no request"
        return Cell.untested(target, model, ROUTE, flow.parameter, why, kind="client")
    security = any(a.security for _, a in judged)
    ex, answer = next(((e, a) for e, a in judged if a.verdict is worst(x.verdict for _, x in judged)), judged[-1])
    evidence = Finding("client", Severity.NOTE, f"{library}: " + (f"raised {result.error}" if result.error else f"handed over {_summary(result)}"),
                       provenance=Provenance.SDK, rule=said)
    if answer.verdict is not Verdict.SUPPORTED or security:  # refused, broken, or an answer that breaks a rule: the answer decides
        return _cell(target, model, flow, replace(answer, findings=[*answer.findings, evidence], security=security), ex, len(served))
    if flow.calls_tool and not any(tool_calls_of(e) for e, _ in judged):
        reason = f"the answer has no tool call (tool choice forced); {library} " + (f"raised {result.error}" if result.error else "handed over no call")
        return _cell(target, model, flow, Assessment(Verdict.IGNORED, reason, [evidence], rules.strict), ex, len(served))
    if not result.ok:
        broke = Finding("client", Severity.NONCONFORMING, f"{library} raised {result.error}", "$", Provenance.SDK, said)
        return _cell(target, model, flow, Assessment(Verdict.NONCONFORMING, f"HTTP {ex.status}, {broke.message}", [broke, *answer.findings], rules.strict), ex, len(served))
    return _cell(target, model, flow, Assessment(Verdict.SUPPORTED, f"{library} worked: {_summary(result)}", [*answer.findings, evidence], rules.strict), ex, len(served))


def _cell(target, model, flow, result, ex, sent) -> Cell:
    return Cell.judged(target, model, ROUTE, flow.parameter, result, ex, kind="client", exchanges=sent)


def _summary(result: Result) -> str:
    parts = []
    if result.tool_calls:
        parts.append("tool calls " + ", ".join(f"{c['name']}({str(c['arguments'])[:40]})" for c in result.tool_calls))
    if result.chunks:
        parts.append(f"{result.chunks} chunks")
    parts.append(f"{len(result.text)} characters of text")
    return ", ".join(parts)
