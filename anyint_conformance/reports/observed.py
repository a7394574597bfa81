"""A run's cells merged into the matrix already on disk, so that no selection ever loses a cell.

Semantics (README, "Reports"): the cells a run observed replace theirs; every other cell keeps its
verdict and its `observed_at`. A cell this run left `untested` (budget spent, cassette missing,
rate-limited) does not overwrite an earlier observation. Only a complete run of a target (no -k, -m,
--model, deselection or file selection) drops that target's cells it no longer produces, e.g. a model
the gateway stopped listing.
"""

from __future__ import annotations

from anyint_conformance.model.verdicts import cell_key


def carry_over(existing: list[dict], observed: list[dict], complete_targets: set[str]) -> list[dict]:
    """The cells of the new matrix: this run's, then the existing ones it did not observe."""
    merged = {cell_key(c): c for c in observed}
    for cell in existing:
        key = cell_key(cell)
        if key in merged:
            if merged[key]["verdict"] == "untested" and cell["verdict"] != "untested":
                merged[key] = cell  # this run could not observe it: the earlier observation stands
            continue
        if cell["target"] not in complete_targets:
            merged[key] = cell
    return list(merged.values())


def carry_targets(existing: dict, observed: dict) -> dict:
    """Target descriptions: this run's for the targets it ran, the existing ones for the rest."""
    out = {name: {k: v for k, v in info.items() if k != "models"} for name, info in existing.items()}
    out.update(observed)
    return out
