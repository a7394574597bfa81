"""One suite function run in process through the engine, live against a base URL (a fake server), without
pytest's collection: the cells it produces. The suites stay what users run; this calls them directly."""

from __future__ import annotations

from pathlib import Path

from anyint_conformance.run.config import RunConfig
from anyint_conformance.run.engine import Engine, Item


def cells_of(function, base_url: str, models: tuple[str, ...] = (), params: dict | None = None, tmp: Path | None = None, **options) -> dict:
    """{parameter: cell} of one suite function (its marks say per target or per model) for each model."""
    marks = {m.name: m for m in getattr(function, "pytestmark", [])}
    config = dict(base_url=base_url, target_name="fake", disable_recording=True, examples=0, expectations=False, request_timeout=5.0,
                  poll_timeout=3.0, models=tuple(models), **({"cassette_dir": tmp, "report_dir": tmp} if tmp else {}))
    engine = Engine(RunConfig.defaults(**{**config, **options}))
    engine.connections.sleep = lambda seconds: None  # the fake answers at once: polls need not wait
    try:
        engine.prepare()
        marker = marks["route"].args[0] if "route" in marks else None
        cells = []
        for subject in engine.subjects(per_target="per_target" in marks):
            item = Item(f"{function.__name__}[{subject.model}]", function, dict(params or {}), subject, marker, Path(tmp or ".") / "unused.yaml")
            outcome = engine.run_item(item)
            assert outcome.failure is None, outcome.failure
            cells += outcome.cells
    finally:
        engine.close()
    return {(c.model, c.parameter) if len(models) > 1 else c.parameter: c for c in cells}
