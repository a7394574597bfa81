"""Request bodies: the page's own examples first, then Hypothesis examples drawn from a derived request
schema by Schemathesis' generator.

The request schema (the upstream layer: valid against both layers) is narrowed before generation,
never replaced by a hand-written strategy:
  1. registry refs are inlined (the overlay can then reach into `messages.items`),
  2. the suite's cost overlay is applied as a JSON Merge Patch (RFC 7396: `null` removes a keyword),
  3. the cell's fixed fields (e.g. `stream`) are pinned.
Every body is checked against both layers of the request schema, so an overlay can only narrow.

Identical requests for every model and target: the seed depends on the route, the parameter and the
base seed only, `model` is drawn as a placeholder and pinned afterwards, and draws are shared by every
model of a process. Determinism: a fixed seed, no example database, no deadline and the generate phase
only (no shrinking: each shrink step would be a paid request, and shrinking is not reproducible).
Replay therefore sends exactly what was recorded, as long as Schemathesis and Hypothesis stay at the
versions in requirements.lock.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import zlib
from typing import Any, Iterator

import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.internal.conjecture import providers as _providers
from schemathesis.config import SchemathesisConfig

from anyint_conformance.contract.derive import ID_BASE, LAYER_DIRS, UPSTREAM
from anyint_conformance.contract.schemas import load_schemas, openapi, violations

# ascii, no NUL: the contract is about shapes; exotic text belongs to negative tests.
_CONFIG = SchemathesisConfig.from_dict({"generation": {"codec": "ascii", "allow-x00": False}})


class OverlayError(ValueError):
    """The overlay or the pinned fields produce a body the documented schema rejects."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _inline(node: Any, schemas: dict[str, dict]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(ID_BASE):
            target = schemas[ref[len(ID_BASE) :].removeprefix(LAYER_DIRS[UPSTREAM]).removesuffix(".json")]
            rest = {k: v for k, v in node.items() if k != "$ref"}
            inlined = {k: v for k, v in _inline(target, schemas).items() if k not in ("$id", "$schema")}
            return merge_patch(inlined, rest)
        return {k: _inline(v, schemas) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, schemas) for v in node]
    return node


def narrowed_schema(schema_id: str, overlay: dict | None, pinned: dict[str, Any]) -> dict:
    """The request schema with refs inlined, the overlay merged and the pinned fields made constant."""
    key = json.dumps([schema_id, overlay, pinned], sort_keys=True, default=str)
    with _LOCK:
        if key not in _NARROWED:
            _NARROWED[key] = _narrowed(schema_id, overlay, pinned)
        return _NARROWED[key]


_NARROWED: dict[str, dict] = {}
_LOCK = threading.RLock()  # the caches below are filled once, by one thread at a time


def _narrowed(schema_id: str, overlay: dict | None, pinned: dict[str, Any]) -> dict:
    schemas = load_schemas(UPSTREAM)
    schema = _inline(schemas[schema_id], schemas)
    schema = merge_patch(schema, overlay or {})
    for name, value in pinned.items():
        schema = merge_patch(schema, {"properties": {name: {"const": value}}})
        if name not in schema.get("required", []):
            schema["required"] = [*schema.get("required", []), name]
    return schema


