"""Small helpers suites use to declare what they test: operations from the tables, overlays from suites/overlays."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from anyint_conformance.cells import CellSpec
from anyint_conformance.checks import Expect
from anyint_conformance.derive import operations

OVERLAYS_DIR = Path(__file__).resolve().parent.parent / "suites" / "overlays"


@lru_cache(maxsize=1)
def _operations() -> tuple[dict, ...]:
    return tuple(operations())  # parsed once per process: suites call operation() at import and inside tests


def operation(path: str, method: str = "POST") -> dict:
    """The documented operation for a path, as the tables declare it."""
    for op in _operations():
        if op["path"] == path and op["method"] == method:
            return op
    raise LookupError(f"no table under schemas/tables/ declares {method} {path}")


@lru_cache(maxsize=None)
def overlay(schema_id: str) -> dict:
    """The cost overlay (a JSON Merge Patch) for a request schema."""
    return yaml.safe_load((OVERLAYS_DIR / f"{schema_id}.yaml").read_text())


def parameter_cell(operation: dict, probe: dict, parameter: str, expect: Expect, effect: str | None = None, files: dict | None = None) -> CellSpec:
    """One optional parameter against the minimal probe: one request, judged by `effect` when the docs promise one."""
    return CellSpec(operation=operation, probe=probe, parameter=parameter, kind="parameter", effect=effect, generate=False, expect=expect, files=files)
