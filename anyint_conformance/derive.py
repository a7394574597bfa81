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
may carry (request and response): `enum`, `minimum`, `maximum`, `items` (a schema id -> $ref, or a
schema), `nullable`; response rows also `const`, `min_items` and `requires_one_of` (the object, or
each item of a `[]` row, must carry at least one of the listed fields).

Operations (`operations:` in a table source), one per method and path:
  method, path            as on the page; `{name}` segments are path parameters
  path_parameters         {name: {documented: bool, inferred: {why:/source:}}} for every `{name}` in the path
  request                 request schema id; absent -> no request body
  request_media_type      application/json (default) or multipart/form-data
  model                   true (default): the body carries the model under test (the suite pins it);
                          false: the route takes no model (files, lookups) and is tested once per target
  responses               {media type: schema id | [schema ids] (any of them; the request picks which,
                          e.g. response_format) | binary (raw bytes) | text (a plain string body)}
  documented / inferred   `documented: false` for a route the page does not list; `inferred:` with
                          `why:`/`source:` for what the page leaves out (e.g. the method)

Run `python -m anyint_conformance.derive` to rewrite schemas/*.json; `--check` only reports drift.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TABLES_DIR = ROOT / "schemas" / "tables"
SCHEMAS_DIR = ROOT / "schemas"
# Never resolvable: schemas are loaded from disk into a registry, never fetched.
ID_BASE = "https://schemas.anyint-conformance.invalid/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

SIMPLE_TYPES = {"string", "integer", "number", "boolean", "array", "object", "null"}
# Type words that are not JSON types: the schema each one stands for.
TYPE_WORDS = {"file": {"type": "string", "format": "binary"}}
# Inferred constraints copied into the derived property as they are (row key -> JSON Schema keyword).
CONSTRAINTS = {"enum": "enum", "minimum": "minimum", "maximum": "maximum"}
RESPONSE_MEDIA_KINDS = {"binary", "text"}
REQUEST_MEDIA_TYPES = {"application/json", "multipart/form-data"}
REQUIRED_WORDING = {"Yes": True, "No": False, "Usually": False}
WHEN_AVAILABLE = ("when available", "when returned")


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's C loader when present


class TableError(ValueError):
    """A table row the derivation cannot map faithfully."""


def schema_uri(schema_id: str) -> str:
    return f"{ID_BASE}{schema_id}.json"


def _items(items: str | dict) -> dict:
    return {"$ref": schema_uri(items)} if isinstance(items, str) else dict(items)


def _type_schema(wording: str | list, inferred: dict, where: str) -> dict:
    """'string or array' (or [string, array]) -> anyOf of the simple types; array items come from `inferred.items`."""
    names = [part.strip() for part in wording.split(" or ")] if isinstance(wording, str) else list(wording)
    branches = []
    for name in names:
        if name in TYPE_WORDS:
            branch: dict[str, Any] = dict(TYPE_WORDS[name])
        elif name in SIMPLE_TYPES:
            branch = {"type": name}
        else:
            raise TableError(f"{where}: type {wording!r} has unknown part {name!r}")
        if name == "array" and "items" in inferred:
            branch["items"] = _items(inferred["items"])
        branches.append(branch)
    if inferred.get("nullable"):
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


def _request_schema(spec: dict, page: str) -> dict:
    sid = spec["schema"]
    props: dict[str, Any] = {}
    required: list[str] = []
    conditions: list[dict] = []
    for row in spec["rows"]:
        field = row["field"]
        where = f"{page} / {spec['table']} / {field}"
        inferred = row.get("inferred", {})
        wording = row.get("type", inferred.get("type"))
        if wording is None:
            raise TableError(f"{where}: no type on the page and no inferred.type")
        prop = _type_schema(wording, inferred, where)
        for key, keyword in CONSTRAINTS.items():
            if key in inferred:
                prop[keyword] = inferred[key]
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
            if not isinstance(inferred.get("required"), bool):
                raise TableError(f"{where}: no required wording on the page and no inferred.required (true/false)")
            if inferred["required"]:
                required.append(field)
            continue
        wording = str(row["required"])
        prop["x-required"] = wording
        if wording in REQUIRED_WORDING:
            if REQUIRED_WORDING[wording]:
                required.append(field)
        elif "required_when" in inferred:
            when = inferred["required_when"]
            conditions.append(
                {
                    "if": {
                        "properties": {k: {"const": v} for k, v in when.items()},
                        "required": sorted(when),
                    },
                    "then": {"required": [field]},
                }
            )
        else:
            raise TableError(f"{where}: required wording {wording!r} has no mapping and no inferred.required_when")
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": schema_uri(sid),
        "title": f"{spec['table']} ({page})",
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


def _leaf(row: dict, sid: str, page: str, table: str) -> tuple[dict, bool]:
    inferred = row.get("inferred", {})
    prop: dict[str, Any] = {}
    const = inferred.get("const")
    if isinstance(const, dict):
        const = const.get(sid)
    if const is not None:
        prop["const"] = const
    types = inferred.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else list(types)
        nullable = inferred.get("nullable")
        if isinstance(nullable, dict):
            nullable = nullable.get(sid)
        if nullable:
            types.append("null")
        unknown = [t for t in types if t not in SIMPLE_TYPES]
        if unknown:
            raise TableError(f"{page} / {table} / {row['field']}: unknown inferred type {unknown[0]!r}")
        prop["type"] = types[0] if len(types) == 1 else types
    if "items" in inferred:
        prop["items"] = _items(inferred["items"])
    for key, keyword in CONSTRAINTS.items():
        if key in inferred:
            prop[keyword] = inferred[key]
    _annotate(prop, row, page, table)
    meaning = (row.get("meaning") or "").lower()
    when_available = any(w in meaning for w in WHEN_AVAILABLE)
    if when_available:
        prop["x-when-available"] = True
    required = bool(inferred.get("required", False)) and not when_available
    return prop, required


def _response_schemas(spec: dict, page: str) -> dict[str, dict]:
    out = {}
    for sid, purpose in spec["schemas"].items():
        root: dict[str, Any] = {
            "$schema": DIALECT,
            "$id": schema_uri(sid),
            "title": f"{spec['table']}: {purpose} ({page})",
            "type": "object",
            "properties": {},
            "required": [],
        }
        for row in spec["rows"]:
            if "only" in row and sid not in row["only"]:
                continue
            segments = _path_segments(row["field"])
            node = root
            for name, is_array in segments[:-1]:
                node = _descend(node, name, is_array, row["field"])
            name, is_array = segments[-1]
            prop, required = _leaf(row, sid, page, spec["table"])
            existing = node["properties"].get(name, {})
            if is_array:
                min_items = row.get("inferred", {}).get("min_items")
                if isinstance(min_items, dict):
                    min_items = min_items.get(sid)
                items = prop.get("items") or existing.get("items", {"type": "object", "properties": {}, "required": []})
                _requires_one_of(items, row)
                prop = {**prop, "type": "array", "items": items}
                if min_items:
                    prop["minItems"] = min_items
            elif prop.get("type") == "object" or "properties" in existing:
                prop = {**prop, "properties": existing.get("properties", {}), "required": existing.get("required", [])}
                _requires_one_of(prop, row)
            node["properties"][name] = prop
            if required and name not in node["required"]:
                node["required"].append(name)
        out[sid] = root
    return out


def _requires_one_of(node: dict, row: dict) -> None:
    """`inferred.requires_one_of: [a, b]` -> the object must carry a or b (anyOf of required)."""
    names = row.get("inferred", {}).get("requires_one_of")
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
            out.append((path, yaml.load(path.read_text(), Loader=_LOADER)))
        except yaml.YAMLError as exc:
            raise TableError(f"{path.name}: not valid YAML: {exc}") from None
    return out


def operations(tables_dir: Path = TABLES_DIR) -> list[dict]:
    """The routes the tables describe: method, path, request schema id, response schema ids by media type."""
    return [op for _, doc in load_tables(tables_dir) for op in doc.get("operations", [])]


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
            for sid in [target] if isinstance(target, str) else target:
                if sid not in schemas and sid not in RESPONSE_MEDIA_KINDS:
                    raise TableError(f"{where}: response {media} names unknown schema {sid!r}")


def derive_all(tables_dir: Path = TABLES_DIR) -> dict[str, dict]:
    """Every schema the tables define, by id."""
    schemas: dict[str, dict] = {}
    for path, doc in load_tables(tables_dir):
        page = doc["page"]
        for spec in doc["tables"]:
            if spec["kind"] == "request":
                derived = {spec["schema"]: _request_schema(spec, page)}
            elif spec["kind"] == "response":
                derived = _response_schemas(spec, page)
            else:
                raise TableError(f"{path.name} / {spec['table']}: unknown kind {spec['kind']!r}")
            for sid in derived:
                if sid in schemas:
                    raise TableError(f"{path.name}: schema id {sid!r} is defined twice")
            schemas.update(derived)
    return schemas


def _derived_files(schemas_dir: Path) -> list[tuple[Path, dict]]:
    """One file per schema id, plus the OpenAPI 3.1 document assembled from them (an artefact for users too)."""
    from anyint_conformance.schemas import openapi_document

    tables = schemas_dir / "tables"
    schemas = derive_all(tables)
    ops = operations(tables)
    check_operations(ops, schemas)
    files = [(schemas_dir / f"{sid}.json", schema) for sid, schema in schemas.items()]
    files.append((schemas_dir / "openapi.json", openapi_document(schemas, ops)))
    return files


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def drift(schemas_dir: Path = SCHEMAS_DIR) -> list[str]:
    """Files under schemas/ that differ from a fresh derivation (missing, changed or stale)."""
    fresh = {path.name: render(schema) for path, schema in _derived_files(schemas_dir)}
    problems = []
    for name, text in fresh.items():
        path = schemas_dir / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif path.read_text() != text:
            problems.append(f"{name}: differs from the tables")
    for path in schemas_dir.glob("*.json"):
        if path.name not in fresh:
            problems.append(f"{path.name}: no table derives it any more")
    return problems


def write_all(schemas_dir: Path = SCHEMAS_DIR) -> list[Path]:
    written = []
    for path, schema in _derived_files(schemas_dir):
        path.write_text(render(schema))
        written.append(path)
    for stale in schemas_dir.glob("*.json"):
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
