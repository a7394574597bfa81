"""The support matrix: cells in, reports/support-matrix.json (the source) and .md (a rendering) out.

Reads cell records only; knows nothing of pytest, HTTP or cassettes. The answer-first summary (which
route families each model supports) is computed here once, for the Markdown, the HTML and the terminal.
"""

from __future__ import annotations

import re
from collections import Counter

from anyint_conformance.model.families import FAMILIES, SUMMARY_KINDS, TARGET_WIDE, family_of_cell, family_verdict
from anyint_conformance.model.verdicts import MEANING, SEVERITY_ORDER, SYMBOL, TEXT_SYMBOL, Verdict, cell_key

FORMAT = "anyint-conformance/support-matrix"
FORMAT_VERSION = 2
# Version 1 lacks strict, drift, declared and the cells' family / observed_at / strict; it still reads.
READABLE_VERSIONS = (1, 2)

VERDICTS = [v.value for v in Verdict]
SYMBOLS = {v.value: s for v, s in SYMBOL.items()}  # Markdown
TEXT_SYMBOLS = {v.value: s for v, s in TEXT_SYMBOL.items()}  # HTML and terminal
MEANINGS = {v.value: m for v, m in MEANING.items()}
WORST_FIRST = [v.value for v in SEVERITY_ORDER]
HOLDS = ("supported", "rejected")  # plain cells: nothing to explain
TARGET_WIDE_ROW = "(target-wide)"  # the summary row of cells without a model (files, batches, models)
KINDS = [
    ("route", "Routes"),
    ("parameter", "Parameters"),
    ("negative", "Invalid requests (must be refused: 4xx + error envelope)"),
    ("auth", "Credentials (must be refused: 401 + error envelope)"),
    ("lifecycle", "Lifecycles (each step its own cell)"),
    ("beyond", "Beyond the page: OpenAI-compatible fields the page does not document (validated per model)"),
    ("client", "Client libraries: real client code, per model"),
]
SDK_EXAMPLE = "openai-python example"  # the page's Python example: the first column of the client readiness table

# GitHub refuses comments over 65,536 characters; the Markdown keeps under it with room to spare.
MD_LIMIT = 65_536
MD_BUDGET = 64_000
MD_RESERVE = 1_500  # kept for the cut notes and the closing line


def mark(verdict: str, text: bool = False) -> str:
    """Symbol and word: meaning never rests on a colour or a symbol alone. Unknown verdicts: the word.
    `text`: the symbols every common font draws (HTML, terminal) instead of emoji (Markdown)."""
    symbols = TEXT_SYMBOLS if text else SYMBOLS
    return f"{symbols[verdict]} {verdict}" if verdict in symbols else str(verdict)


def verdict_order(verdicts) -> list[str]:
    """Every verdict this version knows, then any other that occurs (a newer writer's), sorted."""
    return VERDICTS + sorted(set(verdicts) - set(VERDICTS))


def build_matrix(cells: list[dict], targets: dict[str, dict], suite_version: str, mode: str,
                 strict: bool = False, drift: list[dict] | None = None, declared: list[dict] | None = None) -> dict:
    """The versioned JSON document. `targets` maps name -> {base_url, describes, recorded_at, ...};
    `drift` lists cells whose verdict differs from the baseline, `declared` declared-vs-observed findings."""
    cells = sorted(cells, key=cell_key)
    models = {t: sorted({c["model"] for c in cells if c["target"] == t and c["model"]}) for t in targets}
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "suite_version": suite_version,
        "mode": mode,
        "strict": bool(strict),
        "security_findings": [_cell_ref(c) for c in cells if c.get("security")],
        # sorted like the cells, so shards merged equal one run
        "drift": sorted(drift or [], key=lambda d: tuple(str(d.get(k) or "") for k in ("target", "model", "route", "parameter"))),
        "declared": sorted(declared or [], key=lambda d: tuple(str(d.get(k) or "") for k in ("target", "model", "family", "parameter", "message"))),
        "targets": {name: {**info, "models": models.get(name, [])} for name, info in sorted(targets.items())},
        "cells": cells,
    }


def _cell_ref(cell: dict) -> str:
    return f"{cell['target']}: {column(cell)}" + (f" ({cell['model']})" if cell["model"] else "") + f": {cell['reason']}"


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


# --- the answer first: route families per model ---------------------------------------------------

