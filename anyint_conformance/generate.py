"""Request bodies: Hypothesis examples drawn from a derived request schema by Schemathesis' generator.

The request schema is narrowed before generation, never replaced by a hand-written strategy:
  1. registry refs are inlined (the overlay can then reach into `messages.items`),
  2. the suite's cost overlay is applied as a JSON Merge Patch (RFC 7396: `null` removes a keyword),
  3. `model` is pinned to the model under test, and the cell's fixed fields (e.g. `stream`) are pinned.
Every drawn body is checked against the *documented* request schema, so an overlay can only narrow.

Determinism: a fixed seed, no example database, no deadline and the generate phase only (no shrinking:
each shrink step would be a paid request, and shrinking is not reproducible). Replay therefore sends
exactly what was recorded, as long as Schemathesis and Hypothesis stay at the versions in requirements.lock.
"""

from __future__ import annotations

import contextlib
import copy
import json
import zlib
from typing import Any, Iterator

import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.internal.conjecture import providers as _providers
from schemathesis.config import SchemathesisConfig

from anyint_conformance.derive import ID_BASE
from anyint_conformance.schemas import first_violation, load_schemas, openapi_document

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
            target = schemas[ref[len(ID_BASE) :].removesuffix(".json")]
            rest = {k: v for k, v in node.items() if k != "$ref"}
            inlined = {k: v for k, v in _inline(target, schemas).items() if k not in ("$id", "$schema")}
            return merge_patch(inlined, rest)
        return {k: _inline(v, schemas) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, schemas) for v in node]
    return node


def narrowed_schema(schema_id: str, overlay: dict | None, pinned: dict[str, Any]) -> dict:
    """The request schema with refs inlined, the overlay merged and the pinned fields made constant."""
    schemas = load_schemas()
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


def cell_seed(*parts: str, base: int = 0) -> int:
    """A seed stable across processes and Python hash seeds (crc32, not hash())."""
    return base + zlib.crc32("|".join(parts).encode())


def draw_bodies(
    operation: dict,
    overlay: dict | None,
    pinned: dict[str, Any],
    count: int,
    seed_value: int,
    uploads: dict[str, str] | None = None,
) -> list[dict]:
    """Up to `count` distinct request bodies (duplicates dropped, order kept) for one operation.

    Multipart operations: the overlay removes the file fields (a real file is attached when sending);
    `uploads` stands in for them when a body is checked against the documented schema."""
    if count <= 0:
        return []
    request_id = operation["request"]
    narrowed = narrowed_schema(request_id, overlay, pinned)
    doc = openapi_document(load_schemas(), [operation], overrides={request_id: narrowed})
    strategy = schemathesis.openapi.from_dict(doc, config=_CONFIG)[operation["path"]][operation["method"]].as_strategy()
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
        violation = first_violation(request_id, {**body, **(uploads or {})})
        if violation is not None:
            raise OverlayError(f"overlay for {request_id} produced a body the documented schema rejects: {violation}")
        bodies.append(body)
    return bodies


def check_request(operation: dict, body: dict) -> None:  # body includes placeholders for uploads
    """A declared probe body must itself satisfy the documented request schema."""
    violation = first_violation(operation["request"], body)
    if violation is not None:
        raise OverlayError(f"probe body for {operation['path']} breaks {operation['request']}: {violation}")
