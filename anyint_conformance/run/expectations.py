"""Expectations: the verdict each cell is known to have (suites/expectations/<target>.yaml).

The can-i-deploy idea: a run whose verdict for a listed cell differs from the file fails with a
readable diff (a lost capability, a new breakage, or an improvement the file must learn). A listed
deviation that still holds is reported as a known failure (xfail), never as a pass.

    python -m anyint_conformance.run.expectations [reports/support-matrix.json]   # write them from a matrix
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from anyint_conformance.model.paths import EXPECTATIONS_DIR, ROOT, load_yaml, write_atomic


def drifted(expected: str | None, observed: str) -> bool:
    """Does an observed verdict differ from its expectation? The one definition of drift."""
    return expected is not None and expected != observed


def cell_label(model: str | None, route: str, parameter: str | None) -> str:
    return f"{model or '*'} | {route}" + (f" [{parameter}]" if parameter else "")


class Expectations:
    def __init__(self, by_target: dict[str, dict[str, str]]):
        self.by_target = by_target

    @classmethod
    def load(cls, directory: Path = EXPECTATIONS_DIR) -> "Expectations":
        by_target = {}
        for path in sorted(directory.glob("*.yaml")):
            try:
                data = load_yaml(path.read_text()) or {}
            except yaml.YAMLError as exc:
                raise ValueError(f"{path}: not valid YAML: {exc}") from None
            cells = data.get("cells", {})
            if not isinstance(cells, dict):
                raise ValueError(f"{path}: 'cells' must map '<model> | <route> [parameter]' to a verdict")
            by_target[data.get("target", path.stem)] = {str(k): str(v) for k, v in cells.items()}
        return cls(by_target)

    def expected(self, target: str, model: str | None, route: str, parameter: str | None) -> str | None:
        return self.by_target.get(target, {}).get(cell_label(model, route, parameter))

    def of(self, cell) -> str | None:
        """The expected verdict of a cell (a Cell or its dict)."""
        get = cell.get if isinstance(cell, dict) else lambda name: getattr(cell, name)
        return self.expected(get("target"), get("model"), get("route"), get("parameter"))

    def drift(self, cells: list[dict]) -> list[dict]:
        """The cells whose verdict differs from the expectations, as the matrix lists them."""
        return [{"target": c["target"], "model": c["model"], "route": c["route"], "parameter": c["parameter"], "expected": e, "observed": c["verdict"]}
                for c in cells if drifted(e := self.of(c), c["verdict"])]


def write_from_matrix(matrix: dict, directory: Path = EXPECTATIONS_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for target in matrix["targets"]:
        cells = {
            cell_label(c["model"], c["route"], c["parameter"]): c["verdict"]
            for c in matrix["cells"]
            if c["target"] == target and c["verdict"] != "untested"
        }
        path = directory / f"{target}.yaml"
        header = (
            f"# Known verdicts for target {target}, written from a support matrix by\n"
            "#   python -m anyint_conformance.run.expectations reports/support-matrix.json\n"
            "# A run whose verdict differs from a line here fails with a diff; edit a line to require a\n"
            "# capability (e.g. set 'supported'). Known deviations (broken, non-conforming) show as xfail.\n"
        )
        write_atomic(path, header + yaml.safe_dump({"target": target, "cells": dict(sorted(cells.items()))}, sort_keys=False, allow_unicode=True))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write suites/expectations/<target>.yaml from a support matrix")
    parser.add_argument("matrix", nargs="?", default=str(ROOT / "reports" / "support-matrix.json"))
    args = parser.parse_args(argv)
    try:
        matrix = json.loads(Path(args.matrix).read_text())
    except (OSError, ValueError) as exc:
        print(f"cannot read matrix {args.matrix}: {exc}", file=sys.stderr)
        return 2
    for path in write_from_matrix(matrix):
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