def _family_verdict(cells: list[dict]) -> str | None:
    try:
        verdict = family_verdict(cells)
    except ValueError:  # a verdict this version does not know (a newer writer's): show it rather than hide it
        return min(c["verdict"] for c in cells if c["verdict"] not in VERDICTS)
    return verdict.value if verdict is not None else None


def _why(cell: dict) -> str:
    """A very short why for a family that is not supported: the failing lifecycle step and/or the status."""
    parts = []
    if cell.get("kind") == "lifecycle" and cell.get("parameter"):
        parts.append(cell["parameter"].removeprefix("lifecycle: "))
    if cell.get("status"):
        parts.append(str(cell["status"]))
    return " ".join(parts)


def summary_rows(matrix: dict, target: str) -> list[tuple[str, dict[str, dict]]]:
    """One row per model of `target`, led by a TARGET_WIDE_ROW for cells without a model (never shown as a
    model's); each row maps family -> {verdict, why, cell} (cell: the one that decided, for its evidence)."""
    cells = [c for c in matrix["cells"] if c["target"] == target]
    models = sorted(set(matrix["targets"].get(target, {}).get("models", [])) | {c["model"] for c in cells if c["model"]})
    by_row: dict[str | None, dict[str, list[dict]]] = {}
    for c in cells:
        if c.get("kind", "route") in SUMMARY_KINDS and family_of_cell(c) in FAMILIES:
            by_row.setdefault(c["model"], {}).setdefault(family_of_cell(c), []).append(c)
    rows = []
    for model in ([None] if None in by_row else []) + models:
        row = {}
        for fam, group in by_row.get(model, {}).items():
            verdict = _family_verdict(group)
            if verdict is None:
                continue
            decider = next((c for c in group if c["verdict"] == verdict), group[0])
            why = _why(decider) if verdict not in ("supported", "untested") else ""
            row[fam] = {"verdict": verdict, "why": why, "cell": decider}
        rows.append((model or TARGET_WIDE_ROW, row))
    return rows


def grids(matrix: dict, target: str) -> list[tuple[str, str, list[str], list[tuple[str, dict]]]]:
    """The per-target tables beside the summary: (title, what it says, columns, rows of {column: cell}), a row
    per model. "client readiness": each client library x flow, the page's Python example first; "beyond the
    page": each OpenAI-compatible field (or message form) the page does not document."""
    cells = [c for c in matrix["cells"] if c["target"] == target]
    out = []
    for title, note, pick, label in (
        ("client readiness", "does each client library work, flow by flow: the client's own error where it broke",
         lambda c: c.get("kind") == "client" or c["parameter"] == SDK_EXAMPLE, lambda c: c["parameter"].removeprefix("client: ")),
        ("beyond the page", "the OpenAI-compatible fields the page asks users to validate per model, each observed against a control",
         lambda c: c.get("kind") == "beyond", lambda c: c["parameter"]),
    ):
        chosen = [c for c in cells if pick(c)]
        if not chosen:
            continue
        columns = sorted({label(c) for c in chosen}, key=lambda name: (name != SDK_EXAMPLE, name))
        rows = {}
        for c in chosen:
            rows.setdefault(c["model"] or TARGET_WIDE_ROW, {})[label(c)] = c
        out.append((title, note, columns, sorted(rows.items())))
    return out


def counts(cells: list[dict]) -> list[tuple[str, int]]:
    """(verdict, number of cells) for the verdicts that occur, in legend order."""
    n = Counter(c["verdict"] for c in cells)
    return [(v, n[v]) for v in verdict_order(n) if n[v]]


def observed_range(cells: list[dict]) -> str:
    """When the cells were observed (cells kept from an earlier run keep their time): `a` or `a … b`."""
    times = sorted(c["observed_at"] for c in cells if c.get("observed_at"))
    if not times:
        return ""
    return times[0] if times[0] == times[-1] else f"{times[0]} … {times[-1]}"


def plain(cell: dict) -> bool:
    """Nothing to explain: supported / rejected without warnings or notes."""
    return cell["verdict"] in HOLDS and not cell.get("warnings") and not cell.get("notes")


# --- Markdown within GitHub's comment limit -------------------------------------------------------


def md_size(text: str) -> int:
    """Characters as a JavaScript-side limit counts them (UTF-16 units): never fewer than Python's len."""
    return len(text.encode("utf-16-le")) // 2


