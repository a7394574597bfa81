"""Invalid requests derived from a valid one: one named mutation each, so each is its own cell.

Mutations start from the suite's valid probe (model pinned, max_tokens bounded): a server that wrongly
accepts one still generates at most a few tokens, never to its context limit.
"""

from __future__ import annotations

import json
from typing import Any

from anyint_conformance.cells import Rejection

_ABSENT = object()


def drop(field: str) -> "Mutation":
    return Mutation(f"missing {field}", field, _ABSENT)


def replace(field: str, value: Any, name: str | None = None) -> "Mutation":
    return Mutation(name or f"{field} = {json.dumps(value)[:30]}", field, value)


def malformed_json() -> "Mutation":
    return Mutation("malformed JSON", None, None, raw=lambda body: json.dumps(body).encode()[:-1])


def content_type(value: str) -> "Mutation":
    return Mutation(f"content type {value}", None, None, raw=lambda body: json.dumps(body).encode(), headers={"Content-Type": value})


# A value of the wrong JSON type for each documented type.
_WRONG_TYPE = {"string": 12345, "integer": "eight", "number": "high", "boolean": "yes", "array": "not-a-list", "object": "not-an-object"}


def from_schema(schema: dict) -> list["Mutation"]:
    """Invalid variants of a valid body, derived from its documented request schema: each required field
    dropped and given a wrong type, each enum given an unknown value, plus malformed JSON and a wrong
    content type. Every mutation changes one thing."""
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
    def __init__(self, name: str, field: str | None, value: Any, raw=None, headers: dict | None = None):
        self.name, self.field, self.value, self.raw, self.headers = name, field, value, raw, headers or {}

    def __repr__(self) -> str:  # pytest ids
        return self.name

    def apply(self, valid: dict) -> Rejection:
        body = dict(valid)
        if self.field is not None:
            if self.value is _ABSENT:
                body.pop(self.field, None)
            else:
                body[self.field] = self.value
        if self.raw is not None:
            headers = {"Content-Type": "application/json", **self.headers}
            return Rejection(self.name, content=self.raw(body), headers=headers)
        return Rejection(self.name, body=body)