def canonical(value: Any) -> Any:
    """Whole floats as integers: Schemathesis deliberately spells some integers `2.0` (valid JSON Schema
    integers); the support question is not about number spelling, so send the plain form."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


@contextlib.contextmanager
def _without_local_constants() -> Iterator[None]:
    """Hypothesis mixes literals mined from every *local* module in sys.modules into its draws
    (providers._get_local_constants): editing any project file, or importing one more, changes the
    examples and breaks replay. Measured here: a one-line edit to report.py changed the 3rd example
    of a cell. Draw with that pool empty; fail loudly if the pinned internals ever move."""
    original = getattr(_providers, "_get_local_constants", None)
    if original is None or not hasattr(_providers, "CONSTANTS_CACHE"):
        raise RuntimeError("hypothesis internals changed (providers._get_local_constants): install the versions in requirements.lock")
    empty = _providers.Constants()
    _providers._get_local_constants = lambda: empty
    _providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        _providers._get_local_constants = original
        _providers.CONSTANTS_CACHE.cache.clear()


def cell_seed(route: str, parameter: str = "", base: int = 0) -> int:
    """A seed stable across processes and Python hash seeds (crc32, not hash()). It names neither the
    target nor the model: every model and every target receive the same requests."""
    return base + zlib.crc32(f"{route}|{parameter}".encode())


# `model` while drawing: the model under test is pinned afterwards, so it cannot change a draw.
MODEL_PLACEHOLDER = "anyint-conformance-model"


def without_capabilities(operation: dict, overlay: dict | None, probe: dict) -> dict:
    """The overlay that also leaves out every field the page qualifies with "when supported" (and the
    probe does not send): a route cell tests the route, each optional capability is a parameter cell of
    its own, and refusing a capability is never a refusal of the route."""
    documented = load_schemas()[operation["request"]]["properties"]
    optional = {name: False for name, prop in documented.items() if "when supported" in prop.get("description", "") and name not in probe}
    return merge_patch(overlay or {}, {"properties": optional}) if optional else (overlay or {})


def _valid(request_id: str, body: dict, uploads: dict | None = None) -> bool:
    return not violations(request_id, {**body, **(uploads or {})})


def _fits(schema: dict, name: str, value: Any) -> bool:
    """Does one field's value fit the narrowed schema's property (False when the overlay forbids the field)?"""
    import jsonschema

    prop = schema.get("properties", {}).get(name)
    if prop is None:
        return schema.get("additionalProperties", True) is not False
    return jsonschema.Draft202012Validator(prop).is_valid(value)


def explicit_bodies(operation: dict, overlay: dict | None, probe: dict, pinned: dict[str, Any], uploads: dict | None = None) -> list[dict]:
    """See _explicit; computed once per operation, overlay and probe, and shared by every model."""
    drawing = {**pinned, "model": MODEL_PLACEHOLDER} if "model" in pinned else dict(pinned)
    key = json.dumps([operation["method"], operation["path"], overlay, probe, drawing, sorted(uploads or {})], sort_keys=True, default=str)
    with _LOCK:
        if key not in _EXPLICIT:
            _EXPLICIT[key] = _explicit(operation, overlay, probe, drawing, uploads)
        bodies = copy.deepcopy(_EXPLICIT[key])
    if "model" in pinned:
        for body in bodies:
            body["model"] = pinned["model"]
    return bodies


_EXPLICIT: dict[str, list[dict]] = {}


def _within(schema: dict, name: str, value: Any) -> Any:
    """An integer example brought within the narrowed property's bounds (the page's max_tokens 512 under a
    cost overlay's maximum), so the page's own value is sent at the largest size the overlay allows."""
    prop = schema.get("properties", {}).get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not isinstance(prop, dict):
        return value
    return max(min(value, prop.get("maximum", value)), prop.get("minimum", value))


def _explicit(operation: dict, overlay: dict | None, probe: dict, pinned: dict[str, Any], uploads: dict | None = None) -> list[dict]:
    """The page's own example values, then both forms of every "string or array" field, before anything
    is drawn: deterministic, the same for every model, comparable across targets.

    The first body is the probe with every documented example the narrowed schema admits (cost fields
    brought within the overlay's bounds; fields the page marks "when supported" are parameter cells of their own and left out). Each
    "string or array" field then gets one body with a single string and one with an array of two. Bodies
    equal to the probe are dropped; every body is valid against both layers of the request schema."""
    request_id = operation["request"]
    narrowed = narrowed_schema(request_id, overlay, pinned)
    documented = load_schemas()[request_id]["properties"]
    base = dict(probe)
    for name, prop in documented.items():
        if name in pinned or not prop.get("examples") or "when supported" in prop.get("description", ""):
            continue
        value = _within(narrowed, name, copy.deepcopy(prop["examples"][0]))
        if _fits(narrowed, name, value):
            base[name] = value
    bodies = [base]
    for name, prop in documented.items():
        wording = prop.get("x-type") or (prop.get("x-inferred") or {}).get("type")
        if name in pinned or name not in base or wording != "string or array":
            continue
        value = base[name]
        first = value if isinstance(value, str) else (value[0] if value and isinstance(value[0], str) else None)
        if first is None:
            continue
        second = "Second item." if _fits(narrowed, name, [first, "Second item."]) else first.upper()
        for form in (first, [first, second]):
            if _fits(narrowed, name, form):
                bodies.append({**base, name: form})
    out, seen = [], {json.dumps({**probe, **pinned}, sort_keys=True)}
    for body in bodies:
        body = canonical({**body, **pinned})
        key = json.dumps(body, sort_keys=True)
        if key in seen or not _valid(request_id, body, uploads):
            continue
        seen.add(key)
        out.append(body)
    return out


_DRAWN: dict[str, list[dict]] = {}


def draw_bodies(
    operation: dict,
    overlay: dict | None,
    pinned: dict[str, Any],
    count: int,
    seed_value: int,
    uploads: dict[str, str] | None = None,
) -> list[dict]:
    """Up to `count` distinct request bodies (duplicates dropped, order kept) for one operation.

    `model` in `pinned` is pinned after drawing (a placeholder is drawn), so every model gets the same
    bodies; a draw is computed once per process and shared. Multipart operations: the overlay removes the
    file fields (a real file is attached when sending); `uploads` stands in for them when a body is checked
    against the documented schema."""
    if count <= 0:
        return []
    model = pinned.get("model")
    drawing = {**pinned, "model": MODEL_PLACEHOLDER} if "model" in pinned else dict(pinned)
    key = json.dumps([operation["method"], operation["path"], overlay, drawing, count, seed_value, sorted(uploads or {})], sort_keys=True, default=str)
    with _LOCK:  # Hypothesis draws are not thread-safe (and _without_local_constants patches a module global)
        if key not in _DRAWN:
            _DRAWN[key] = _draw(operation, overlay, drawing, count, seed_value, uploads)
        bodies = copy.deepcopy(_DRAWN[key])
    if "model" in pinned:
        for body in bodies:
            body["model"] = model
    return bodies


def _draw(operation: dict, overlay: dict | None, pinned: dict[str, Any], count: int, seed_value: int, uploads: dict | None) -> list[dict]:
    request_id = operation["request"]
    narrowed = narrowed_schema(request_id, overlay, pinned)
    strategy = schemathesis.openapi.from_dict(_document(operation, narrowed), config=_CONFIG)[operation["path"]][operation["method"]].as_strategy()
    drawn: list[dict] = []

    @seed(seed_value)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=False,
        report_multiple_bugs=False,
    )
    @given(strategy)
    def collect(case):
        drawn.append(canonical(case.body))

    with _without_local_constants():
        collect()
    bodies, seen = [], set()
    for body in drawn:
        key = json.dumps(body, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        found = violations(request_id, {**body, **(uploads or {})})
        if found:
            raise OverlayError(f"overlay for {request_id} produced a body the documented schema rejects: {found[0]}")
        bodies.append(body)
    return bodies


def _document(operation: dict, narrowed: dict) -> dict:
    """The committed OpenAPI document reduced to this operation, its request schema replaced by the narrowed one."""
    doc = openapi()
    method = operation["method"].lower()
    components = dict(doc["components"]["schemas"])
    components[operation["request"]] = _component_refs(narrowed)
    return {**doc, "paths": {operation["path"]: {method: doc["paths"][operation["path"]][method]}}, "components": {**doc["components"], "schemas": components}}


def _component_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _component_refs(v) for k, v in node.items() if k not in ("$id", "$schema")}
    if isinstance(node, list):
        return [_component_refs(v) for v in node]
    return node


def check_request(operation: dict, body: dict) -> None:  # body includes placeholders for uploads
    """A declared probe body must itself satisfy the documented request schema (both layers)."""
    found = violations(operation["request"], body)
    if found:
        raise OverlayError(f"probe body for {operation['path']} breaks {operation['request']}: {found[0]}")