class _Budget:
    """Lines up to a character budget. Sections go in priority order; once one is cut, the rest are
    only named in the closing line."""

    def __init__(self, limit: int):
        self.lines: list[str] = []
        self.left = limit
        self.cut = False
        self.omitted: list[str] = []

    def take(self, lines: list[str]) -> bool:
        size = sum(md_size(line) + 1 for line in lines)
        if self.cut or size > self.left - MD_RESERVE:
            return False
        self.force(lines)
        return True

    def force(self, lines: list[str]) -> None:
        """The opening, the cut notes and the closing line: they live on the reserve."""
        self.lines += lines
        self.left -= sum(md_size(line) + 1 for line in lines)

    def section(self, title: str, variants: list[tuple[list[str], list[list[str]], str]]) -> None:
        """The richest variant (head lines, items, what an item is) that fits whole; else the last one,
        cut after the items that fit, with a line saying how many more the HTML has."""
        if self.cut:
            self.omitted.append(title)
            return
        for head, items, _ in variants:
            if self.take(head + [line for item in items for line in item] + [""]):
                return
        head, items, what = variants[-1]
        if not self.take(head):
            self.cut = True
            self.omitted.append(title)
            return
        for i, item in enumerate(items):
            if not self.take(item):
                self.force(["", f"… {len(items) - i} more {what} not shown here (length limit): see [support-matrix.html](support-matrix.html)", ""])
                self.cut = True
                return
        self.force([""])


def render_markdown(matrix: dict, limit: int = MD_BUDGET) -> str:
    """The summary first, then what a reviewer needs, each section only while it fits in `limit`
    characters (GitHub's comment limit is 65,536); the full evidence stays in the HTML and JSON."""
    cells = matrix["cells"]
    ids = anchors(cells)
    targets = matrix["targets"]
    budget = _Budget(limit)
    n_models = sum(len(i.get("models", [])) for i in targets.values())
    intro = (f"Observed by anyint-conformance {matrix['suite_version']} ({matrix['mode']}"
             + (", strict: upstream OpenAI rules decide verdicts too" if matrix.get("strict") else "")
             + f"): {_plural(len(cells), 'cell')}, {_plural(n_models, 'model')}, {_plural(len(targets), 'target')}. Which endpoints each model supports comes first; "
             "every cell's evidence (request, status, first violation, cassette) is in "
             "[support-matrix.html](support-matrix.html) and support-matrix.json.")
    legend = ["| | verdict | meaning | cells |", "|---|---|---|---|"]
    total = dict(counts(cells))
    legend += [f"| {SYMBOLS.get(v, '')} | {v} | {MEANINGS.get(v, '(a verdict this renderer does not know)')} | {total.get(v, 0)} |"
               for v in verdict_order(total)]
    toc = "Targets: " + " · ".join(f"[{name}](#{_gh_anchor(name)}) ({_plural(len(info.get('models', [])), 'model')})" for name, info in targets.items())
    budget.force(["# Support matrix", "", intro, "", *legend, "", toc, ""])

    if matrix.get("security_findings"):
        items = [[f"- **{_one_line(f)}**"] for f in matrix["security_findings"]]
        budget.section("security findings", [(["## ⚠️ Security findings", ""], items, "security findings")])
    for name, info in targets.items():
        budget.section(f"summary of {name}", _summary_md(matrix, name, info, ids))
    for name in targets:
        for title, note, columns, rows in grids(matrix, name):
            budget.section(f"{title} of {name}", _grid_md(name, title, note, columns, rows, ids))
    if matrix.get("drift"):
        budget.section("changes against the baseline", [(
            ["## Changes against the baseline", "", "Cells whose verdict differs from the expectations (`suites/expectations/`): expected → observed.", ""],
            [[f"- `{d.get('target')}` · `{d.get('model') or '(any)'}` · {column({'route': d.get('route', '?'), 'parameter': d.get('parameter')})}: "
              f"{mark(d.get('expected'))} → {mark(d.get('observed'))}"] for d in matrix["drift"]],
            "changes")])
    if matrix.get("declared"):
        budget.section("declared vs observed", [(
            ["## Declared vs observed", "", "What was declared for a model or target against what was observed.", ""],
            [[f"- `{d.get('target')}` · `{d.get('model') or '(any)'}` · {d.get('family') or d.get('parameter') or '?'}: "
              f"declared {_value(d.get('declared'))}, observed {_value(d.get('observed'))}" + (f": {_short(d['message'], 160)}" if d.get("message") else "")]
             for d in matrix["declared"]],
            "findings")])
    details = [c for c in cells if not plain(c)]
    if details:
        budget.section("cells that are not plainly supported", _details_md(matrix, details, ids))
    for name in targets:
        parameters = [c for c in cells if c["target"] == name and c.get("kind") == "parameter"]
        if parameters:
            budget.section(f"parameters of {name}", _parameters_md(name, parameters))
    closing = "Full per-cell evidence: [support-matrix.html](support-matrix.html) (click a cell) and support-matrix.json."
    if budget.omitted:
        names = ", ".join(budget.omitted)
        closing = f"Not shown for length: {_short(names, 600)}. " + closing
    budget.force([closing])
    return "\n".join(budget.lines) + "\n"


