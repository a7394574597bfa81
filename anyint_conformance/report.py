"""The support matrix: cells in, reports/support-matrix.json (the source) and .md (a rendering) out.

Reads cell records only; knows nothing of pytest, HTTP or cassettes.
"""

from __future__ import annotations

import re

FORMAT = "anyint-conformance/support-matrix"
FORMAT_VERSION = 1
MARK = {
    "supported": "✅ supported",
    "unsupported": "⛔ unsupported",
    "non-conforming": "⚠️ non-conforming",
    "ignored": "🟡 ignored",
    "broken": "❌ broken",
    "untested": "· untested",
    "rejected": "✅ rejected",
    "accepted": "❌ accepted",
}


def build_matrix(cells: list[dict], targets: dict[str, dict], suite_version: str, mode: str) -> dict:
    """The versioned JSON document. `targets` maps name -> {base_url, describes, recorded_at, ...}."""
    cells = sorted(cells, key=lambda c: (c["target"], c["model"] or "", c["route"], c["parameter"] or ""))
    models = {t: sorted({c["model"] for c in cells if c["target"] == t and c["model"]}) for t in targets}
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "suite_version": suite_version,
        "mode": mode,
        "security_findings": [_cell_ref(c) for c in cells if c.get("security")],
        "targets": {name: {**info, "models": models.get(name, [])} for name, info in sorted(targets.items())},
        "cells": cells,
    }


def _cell_ref(cell: dict) -> str:
    return f"{cell['target']}: {column(cell)}" + (f" ({cell['model']})" if cell["model"] else "") + f": {cell['reason']}"


def cell_key(cell: dict) -> tuple[str, str, str, str]:
    return (cell["target"], cell["model"] or "", cell["route"], cell["parameter"] or "")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x"


def cell_anchor(cell: dict) -> str:
    """The id of a cell's evidence: `cell-<target>-<model>-<column>`, slugified (model None -> "any")."""
    return "cell-" + "-".join(slug(p) for p in (cell["target"], cell["model"] or "any", column(cell)))


def anchors(cells: list[dict]) -> dict[tuple, str]:
    """cell_key -> unique anchor in matrix order; a slug collision gets -2, -3, ... (the Markdown should use this)."""
    out, seen = {}, {}
    for cell in cells:
        base = cell_anchor(cell)
        seen[base] = seen.get(base, 0) + 1
        out[cell_key(cell)] = base if seen[base] == 1 else f"{base}-{seen[base]}"
    return out



def column(cell: dict) -> str:
    return cell["route"] + (f" [{cell['parameter']}]" if cell["parameter"] else "")


def render_markdown(matrix: dict) -> str:
    out = ["# Support matrix", ""]
    out.append(
        f"Observed by anyint-conformance {matrix['suite_version']} ({matrix['mode']}). "
        "Every cell is a verdict backed by a recorded request; details below the tables."
    )
    out.append("")
    if matrix.get("security_findings"):
        out.append("## ⚠️ Security findings")
        out.append("")
        out += [f"- **{_one_line(f)}**" for f in matrix["security_findings"]]
        out.append("")
    ids = anchors(matrix["cells"])
    for name, info in matrix["targets"].items():
        cells = [c for c in matrix["cells"] if c["target"] == name]
        out.append(f"## {name}")
        out.append("")
        out.append(f"- base URL: `{info.get('base_url', '?')}`")
        if info.get("describes"):
            out.append(f"- what answered: {info['describes']}")
        if info.get("recorded_at"):
            out.append(f"- recorded: {info['recorded_at']}")
        out.append("")
        if not cells:
            out += ["No cells.", ""]
            continue
        for kind, title in KINDS:
            out += _table([c for c in cells if c.get("kind", "route") == kind], title)
        details = [c for c in cells if c["verdict"] not in ("supported", "rejected") or c["warnings"] or c["notes"]]
        if details:
            out.append("<details><summary>Evidence for cells that are not plainly supported</summary>")
            out.append("")
            for c in details:
                out.append(f"- `{c['model'] or '(any)'}` · {column(c)} · **{c['verdict']}**: {_one_line(c['reason'])}")
                if c.get("violation") and c["violation"].get("path"):
                    out.append(f"  - first violation at `{c['violation']['path']}` ({c['violation']['check']})")
                for w in c["warnings"]:
                    out.append(f"  - warning: {_one_line(w['message'])}")
                for n in c["notes"]:
                    out.append(f"  - finding: {_one_line(n['message'])}")
                where = (c.get("cassette") or "") + (f" #{c['interaction']}" if c.get("interaction") is not None else "")
                out.append(f"  - evidence: [details](support-matrix.html#{ids[cell_key(c)]})" + (f" · `{where}`" if where else ""))
            out.append("")
            out.append("</details>")
            out.append("")
    out.append("Verdicts: supported = 2xx and every body/event conforms; unsupported = a refusal (4xx); "
               "non-conforming = 2xx that breaks the documented schema or stream contract (or, for a negative/auth "
               "cell, a refusal with the wrong status or without the error envelope); broken = 5xx, timeout, "
               "invalid JSON, wrong content type; rejected = an invalid request or bad credentials refused as "
               "documented; accepted = an invalid request or bad credentials answered 2xx; untested = not run.")
    return "\n".join(out) + "\n"


KINDS = [
    ("route", "Routes"),
    ("parameter", "Parameters"),
    ("negative", "Invalid requests (must be refused: 4xx + error envelope)"),
    ("auth", "Credentials (must be refused: 401 + error envelope)"),
    ("lifecycle", "Lifecycles (each step its own cell)"),
]


def _table(cells: list[dict], title: str) -> list[str]:
    if not cells:
        return []
    columns = sorted({column(c) for c in cells})
    out = [f"### {title}", "", "| model | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for model in sorted({c["model"] or "(any)" for c in cells}):
        row = {column(c): c for c in cells if (c["model"] or "(any)") == model}
        out.append(f"| `{model}` | " + " | ".join(_cell_text(row.get(col)) for col in columns) + " |")
    return out + [""]


def _one_line(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _cell_text(cell: dict | None) -> str:
    if cell is None:
        return ""
    text = MARK.get(cell["verdict"], cell["verdict"])
    if cell["verdict"] != "supported" and cell.get("status"):
        text += f" ({cell['status']})"
    if any(n["check"] == "error_envelope" for n in cell.get("notes", [])):
        text += " · no error envelope"  # a refusal, but not in the OpenAI shape (e.g. {"detail": ...})
    if cell["warnings"]:
        text += f" · {len(cell['warnings'])} warning" + ("s" if len(cell["warnings"]) > 1 else "")
    return text
