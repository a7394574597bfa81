"""The derived schemas at run time: loaded once, compiled once, reused for every body and SSE event."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import jsonschema
from referencing import Registry, Resource

from anyint_conformance.derive import ID_BASE, SCHEMAS_DIR


@dataclass(frozen=True)
class Violation:
    """The first way a body breaks a schema: a JSON path a reader can follow and a message."""

    path: str
    message: str
    schema_path: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def json_path(parts) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@lru_cache(maxsize=1)
def load_schemas(schemas_dir: Path = SCHEMAS_DIR) -> dict[str, dict]:
    """Every committed schemas/<id>.json by id (the OpenAPI document is not a schema)."""
    out = {}
    for path in sorted(schemas_dir.glob("*.json")):
        if path.stem != "openapi":
            out[path.stem] = json.loads(path.read_text())
    return out


@lru_cache(maxsize=1)
def _registry() -> Registry:
    resources = [(s["$id"], Resource.from_contents(s)) for s in load_schemas().values()]
    return Registry().with_resources(resources)


@lru_cache(maxsize=None)
def validator(schema_id: str) -> jsonschema.protocols.Validator:
    """The compiled validator for one schema id, built on first use and cached for the process."""
    schemas = load_schemas()
    if schema_id not in schemas:
        raise KeyError(f"no schema {schema_id!r} under schemas/ (known: {', '.join(sorted(schemas))})")
    cls = jsonschema.validators.validator_for(schemas[schema_id])
    return cls(schemas[schema_id], registry=_registry())


def first_violation(schema_id: str, instance: Any) -> Violation | None:
    """The most relevant error (jsonschema's best_match), or None when the instance conforms."""
    error = jsonschema.exceptions.best_match(validator(schema_id).iter_errors(instance))
    if error is None:
        return None
    return Violation(json_path(error.absolute_path), error.message, "/".join(map(str, error.absolute_schema_path)))


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


def _component_refs(node: Any) -> Any:
    """Rewrite registry URIs (…/chat.message.json) into OpenAPI component refs (#/components/schemas/chat.message)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(ID_BASE):
                out[key] = "#/components/schemas/" + value[len(ID_BASE) :].removesuffix(".json")
            elif key in ("$id", "$schema"):
                continue
            else:
                out[key] = _component_refs(value)
        return out
    if isinstance(node, list):
        return [_component_refs(v) for v in node]
    return node


# Non-JSON response bodies an operation may declare instead of a schema id.
_MEDIA_KIND_SCHEMAS = {"binary": {"type": "string", "format": "binary"}, "text": {"type": "string"}}


def _response_schema(target: str | list[str]) -> dict:
    """A schema id -> component ref; a list -> any of them; binary / text -> a string schema."""
    if isinstance(target, list):
        return {"anyOf": [_response_schema(t) for t in target]}
    if target in _MEDIA_KIND_SCHEMAS:
        return dict(_MEDIA_KIND_SCHEMAS[target])
    return {"$ref": f"#/components/schemas/{target}"}


def openapi_document(schemas: dict[str, dict], operations: list[dict], overrides: dict | None = None) -> dict:
    """A minimal OpenAPI 3.1 document over the derived schemas.

    `overrides` replaces request schemas by id (the cost overlay narrows a request schema before generation).
    Path parameters are strings in the path; an operation without `request` has no request body; a
    multipart request body carries its file fields as `{type: string, format: binary}`.
    """
    overrides = overrides or {}
    components = {sid: _component_refs(copy.deepcopy(overrides.get(sid, s))) for sid, s in schemas.items()}
    paths: dict[str, dict] = {}
    for op in operations:
        method = op["method"].lower()
        entry: dict[str, Any] = {
            "operationId": f"{method}{op['path'].replace('/', '_').replace('{', '').replace('}', '')}",
            "responses": {
                "200": {
                    "description": "success",
                    "content": {mt: {"schema": _response_schema(target)} for mt, target in op["responses"].items()},
                },
                "default": {
                    "description": "error envelope",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/error"}}},
                },
            },
        }
        if op.get("path_parameters"):
            entry["parameters"] = [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    **{f"x-{key}": value for key, value in (facts or {}).items() if key in ("documented", "inferred")},
                }
                for name, facts in op["path_parameters"].items()
            ]
        if op.get("request"):
            media = op.get("request_media_type", "application/json")
            entry["requestBody"] = {
                "required": True,
                "content": {media: {"schema": {"$ref": f"#/components/schemas/{op['request']}"}}},
            }
        for key in ("documented", "inferred"):
            if key in op:
                entry[f"x-{key}"] = op[key]
        paths.setdefault(op["path"], {})[method] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AnyInt OpenAI-compatible gateway (derived from the documented field tables)",
            "version": "derived",
        },
        "servers": [{"url": "https://gateway.api.anyint.ai/openai/v1"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
