"""Build step: documented field tables (schemas/tables/*.yaml) -> JSON Schema 2020-12 (schemas/*.json).

The mapping of the page's wording is deliberately small and explicit; wording it does not know
is an error, never a guess:
  type      "string" / "integer" / "number" / "boolean" / "array" / "object", and "A or B" -> anyOf;
            "file" (a multipart upload) -> {"type": "string", "format": "binary"} (OpenAPI's convention)
  required  "Yes" -> required, "No" -> optional, "Usually" -> optional (kept as x-required),
            anything else needs an `inferred.required_when` condition -> if/then
  meaning   "when available" / "when returned" -> optional, and its absence is a warning (x-when-available)
  field     dotted response paths (choices[].message.content) -> nested object/array schemas

A request row whose page gives no type or required wording (the page only names the field) takes
`inferred.type` (same words, or a list of them) and `inferred.required` (a boolean) instead; `x-type`
and `x-required` record the page's wording only, so they are absent then. Inferred constraints a row
may carry (request and response): `enum`, `minimum`, `maximum`, `min_length`, `max_length`, `items`
(a schema id -> $ref, or a schema), `min_items`, `nullable`; response rows also `const` and
`requires_one_of` (the object, or each item of a `[]` row, must carry at least one of the listed fields).

Operations (`operations:` in a table source), one per method and path:
  method, path            as on the page; `{name}` segments are path parameters
  path_parameters         {name: {documented: bool, inferred: {why:/source:}}} for every `{name}` in the path
  request                 request schema id; absent -> no request body
  request_media_type      application/json (default) or multipart/form-data
  model                   true (default): the body carries the model under test (the suite pins it);
                          false: the route takes no model (files, lookups) and is tested once per target
  responses               {media type: target | [targets]}; a target is a schema id, binary (raw bytes),
                          text (a plain string body), or {schema: <one of those>, when: {field: value
                          | [values]}} when the request picks the answer's shape (null = field absent)
  checks                  further named checks every answer of the route must pass (checks.CHECKS)
  documented / inferred   `documented: false` for a route the page does not list; `inferred:` with
                          `why:`/`source:` for what the page leaves out (e.g. the method)

Two layers, so that every violation can say where its rule comes from:
  documented  schemas/<id>.json: what the page states, and our reading of its wording. A row's
              `inferred:` block belongs here when it is a reading of the page (`why:` and no `source:`,
              or `from: page`); such findings decide verdicts.
  upstream    schemas/upstream/<id>.json: the documented layer plus the upstream OpenAI API's facts
              (an `inferred:` block with a `source:`, and every row's `upstream:` block). The pages say
              these routes "generally follow" upstream; such findings decide only in strict mode.
              Requests are generated from this layer, so they are valid in both.
Relaxing facts (`nullable: true`) apply to both layers: null and absent are different facts, and OpenAI's
own nulls are never a documented violation. A fact may differ per derived schema of one table
(`{schema id: value}`), e.g. the `object` constant of a completion and of a chunk.

Response tables name each derived schema with its purpose, or with `{purpose, sdk}`: the official
`openai` type that must parse such a body (written as `x-sdk`; `[]` after it: `data` holds such items).

Run `python -m anyint_conformance.contract.derive` to rewrite schemas/*.json; `--check` only reports drift.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from anyint_conformance.model.paths import ROOT, SCHEMAS_DIR, TABLES_DIR, load_yaml

# Never resolvable: schemas are loaded from disk into a registry, never fetched.
ID_BASE = "https://schemas.anyint-conformance.invalid/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
DOCUMENTED, UPSTREAM = "documented", "upstream"
LAYERS = (DOCUMENTED, UPSTREAM)
LAYER_DIRS = {DOCUMENTED: "", UPSTREAM: "upstream/"}  # where each layer's files live under schemas/

SIMPLE_TYPES = {"string", "integer", "number", "boolean", "array", "object", "null"}
# Type words that are not JSON types: the schema each one stands for.
TYPE_WORDS = {"file": {"type": "string", "format": "binary"}}
# Inferred constraints copied into the derived property as they are (row key -> JSON Schema keyword).
CONSTRAINTS = {"enum": "enum", "minimum": "minimum", "maximum": "maximum", "min_length": "minLength", "max_length": "maxLength"}
RESPONSE_MEDIA_KINDS = {"binary", "text"}
REQUEST_MEDIA_TYPES = {"application/json", "multipart/form-data"}
REQUIRED_WORDING = {"Yes": True, "No": False, "Usually": False}
WHEN_AVAILABLE = ("when available", "when returned")




class TableError(ValueError):
    """A table row the derivation cannot map faithfully."""


def schema_uri(schema_id: str, layer: str = DOCUMENTED) -> str:
    return f"{ID_BASE}{LAYER_DIRS[layer]}{schema_id}.json"


def provenance_of(block: dict) -> str:
    """'page' when an inferred block is our reading of the page's wording, 'upstream' when it states OpenAI's API."""
    return block.get("from", "upstream" if "source" in block else "page")


def _facts(row: dict, layer: str, sid: str | None = None, sids: tuple = ()) -> dict:
    """The facts a row contributes to one layer (and one derived schema): the page's reading always, the
    upstream facts only in the upstream layer; `nullable: true` relaxes both layers."""
    inferred = row.get("inferred", {})
    if layer == UPSTREAM or provenance_of(inferred) == "page":
        facts = dict(inferred)
    else:
        facts = {k: v for k, v in inferred.items() if k == "nullable" and v is True}
    if layer == UPSTREAM:
        for key, value in row.get("upstream", {}).items():  # per-schema maps merge, anything else replaces
            both_maps = isinstance(value, dict) and isinstance(facts.get(key), dict)
            facts[key] = {**facts[key], **value} if both_maps else value
    return {k: _per_schema(v, sid, sids) for k, v in facts.items()}


def _per_schema(value: Any, sid: str | None, sids: tuple) -> Any:
    """`{schema id: value}` -> the value for `sid` (None when it names other schemas only)."""
    if isinstance(value, dict) and value and sids and set(value) <= set(sids):
        return value.get(sid)
    return value


def _items(items: str | dict, layer: str) -> dict:
    return {"$ref": schema_uri(items, layer)} if isinstance(items, str) else dict(items)


def _type_schema(wording: str | list, facts: dict, where: str, layer: str) -> dict:
    """'string or array' (or [string, array]) -> anyOf of the simple types; array items come from `facts.items`."""
    names = [part.strip() for part in wording.split(" or ")] if isinstance(wording, str) else list(wording)
    branches = []
    for name in names:
        if name in TYPE_WORDS:
            branch: dict[str, Any] = dict(TYPE_WORDS[name])
        elif name in SIMPLE_TYPES:
            branch = {"type": name}
        else:
            raise TableError(f"{where}: type {wording!r} has unknown part {name!r}")
        if name == "array" and facts.get("items"):
            branch["items"] = _items(facts["items"], layer)
        if name == "array" and facts.get("min_items"):
            branch["minItems"] = facts["min_items"]
        branches.append(branch)
    if facts.get("nullable"):
        branches.append({"type": "null"})
    return branches[0] if len(branches) == 1 else {"anyOf": branches}


def _example_value(example: str | None, prop: dict) -> Any:
    """The documented example as a JSON value when it is one that fits the property, else None."""
    if example is None:
        return None
    try:
        value = json.loads(example)
    except ValueError:
        value = example
    import jsonschema  # local: only the build step needs a throwaway validator

    probe = {k: v for k, v in prop.items() if not k.startswith("x-") and k != "items"}
    if "anyOf" in probe:
        probe["anyOf"] = [{k: v for k, v in b.items() if k != "items"} for b in probe["anyOf"]]
    return value if jsonschema.Draft202012Validator(probe).is_valid(value) else None


def _annotate(prop: dict, row: dict, page: str, table: str) -> None:
    if row.get("meaning"):
        prop["description"] = row["meaning"]
    prop["x-documented"] = row.get("documented", True)
    prop["x-source"] = f"{page} / {table}"
    if "inferred" in row:
        prop["x-inferred"] = dict(row["inferred"])
        prop["x-provenance"] = provenance_of(row["inferred"])
    if "upstream" in row:
        prop["x-upstream"] = dict(row["upstream"])


def _request_schema(spec: dict, page: str, layer: str) -> dict:
    sid = spec["schema"]
    props: dict[str, Any] = {}
    required: list[str] = []
    conditions: list[dict] = []
    for row in spec["rows"]:
        field = row["field"]
        where = f"{page} / {spec['table']} / {field}"
        raw = {**row.get("inferred", {}), **row.get("upstream", {})}
        if row.get("type", raw.get("type")) is None:
            raise TableError(f"{where}: no type on the page and no inferred.type")
        if "required" not in row and not isinstance(raw.get("required"), bool):
            raise TableError(f"{where}: no required wording on the page and no inferred.required (true/false)")
        facts = _facts(row, layer)
        wording = row.get("type", facts.get("type"))
        prop = _type_schema(wording, facts, where, layer) if wording is not None else {}
        for key, keyword in CONSTRAINTS.items():
            if key in facts:
                prop[keyword] = facts[key]
        if "type" in row:
            prop["x-type"] = row["type"]
        _annotate(prop, row, page, spec["table"])
        example = _example_value(row.get("example"), prop)
        if row.get("example") is not None:
            prop["x-example"] = row["example"]
        if example is not None:
            prop["examples"] = [example]
        props[field] = prop
        if "required" not in row:
            if facts.get("required"):
                required.append(field)
            continue
        wording = str(row["required"])
        prop["x-required"] = wording
        if wording in REQUIRED_WORDING:
            if REQUIRED_WORDING[wording]:
                required.append(field)
        elif "required_when" in row.get("inferred", {}):
            when = facts.get("required_when")
            if when:
                conditions.append(
                    {
                        "if": {"properties": {k: {"const": v} for k, v in when.items()}, "required": sorted(when)},
                        "then": {"required": [field]},
                    }
                )
        else:
            raise TableError(f"{where}: required wording {wording!r} has no mapping and no inferred.required_when")
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": schema_uri(sid, layer),
        "title": f"{spec['table']} ({page})",
        "x-layer": layer,
    }
    if spec.get("note"):
        schema["description"] = spec["note"]
    schema.update({"type": "object", "properties": props, "required": required})
    if conditions:
        schema["allOf"] = conditions
    return schema


def _path_segments(field: str) -> list[tuple[str, bool]]:
    """'choices[].message.content' -> [('choices', True), ('message', False), ('content', False)]."""
    return [(seg[:-2], True) if seg.endswith("[]") else (seg, False) for seg in field.split(".")]


def _leaf(row: dict, facts: dict, page: str, table: str, layer: str) -> tuple[dict, bool]:
    prop: dict[str, Any] = {}
    if facts.get("const") is not None:
        prop["const"] = facts["const"]
    types = facts.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else list(types)
        if facts.get("nullable"):
            types.append("null")
        unknown = [t for t in types if t not in SIMPLE_TYPES]
        if unknown:
            raise TableError(f"{page} / {table} / {row['field']}: unknown inferred type {unknown[0]!r}")
        prop["type"] = types[0] if len(types) == 1 else types
    if facts.get("items"):
        prop["items"] = _items(facts["items"], layer)
    for key, keyword in CONSTRAINTS.items():
        if key in facts:
            prop[keyword] = facts[key]
    _annotate(prop, row, page, table)
    meaning = (row.get("meaning") or "").lower()
    when_available = any(w in meaning for w in WHEN_AVAILABLE)
    if when_available:
        prop["x-when-available"] = True
    required = bool(facts.get("required", False)) and not when_available
    return prop, required


def _response_schemas(spec: dict, page: str, layer: str) -> dict[str, dict]:
    out = {}
    sids = tuple(spec["schemas"])
    for sid, purpose in spec["schemas"].items():
        purpose, sdk = (purpose.get("purpose", ""), purpose.get("sdk")) if isinstance(purpose, dict) else (purpose, None)
        root: dict[str, Any] = {
            "$schema": DIALECT,
            "$id": schema_uri(sid, layer),
            "title": f"{spec['table']}: {purpose} ({page})",
            "x-layer": layer,
        }
        if sdk:
            root["x-sdk"] = sdk
        root.update({"type": "object", "properties": {}, "required": []})
        for row in spec["rows"]:
            if "only" in row and sid not in row["only"]:
                continue
            facts = _facts(row, layer, sid, sids)
            segments = _path_segments(row["field"])
            node = root
            for name, is_array in segments[:-1]:
                node = _descend(node, name, is_array, row["field"])
            name, is_array = segments[-1]
            prop, required = _leaf(row, facts, page, spec["table"], layer)
            existing = node["properties"].get(name, {})
            if is_array:
                items = prop.get("items") or existing.get("items", {"type": "object", "properties": {}, "required": []})
                _requires_one_of(items, facts)
                prop = {**prop, "type": "array", "items": items}
                if facts.get("min_items"):
                    prop["minItems"] = facts["min_items"]
            elif prop.get("type") == "object" or "properties" in existing:
                prop = {**prop, "properties": existing.get("properties", {}), "required": existing.get("required", [])}
                _requires_one_of(prop, facts)
            node["properties"][name] = prop
            if required and name not in node["required"]:
                node["required"].append(name)
        out[sid] = root
    return out


def _requires_one_of(node: dict, facts: dict) -> None:
    """`requires_one_of: [a, b]` -> the object must carry a or b (anyOf of required)."""
    names = facts.get("requires_one_of")
    if names:
        node["anyOf"] = [{"required": [name]} for name in names]


def _descend(node: dict, name: str, is_array: bool, field: str) -> dict:
    """The object schema at `name` under `node`, created if a row has not declared it yet."""
    prop = node["properties"].get(name)
    if prop is None:
        raise TableError(f"{field}: parent {name!r} must be declared by an earlier row (documented or implied)")
    if is_array:
        prop.setdefault("items", {"type": "object", "properties": {}, "required": []})
        return prop["items"]
    prop.setdefault("properties", {})
    prop.setdefault("required", [])
    return prop


def load_tables(tables_dir: Path = TABLES_DIR) -> list[tuple[Path, dict]]:
    out = []
    for path in sorted(tables_dir.glob("*.yaml")):
        try:
            out.append((path, load_yaml(path.read_text())))
        except yaml.YAMLError as exc:
            raise TableError(f"{path.name}: not valid YAML: {exc}") from None
    return out


def operations(tables_dir: Path = TABLES_DIR) -> list[dict]:
    """The routes the tables describe: method, path, request schema id, response schema ids by media type."""
    return [op for _, doc in load_tables(tables_dir) for op in doc.get("operations", [])]


def response_targets(target: Any) -> list[dict]:
    """An operation's response entry for one media type as [{schema, when}] (when: {} = any request)."""
    entries = target if isinstance(target, list) else [target]
    return [{"schema": e["schema"], "when": dict(e.get("when") or {})} if isinstance(e, dict) else {"schema": e, "when": {}} for e in entries]


