"""The suites' face: everything a suite imports (a contract checks that suites import nothing else).

Suites declare what to test: operations, overlays from suites/overlays, cells, invalid requests. What
an answer must be is not restated here: it comes from the operation (schemas/openapi.json) and the
request (see checks.Expect.for_request).
"""

from __future__ import annotations

from functools import lru_cache

import yaml

from anyint_conformance.clients.flows import FLOWS
from anyint_conformance.contract.derive import UPSTREAM
from anyint_conformance.contract.schemas import load_schemas, operation
from anyint_conformance.judging import negative
from anyint_conformance.judging.cells import CellSpec
from anyint_conformance.judging.lifecycle import batch_completed, batch_output
from anyint_conformance.model.paths import OVERLAYS_DIR
from anyint_conformance.model.verdicts import Provenance

CLIENT_FLOWS = list(FLOWS)  # (client, flow): the client libraries' flows a suite can run

__all__ = ["CLIENT_FLOWS", "Provenance", "batch_completed", "batch_output", "beyond_cell", "negative", "negative_cases", "operation", "overlay", "parameter_cell", "route_cell"]


@lru_cache(maxsize=None)
def overlay(schema_id: str) -> dict:
    """The cost overlay (a JSON Merge Patch) for a request schema."""
    return yaml.safe_load((OVERLAYS_DIR / f"{schema_id}.yaml").read_text())


def route_cell(operation: dict, probe: dict, **fields) -> CellSpec:
    """A route cell: the probe, then (behind a supported probe) the page's examples and drawn ones,
    narrowed by the request schema's cost overlay."""
    return CellSpec(operation=operation, probe=probe, overlay=overlay(operation["request"]), **fields)


def parameter_cell(operation: dict, probe: dict, parameter: str, effect: str | None = None, files: dict | None = None,
                   control: dict | list | None = None, samples: int = 1) -> CellSpec:
    """One optional parameter against the minimal probe. Supported only when `effect` (the documented
    effect) is observed against `control` (the request without the parameter, sent alongside; `samples`
    times each where the effect compares answers); without an effect check the cell is `unverified`."""
    return CellSpec(operation=operation, probe=probe, parameter=parameter, kind="parameter", effect=effect, generate=False, files=files, control=control,
                    samples=samples)


def beyond_cell(operation: dict, probe: dict, field: str, effect: str | None = None, control: dict | list | None = None, samples: int = 1,
                marks: tuple[str, ...] = ()) -> CellSpec:
    """A field (or message form) beyond the page's table, which the page asks users to validate per model,
    judged as a parameter: by its `effect` against its control, `unverified` without one. A message form
    and its control differ in one fact; `marks` is the word each should make the answer name. Its findings
    are upstream's: they never fail a server by default, but where a 2xx answer breaks an integrity rule or
    the SDK."""
    return CellSpec(operation=operation, probe=probe, parameter=field, kind="beyond", effect=effect, generate=False, control=control,
                    samples=samples, marks=marks)


def negative_cases(valid: dict[str, dict], extra: dict[str, list] | None = None) -> list[tuple[str, "negative.Mutation", str]]:
    """(path, mutation, test id) for every invalid variant of each route's valid body: the mutations
    derived from the route's request schema (its upstream layer, which carries every fact), then the
    route's `extra` ones."""
    out = []
    for path in valid:
        mutations = negative.from_schema(load_schemas(UPSTREAM)[operation(path)["request"]]) + list((extra or {}).get(path, []))
        out += [(path, mutation, f"{path.strip('/').replace('/', '.')}:{mutation.name}") for mutation in mutations]
    return out
