"""Small helpers suites use to declare what they test: operations, overlays from suites/overlays, cells.

What an answer must be is not restated here: it comes from the operation (schemas/openapi.json) and
the request (see checks.Expect.for_request).
"""

from __future__ import annotations

from functools import lru_cache

import yaml

from anyint_conformance.cells import CellSpec
from anyint_conformance.paths import OVERLAYS_DIR
from anyint_conformance.schemas import operation

__all__ = ["operation", "overlay", "parameter_cell", "route_cell"]


@lru_cache(maxsize=None)
def overlay(schema_id: str) -> dict:
    """The cost overlay (a JSON Merge Patch) for a request schema."""
    return yaml.safe_load((OVERLAYS_DIR / f"{schema_id}.yaml").read_text())


def route_cell(operation: dict, probe: dict, **fields) -> CellSpec:
    """A route cell: the probe, then (behind a supported probe) the page's examples and drawn ones,
    narrowed by the request schema's cost overlay."""
    return CellSpec(operation=operation, probe=probe, overlay=overlay(operation["request"]), **fields)


def parameter_cell(operation: dict, probe: dict, parameter: str, effect: str | None = None, files: dict | None = None) -> CellSpec:
    """One optional parameter against the minimal probe: one request. Supported only when `effect` (the
    documented effect) is observed; without an effect check the cell is `unverified`."""
    return CellSpec(operation=operation, probe=probe, parameter=parameter, kind="parameter", effect=effect, generate=False, files=files)