def _gh_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _summary_md(matrix: dict, name: str, info: dict, ids: dict) -> list:
    cells = [c for c in matrix["cells"] if c["target"] == name]
    facts = [f"`{info.get('base_url', '?')}`"]
    if info.get("describes"):
        facts.append(f"what answered: {_one_line(info['describes'])}")
    if info.get("recorded_at"):
        facts.append(f"recorded {info['recorded_at']}")
    if observed_range(cells):
        facts.append(f"observed {observed_range(cells)}")
    head = [f"## {name}", "", " · ".join(facts), ""]
    rows = summary_rows(matrix, name)
    if not cells:
        return [(head + ["No cells."], [], "models")]
    table = ["| model | " + " | ".join(FAMILIES) + " |", "|---|" + "---|" * len(FAMILIES)]
    note = [f"Each cell: the worst verdict among the family's route and lifecycle cells. {', '.join(TARGET_WIDE)} are target-wide "
            f"(no model in the request): their verdict is in the {TARGET_WIDE_ROW} row. Empty: no such cell."]
    tally = ["", "Cells: " + ", ".join(f"{n} {mark(v)}" for v, n in counts(cells))]  # commas: untested's symbol is a dot

    def rows_md(links: bool, why: bool) -> list[list[str]]:
        out = []
        for model, row in rows:
            texts = []
            for fam in FAMILIES:
                entry = row.get(fam)
                if entry is None:
                    texts.append("")
                    continue
                text = mark(entry["verdict"]) + (f" ({entry['why']})" if why and entry["why"] else "")
                if links and entry["verdict"] != "supported":
                    text = f"[{text}](support-matrix.html#{ids[cell_key(entry['cell'])]})"
                texts.append(_one_line(text))
            label = model if model == TARGET_WIDE_ROW else f"`{model}`"
            out.append([f"| {label} | " + " | ".join(texts) + " |"])
        return out

    # the tally goes first in the cut variant: the table may be cut, the counts must not
    return [
        (head + table, rows_md(True, True) + [tally, [""] + note], "models"),
        (head + table, rows_md(False, True) + [tally, [""] + note], "models"),
        (head + tally[1:] + [""] + note + [""] + table, rows_md(False, False), "models"),
    ]


def _details_md(matrix: dict, details: list[dict], ids: dict) -> list:
    """Non-plain cells grouped by column and verdict, the models listed: compact. Routes and lifecycles
    come before parameters and invalid requests, the worst verdict first, so a cut drops the least."""
    head = ["## Cells that are not plainly supported", "",
            "Grouped by column and verdict (routes, lifecycles, parameters, credentials, invalid requests; worst first): "
            "how many models, which (linked to their evidence while the length allows), the commonest reason.", ""]
    groups: dict[tuple, list[dict]] = {}
    for c in details:
        groups.setdefault((c["target"], c.get("kind", "route"), column(c), c["verdict"]), []).append(c)
    kinds = {k: i for i, k in enumerate(("route", "lifecycle", "parameter", "auth", "negative"))}
    rank = {v: i for i, v in enumerate(WORST_FIRST)}
    order = sorted(groups, key=lambda k: (k[0], kinds.get(k[1], len(kinds)), rank.get(k[3], -1), k[2]))
    models = {t: info.get("models", []) for t, info in matrix["targets"].items()}

    def who(group: list[dict], target: str, links: bool) -> str:
        names = [c["model"] or "(any)" for c in group]
        every = models.get(target) or []
        if len(every) > 3 and set(every) <= set(names):
            return f"all {len(every)} models"
        if len(every) > 3 and len(names) > len(every) / 2 and set(names) <= set(every):  # shorter the other way round
            return f"all {len(every)} models but " + ", ".join(f"`{m}`" for m in every if m not in names)
        if links:
            return ", ".join(f"[`{n}`](support-matrix.html#{ids[cell_key(c)]})" for n, c in zip(names, group))
        return ", ".join(f"`{n}`" for n in names)

    def items(links: bool, reason_len: int) -> list[list[str]]:
        out, target = [], None
        for key in order:
            group = groups[key]
            lines = []
            if key[0] != target:
                lines += ([""] if target else []) + [f"### {key[0]}: not plainly supported", ""]
                target = key[0]
            reasons = Counter(_one_line(c.get("reason", "")) for c in group).most_common()
            why = _short(reasons[0][0], reason_len) + (f" (+{len(reasons) - 1} other reasons)" if len(reasons) > 1 else "")
            lines.append(f"- {_one_line(key[2])} · **{mark(key[3])}**{_flags(group)} · {len(group)}: {who(group, key[0], links)} · {why}")
            out.append(lines)
        return out

    return [(head, items(True, 160), "groups of cells"), (head, items(False, 100), "groups of cells"), (head, items(False, 60), "groups of cells")]