def check_operations(ops: list[dict], schemas: dict[str, dict]) -> None:
    """Every operation names known schemas, known media kinds and exactly the path's parameters."""
    import re

    seen = set()
    for op in ops:
        where = f"{op.get('method')} {op.get('path')}"
        if (op["method"], op["path"]) in seen:
            raise TableError(f"{where}: declared twice")
        seen.add((op["method"], op["path"]))
        template = set(re.findall(r"{([^}]+)}", op["path"]))
        declared = set(op.get("path_parameters", {}))
        if template != declared:
            raise TableError(f"{where}: path_parameters {sorted(declared)} do not match the path's {sorted(template)}")
        if op.get("request") and op["request"] not in schemas:
            raise TableError(f"{where}: unknown request schema {op['request']!r}")
        if op.get("request_media_type", "application/json") not in REQUEST_MEDIA_TYPES:
            raise TableError(f"{where}: request_media_type {op['request_media_type']!r} is not one of {sorted(REQUEST_MEDIA_TYPES)}")
        if not isinstance(op.get("model", True), bool):
            raise TableError(f"{where}: model must be true or false")
        for media, target in op["responses"].items():
            for entry in response_targets(target):
                if entry["schema"] not in schemas and entry["schema"] not in RESPONSE_MEDIA_KINDS:
                    raise TableError(f"{where}: response {media} names unknown schema {entry['schema']!r}")


