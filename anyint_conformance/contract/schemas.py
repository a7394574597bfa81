"""The derived schemas at run time: loaded once, compiled once, reused for every body and SSE event.

Two layers (see derive.py): `documented` (schemas/<id>.json: the page and our reading of it) and
`upstream` (schemas/upstream/<id>.json: plus OpenAI's own facts). A violation says which layer it
broke and quotes the rule: the page's row, or the upstream name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import jsonschema
from referencing import Registry, Resource

from anyint_conformance.contract.derive import DOCUMENTED, LAYER_DIRS, SCHEMAS_DIR, UPSTREAM, response_targets


@dataclass(frozen=True)
class Violation:
    """The first way a body breaks a schema: a JSON path a reader can follow, a message, and the rule."""

    path: str
    message: str
    schema_path: str
    layer: str = DOCUMENTED
    rule: str | None = None  # the quoted row of the page, or the upstream name
    inferred: bool = False  # documented layer: the rule is our reading of the row's wording (said in the rule)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def json_path(parts) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@lru_cache(maxsize=None)
def load_schemas(layer: str = DOCUMENTED, schemas_dir: Path = SCHEMAS_DIR) -> dict[str, dict]:
    """Every committed schema of one layer by id (the OpenAPI document is not a schema)."""
    out = {}
    for path in sorted((schemas_dir / LAYER_DIRS[layer]).glob("*.json")):
        if path.stem != "openapi":
            out[path.stem] = json.loads(path.read_text())
    return out


@lru_cache(maxsize=None)
def _registry(layer: str) -> Registry:
    resources = [(s["$id"], Resource.from_contents(s)) for s in load_schemas(layer).values()]
    return Registry().with_resources(resources)


@lru_cache(maxsize=None)
def validator(schema_id: str, layer: str = DOCUMENTED) -> jsonschema.protocols.Validator:
    """The compiled validator for one schema id and layer, built on first use and cached for the process."""
    schemas = load_schemas(layer)
    if schema_id not in schemas:
        raise KeyError(f"no schema {schema_id!r} under schemas/ (known: {', '.join(sorted(schemas))})")
    cls = jsonschema.validators.validator_for(schemas[schema_id])
    return cls(schemas[schema_id], registry=_registry(layer))


@lru_cache(maxsize=None)
def fast_validator(schema_id: str, layer: str = DOCUMENTED):
    """jsonschema-rs over the same schemas: the fast yes; Python jsonschema explains a no (best_match, paths)."""
    import jsonschema_rs

    schemas = load_schemas(layer)
    registry = jsonschema_rs.Registry([(s["$id"], s) for s in schemas.values()])
    return jsonschema_rs.validator_for(schemas[schema_id], registry=registry)


def _fast_valid(schema_id: str, layer: str, instance: Any) -> bool:
    try:
        return fast_validator(schema_id, layer).is_valid(instance)
    except (ValueError, TypeError):  # not plain JSON (e.g. a generated upload): the Python validator decides
        return False


def first_violation(schema_id: str, instance: Any, layer: str = DOCUMENTED) -> Violation | None:
    """The most relevant error (jsonschema's best_match), or None when the instance conforms."""
    if _fast_valid(schema_id, layer, instance):
        return None
    error = jsonschema.exceptions.best_match(validator(schema_id, layer).iter_errors(instance))
    if error is None:
        return None
    missing = None
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = next((name for name in error.validator_value if name not in error.instance), None)
    path = list(error.absolute_path) + ([missing] if missing else [])
    rule, inferred = rule_at(schema_id, path, layer, error.validator)
    return Violation(json_path(error.absolute_path), error.message, "/".join(map(str, error.absolute_schema_path)), layer, rule, inferred)


def violations(schema_id: str, instance: Any) -> list[Violation]:
    """The first documented violation, then the first upstream-only one (the upstream layer includes the
    documented one, so it is reported only when the documented layer holds)."""
    if _fast_valid(schema_id, UPSTREAM, instance):
        return []  # the upstream layer holds the documented one: valid there, valid everywhere
    documented = first_violation(schema_id, instance, DOCUMENTED)
    if documented is not None:
        return [documented]
    upstream = first_violation(schema_id, instance, UPSTREAM)
    return [upstream] if upstream is not None else []


def rule_at(schema_id: str, path: list, layer: str = DOCUMENTED, keyword: str | None = None) -> tuple[str | None, bool]:
    """The rule behind the schema node at an instance path, and whether it is our reading: the page's row
    (field, meaning, our reading) for the documented layer, the upstream name for the upstream layer. A
    breach of what the row itself states (its Required cell, its Type cell) is documented; of anything
    else the row implies, our reading, and the rule says so."""
    node, annotated, field = load_schemas(layer)[schema_id], None, []
    for part in [None, *path]:
        if part is not None:
            node = _child(node, part, layer)
            if node is None:
                break
            if isinstance(part, str):
                field.append(part)
            elif field:
                field[-1] += "[]"
        if "x-source" in node:
            annotated = (node, ".".join(field))
    if annotated is None:
        return None, False
    node, name = annotated
    if layer == UPSTREAM:
        source = (node.get("x-upstream") or {}).get("source") or (node.get("x-inferred") or {}).get("source")
        if source:
            return f"upstream OpenAI: {source}", False
    text = f"{node['x-source']}: {name or '(body)'}"
    cells = [f"{key} {node[f'x-{key}']}" for key in ("type", "required") if f"x-{key}" in node]
    if cells:
        text += f" ({', '.join(cells)})"
    if node.get("description"):
        text += f' — "{node["description"]}"'
    stated = (keyword == "required" and "x-required" in node) or (keyword == "type" and "x-type" in node and node.get("x-documented"))
    why = (node.get("x-inferred") or {}).get("why")
    if why and node.get("x-provenance") == "page" and not stated:
        return text + f" (our reading: {why})", True
    return text, False


def _child(node: dict, part: Any, layer: str) -> dict | None:
    node = _deref(node, layer)
    if isinstance(part, int):
        items = node.get("items")
        if items is None:
            items = next((b.get("items") for b in node.get("anyOf", []) if isinstance(b, dict) and "items" in b), None)
        return _deref(items, layer) if isinstance(items, dict) else None
    prop = node.get("properties", {}).get(part)
    return _deref(prop, layer) if isinstance(prop, dict) else None


def _deref(node: dict, layer: str) -> dict:
    ref = node.get("$ref") if isinstance(node, dict) else None
    if isinstance(ref, str):
        return load_schemas(layer)[ref.rsplit("/", 1)[-1].removesuffix(".json")]
    return node


def missing_when_available(schema_id: str, instance: Any) -> list[str]:
    """JSON paths of fields the docs mark 'when available' that the instance leaves out (warnings)."""
    return sorted(set(_walk_when_available(load_schemas()[schema_id], instance, "$")))


def _walk_when_available(schema: dict, instance: Any, path: str) -> Iterator[str]:
    if isinstance(instance, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in instance:
                yield from _walk_when_available(sub, instance[name], f"{path}.{name}")
            elif sub.get("x-when-available"):
                yield f"{path}.{name}"
            elif "properties" in sub and any(p.get("x-when-available") for p in sub["properties"].values()):
                # a parent that exists only to carry "when available" fields: its absence hides them all
                yield from (f"{path}.{name}.{child}" for child in sub["properties"])
    elif isinstance(instance, list) and "items" in schema:
        for i, item in enumerate(instance):
            yield from _walk_when_available(schema["items"], item, f"{path}[{i}]")


@lru_cache(maxsize=1)
def openapi() -> dict:
    """The committed OpenAPI document (schemas/openapi.json), read once."""
    return json.loads((SCHEMAS_DIR / "openapi.json").read_text())


@lru_cache(maxsize=1)
def _operations() -> dict[tuple[str, str], dict]:
    return {(op["x-operation"]["method"], path): op["x-operation"] for path, item in openapi()["paths"].items() for op in item.values()}


def operation(path: str, method: str = "POST") -> dict:
    """The documented operation for a method and path, as the tables declare it."""
    try:
        return _operations()[(method, path)]
    except KeyError:
        raise LookupError(f"no table under schemas/tables/ declares {method} {path}") from None


def answer_for(operation: dict, body: Any) -> tuple[str, str]:
    """(media type, schema id | binary | text) the operation answers this request with: the first entry
    whose `when` matches the request, else the first entry without a `when`."""
    body = body if isinstance(body, dict) else {}
    entries = [(media, e) for media, target in operation["responses"].items() for e in response_targets(target)]
    for media, entry in entries:
        if entry["when"] and all(_matches(body.get(k), v) for k, v in entry["when"].items()):
            return media, entry["schema"]
    media, entry = next((m, e) for m, e in entries if not e["when"])
    return media, entry["schema"]


def _matches(value: Any, wanted: Any) -> bool:
    return value in wanted if isinstance(wanted, list) else value == wanted