def _flags(group: list[dict]) -> str:
    """How many cells of a group carry a note or warnings (a refusal without the OpenAI error envelope, e.g. {"detail": ...})."""
    envelope = sum(any(isinstance(n, dict) and n.get("check") == "error_envelope" for n in c.get("notes") or []) for c in group)
    findings = sum(bool(c.get("notes")) for c in group) - envelope
    warned = sum(bool(c.get("warnings")) for c in group)
    flags = [(envelope, "no error envelope"), (findings, "with findings"), (warned, "with warnings")]
    return "".join(f" · {n} {text}" for n, text in flags if n)


def _parameters_md(name: str, cells: list[dict]) -> list:
    """Rows models, columns parameters, symbol and word in every cell."""
    pairs = sorted({(c["route"], c["parameter"]) for c in cells})
    shared = Counter(p for _, p in pairs)
    titles = [p if shared[p] == 1 else f"{p} ({r.split(' ', 1)[-1].strip('/')})" for r, p in pairs]
    head = [f"## {name}: parameters", "", "| model | " + " | ".join(_one_line(t) for t in titles) + " |", "|---|" + "---|" * len(pairs)]
    rows = []
    for model in sorted({c["model"] or "(any)" for c in cells}):
        row = {(c["route"], c["parameter"]): c for c in cells if (c["model"] or "(any)") == model}
        rows.append([f"| `{model}` | " + " | ".join(_cell_text(row.get(p)) for p in pairs) + " |"])
    return [(head, rows, "models")]


def _grid_md(name: str, title: str, note: str, columns: list[str], rows: list, ids: dict) -> list:
    """A per-target table: rows models, columns clients x flows or fields, symbol and word in every cell
    (linked to the evidence while the length allows)."""
    head = [f"## {name}: {title}", "", f"{note[0].upper()}{note[1:]}.", "", "| model | " + " | ".join(_one_line(t) for t in columns) + " |",
            "|---|" + "---|" * len(columns)]

    def lines(links: bool) -> list[list[str]]:
        out = []
        for model, row in rows:
            texts = []
            for col in columns:
                cell = row.get(col)
                text = _cell_text(cell)
                if links and cell is not None and cell["verdict"] != "supported":
                    text = f"[{text}](support-matrix.html#{ids[cell_key(cell)]})"
                texts.append(text)
            out.append([f"| `{model}` | " + " | ".join(texts) + " |"])
        return out

    return [(head, lines(True), "models"), (head, lines(False), "models")]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _value(value) -> str:
    return mark(value) if isinstance(value, str) and value in SYMBOLS else f"`{_one_line(value)}`"


def _short(text: str, n: int) -> str:
    text = _one_line(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def _one_line(text) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _cell_text(cell: dict | None) -> str:
    if cell is None:
        return ""
    text = mark(cell["verdict"])
    if cell["verdict"] != "supported" and cell.get("status"):
        text += f" ({cell['status']})"
    if any(isinstance(n, dict) and n.get("check") == "error_envelope" for n in cell.get("notes") or []):
        text += " · no error envelope"
    if cell.get("warnings"):
        text += f" · {len(cell['warnings'])} warning" + ("s" if len(cell["warnings"]) > 1 else "")
    return text