def derive_all(tables_dir: Path = TABLES_DIR, layer: str = DOCUMENTED) -> dict[str, dict]:
    """Every schema the tables define, by id, in one layer."""
    schemas: dict[str, dict] = {}
    for path, doc in load_tables(tables_dir):
        page = doc["page"]
        for spec in doc["tables"]:
            if spec["kind"] == "request":
                derived = {spec["schema"]: _request_schema(spec, page, layer)}
            elif spec["kind"] == "response":
                derived = _response_schemas(spec, page, layer)
            else:
                raise TableError(f"{path.name} / {spec['table']}: unknown kind {spec['kind']!r}")
            for sid in derived:
                if sid in schemas:
                    raise TableError(f"{path.name}: schema id {sid!r} is defined twice")
            schemas.update(derived)
    return schemas


# -- the OpenAPI 3.1 document: every operation over the upstream layer (the one requests are drawn from) --


def _component_refs(node: Any) -> Any:
    """Rewrite registry URIs (…/upstream/chat.message.json) into OpenAPI component refs (#/components/schemas/chat.message)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(ID_BASE):
                out[key] = "#/components/schemas/" + value[len(ID_BASE) :].removeprefix(LAYER_DIRS[UPSTREAM]).removesuffix(".json")
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


def _response_schema(target: Any) -> dict:
    """Entries -> a component ref, a string schema for binary / text, anyOf when several."""
    entries = response_targets(target)
    out = [dict(_MEDIA_KIND_SCHEMAS[e["schema"]]) if e["schema"] in _MEDIA_KIND_SCHEMAS else {"$ref": f"#/components/schemas/{e['schema']}"} for e in entries]
    return out[0] if len(out) == 1 else {"anyOf": out}


def openapi_document(schemas: dict[str, dict], operations: list[dict], overrides: dict | None = None) -> dict:
    """A minimal OpenAPI 3.1 document over the derived (upstream-layer) schemas.

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
        entry["x-operation"] = op  # the table's own declaration: run time reads operations from here, not from the tables
        paths.setdefault(op["path"], {})[method] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AnyInt OpenAI-compatible gateway (derived from the documented field tables)",
            "version": "derived",
            "description": "Schemas: the upstream layer (documented facts plus upstream OpenAI facts). "
            "schemas/<id>.json holds the documented layer alone.",
        },
        "servers": [{"url": "https://gateway.api.anyint.ai/openai/v1"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _derived_files(schemas_dir: Path) -> list[tuple[Path, dict]]:
    """Both layers, one file per schema id each, plus the OpenAPI 3.1 document (an artefact for users too)."""
    tables = schemas_dir / "tables"
    files = []
    for layer in LAYERS:
        schemas = derive_all(tables, layer)
        files += [(schemas_dir / f"{LAYER_DIRS[layer]}{sid}.json", schema) for sid, schema in schemas.items()]
    ops = operations(tables)
    check_operations(ops, schemas)
    files.append((schemas_dir / "openapi.json", openapi_document(schemas, ops)))
    return files


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _committed(schemas_dir: Path) -> list[Path]:
    return sorted([*schemas_dir.glob("*.json"), *(schemas_dir / LAYER_DIRS[UPSTREAM]).glob("*.json")])


def drift(schemas_dir: Path = SCHEMAS_DIR) -> list[str]:
    """Files under schemas/ that differ from a fresh derivation (missing, changed or stale)."""
    fresh = {path.relative_to(schemas_dir).as_posix(): render(schema) for path, schema in _derived_files(schemas_dir)}
    problems = []
    for name, text in fresh.items():
        path = schemas_dir / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif path.read_text() != text:
            problems.append(f"{name}: differs from the tables")
    for path in _committed(schemas_dir):
        if path.relative_to(schemas_dir).as_posix() not in fresh:
            problems.append(f"{path.relative_to(schemas_dir).as_posix()}: no table derives it any more")
    return problems


def write_all(schemas_dir: Path = SCHEMAS_DIR) -> list[Path]:
    written = []
    for path, schema in _derived_files(schemas_dir):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(schema))
        written.append(path)
    for stale in _committed(schemas_dir):
        if stale not in written:
            stale.unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report drift, write nothing")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = drift()
            for p in problems:
                print(f"drift: {p}", file=sys.stderr)
            return 1 if problems else 0
        for path in write_all():
            print(f"wrote {path.relative_to(ROOT)}")
    except TableError as exc:
        print(f"table error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
