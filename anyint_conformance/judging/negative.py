"""Invalid requests derived from a valid one: one named mutation each, so each is its own cell.

Mutations start from the suite's valid probe (model pinned, max_tokens bounded): a server that wrongly
accepts one still generates at most a few tokens, never to its context limit. Each mutation knows the
rule it breaks and where that rule comes from: the request schema's layers decide (documented: the page
forbids it, so accepting it is `accepted`; upstream only: `lenient`), and the few mutations no schema can
express declare their rule.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any, Callable

from anyint_conformance.judging.cells import Rejection
from anyint_conformance.contract.schemas import violations
from anyint_conformance.model.verdicts import Finding, Provenance, Severity

if TYPE_CHECKING:
    from anyint_conformance.wire.transport import Exchange

_ABSENT = object()
_NOT_JSON_RULE = Finding(
    "negative", Severity.NONCONFORMING, "the body is not JSON, so it carries none of the required fields", provenance=Provenance.DOCUMENTED,
    rule='the pages: "Content-Type: application/json" and the request rows marked Required "Yes" (model, ...)',
)


def declared(message: str, rule: str, provenance: Provenance = Provenance.UPSTREAM) -> Finding:
    """The rule of a mutation that no schema layer can express (e.g. an unknown model)."""
    return Finding("negative", Severity.NONCONFORMING, message, provenance=provenance, rule=rule)


def drop(field: str) -> "Mutation":
    return Mutation(f"missing {field}", field, _ABSENT)


def replace(field: str, value: Any, name: str | None = None, rule: Finding | None = None) -> "Mutation":
    return Mutation(name or f"{field} = {json.dumps(value)[:30]}", field, value, rule=rule)


def malformed_json() -> "Mutation":
    return Mutation("malformed JSON", None, None, raw=lambda body: json.dumps(body).encode()[:-1], rule=_NOT_JSON_RULE)


def content_type(value: str) -> "Mutation":
    rule = declared(f"a {value} body where JSON is expected", "upstream OpenAI: request bodies are application/json (the pages show the header, not a refusal)")
    return Mutation(f"content type {value}", None, None, raw=lambda body: json.dumps(body).encode(), headers={"Content-Type": value}, rule=rule)


# A value of the wrong JSON type for each documented type.
_WRONG_TYPE = {"string": 12345, "integer": "eight", "number": "high", "boolean": "yes", "array": "not-a-list", "object": "not-an-object"}


def from_schema(schema: dict) -> list["Mutation"]:
    """Invalid variants of a valid body, derived from a request schema (its upstream layer, which carries
    every fact): each required field dropped and given a wrong type, each enum given an unknown value,
    plus malformed JSON and a wrong content type. Every mutation changes one thing."""
    props = schema.get("properties", {})
    out = []
    for name in schema.get("required", []):
        out.append(drop(name))
        kind = props.get(name, {}).get("type")
        if isinstance(kind, str) and kind in _WRONG_TYPE:
            out.append(replace(name, _WRONG_TYPE[kind], f"{name} of the wrong type"))
    for name, prop in props.items():
        if "enum" in prop:
            out.append(replace(name, "anyint-conformance-unknown", f"unknown {name}"))
    return out + [malformed_json(), content_type("text/plain")]


class Mutation:
    def __init__(self, name: str, field: str | None, value: Any, raw=None, headers: dict | None = None, rule: Finding | None = None):
        self.name, self.field, self.value, self.raw, self.headers, self.declared = name, field, value, raw, headers or {}, rule

    def __repr__(self) -> str:  # pytest ids
        return self.name

    def mutated(self, valid: dict) -> dict:
        body = dict(valid)
        if self.field is not None:
            if self.value is _ABSENT:
                body.pop(self.field, None)
            else:
                body[self.field] = self.value
        return body

    def rule(self, operation: dict, valid: dict) -> Finding:
        """The rule this mutation breaks: the first layer of the request schema that rejects it, else its declared rule."""
        if self.declared is not None:
            return self.declared
        found = violations(operation["request"], self.mutated(valid))
        if not found:
            raise ValueError(f"mutation {self.name!r} breaks no rule of {operation['request']}: declare the rule it breaks")
        v = found[0]
        provenance = Provenance.UPSTREAM if v.layer == "upstream" else (Provenance.INFERRED if v.inferred else Provenance.DOCUMENTED)
        return Finding("negative", Severity.NONCONFORMING, f"{v.path}: {v.message}", v.path, provenance, v.rule)

    def apply(self, operation: dict, valid: dict) -> Rejection:
        body = self.mutated(valid)
        rule = self.rule(operation, valid)
        if self.raw is not None:
            headers = {"Content-Type": "application/json", **self.headers}
            return Rejection(self.name, rule, content=self.raw(body), headers=headers)
        return Rejection(self.name, rule, body=body)


MISSING_ROUTE = (404, 405, 501)


class RouteGates:
    """Whether invalid requests to a route are worth sending for a model: not when its valid request was
    answered 404/405/501 (the route or model does not exist for it). One probe per (target, model, route),
    sent once whichever test asks first and whatever the threads do, so the outcome depends neither on
    test order nor on concurrency."""

    def __init__(self):
        self._gates: dict[tuple, str | None] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()

    def gate(self, key: tuple, route: str, probe: Callable[[], "Exchange"]) -> str | None:
        """Why the route's invalid requests are not sent (`probe` sends its valid request), or None."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._gates:
                ex = probe()
                missing = ex.status in MISSING_ROUTE
                self._gates[key] = f"the valid request to {route} was answered HTTP {ex.status}: the route is not there for this model" if missing else None
            return self._gates[key]
