"""Working with written support matrices: load (validated), diff two of them, merge shards.

The JSON that report.build_matrix writes is the source; everything here reads it, and merge goes back
through build_matrix so a merged matrix is exactly what one run over all shards would have written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from anyint_conformance.model.paths import write_atomic
from anyint_conformance.model.verdicts import cell_key
from anyint_conformance.reports.report import FORMAT, READABLE_VERSIONS, build_matrix, column
from anyint_conformance.model.verdicts import scrub

TOP_KEYS = ("format", "version", "suite_version", "mode", "targets", "cells")
CELL_KEYS = ("target", "model", "route", "parameter", "verdict")
# A cell "holds" when it shows the documented behaviour: a supported route or parameter, or an invalid
# request / bad credentials refused as documented. Losing either is what --fail-on-lost guards.
HOLDS = ("supported", "rejected")


class MatrixError(ValueError):
    """A file or a set of files that cannot be used as a support matrix; the message says which and why."""


def load(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MatrixError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise MatrixError(f"{path}: not a support matrix (not UTF-8 text)") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MatrixError(f"{path}: not a support matrix (invalid JSON: {exc})") from None
    return validate(data, str(path))


def validate(data, name: str = "matrix") -> dict:
    """Check the shape this module relies on; return the matrix unchanged."""
    if not isinstance(data, dict):
        raise MatrixError(f"{name}: not a support matrix (a JSON {type(data).__name__}, expected an object)")
    if data.get("format") != FORMAT:
        raise MatrixError(f"{name}: not a support matrix (format is {data.get('format')!r}, expected {FORMAT!r})")
    if data.get("version") not in READABLE_VERSIONS:
        readable = " and ".join(map(str, READABLE_VERSIONS))
        raise MatrixError(f"{name}: unsupported matrix version {data.get('version')!r} (this tool reads versions {readable})")
    missing = [k for k in TOP_KEYS if k not in data]
    if missing:
        raise MatrixError(f"{name}: malformed matrix: missing {', '.join(missing)}")
    if not isinstance(data["targets"], dict) or not all(isinstance(v, dict) for v in data["targets"].values()):
        raise MatrixError(f"{name}: malformed matrix: 'targets' must map a name to an object")
    if not isinstance(data["cells"], list):
        raise MatrixError(f"{name}: malformed matrix: 'cells' must be a list")
    # version 2's additions; a version-1 file lacks them and reads as if they were absent
    if not isinstance(data.get("strict", False), bool):
        raise MatrixError(f"{name}: malformed matrix: 'strict' must be true or false")
    for key in ("drift", "declared"):
        if not isinstance(data.get(key, []), list) or not all(isinstance(d, dict) for d in data.get(key, [])):
            raise MatrixError(f"{name}: malformed matrix: '{key}' must be a list of objects")
    for i, cell in enumerate(data["cells"]):
        lacking = [k for k in CELL_KEYS if not isinstance(cell, dict) or k not in cell]
        if lacking:
            raise MatrixError(f"{name}: malformed matrix: cells[{i}] lacks {', '.join(lacking)}")
    return data


def label(cell: dict) -> str:
    return f"{cell['target']} · {cell['model'] or '(any)'} · {column(cell)}"


@dataclass
class Diff:
    gained: list[tuple[dict, dict]] = field(default_factory=list)  # (before, after): holds now, did not
    lost: list[tuple[dict, dict]] = field(default_factory=list)  # held, does not any more
    changed: list[tuple[dict, dict]] = field(default_factory=list)  # any other verdict change
    added: list[dict] = field(default_factory=list)  # only in after
    removed: list[dict] = field(default_factory=list)  # only in before

    def __bool__(self) -> bool:
        return any((self.gained, self.lost, self.changed, self.added, self.removed))


def diff(before: dict, after: dict) -> Diff:
    """Verdict changes between two matrices. A cell present in only one side is added/removed, never lost."""
    old = {cell_key(c): c for c in before["cells"]}
    new = {cell_key(c): c for c in after["cells"]}
    out = Diff()
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a is None:
            out.added.append(b)
        elif b is None:
            out.removed.append(a)
        elif a["verdict"] != b["verdict"]:
            if b["verdict"] in HOLDS and a["verdict"] not in HOLDS:
                out.gained.append((a, b))
            elif a["verdict"] in HOLDS and b["verdict"] not in HOLDS:
                out.lost.append((a, b))
            else:
                out.changed.append((a, b))
    return out


def _evidence(cell: dict) -> list[str]:
    """The new verdict's why, as indented lines under a diff entry."""
    lines = [f"    reason: {' '.join(str(cell.get('reason', '')).split())}"]
    violation = cell.get("violation") or {}
    if violation.get("path"):
        lines.append(f"    first violation at {violation['path']} ({violation.get('check')})")
    if cell.get("cassette"):
        where = cell["cassette"] + (f" #{cell['interaction']}" if cell.get("interaction") is not None else "")
        lines.append(f"    evidence: {where}")
    return lines


def render_diff(d: Diff) -> str:
    out = []
    for sign, kind, pairs in (("-", "lost", d.lost), ("+", "gained", d.gained), ("~", "changed", d.changed)):
        for a, b in pairs:
            out.append(f"{sign} {kind} {label(b)}: {a['verdict']} → {b['verdict']}")
            out += _evidence(b)
    for c in d.added:
        out.append(f"+ added {label(c)}: {c['verdict']}")
        out += _evidence(c)
    for c in d.removed:
        out.append(f"- removed {label(c)}: was {c['verdict']}")
    counts = ", ".join(f"{len(getattr(d, k))} {k}" for k in ("lost", "gained", "changed", "added", "removed"))
    out.append(counts if d else "no changes")
    return "\n".join(out) + "\n"


def merge(matrices: list[dict], names: list[str] | None = None) -> dict:
    """One matrix from shards (e.g. one run per model or per target). Shards must not disagree."""
    if not matrices:
        raise MatrixError("nothing to merge")
    names = names or [f"input {i + 1}" for i in range(len(matrices))]
    _whole_set_of_shards(matrices, names)
    first = matrices[0]
    for m, name in zip(matrices[1:], names[1:]):
        for key, absent in (("suite_version", None), ("mode", None), ("strict", False)):
            if m.get(key, absent) != first.get(key, absent):
                raise MatrixError(f"{name}: {key} {m.get(key, absent)!r} differs from {names[0]}'s {first.get(key, absent)!r}; "
                                  "shards must come from the same suite and mode")
    targets: dict[str, dict] = {}
    cells: dict[tuple, tuple[dict, str]] = {}
    for m, name in zip(matrices, names):
        for target, info in m["targets"].items():
            merged = targets.setdefault(target, {})
            for k, v in info.items():
                if k == "models":  # recomputed by build_matrix from the merged cells
                    continue
                if k == "recorded_at" and k in merged:  # shards recorded minutes apart are one recording
                    v = max(v, merged[k])
                elif k in merged and merged[k] != v:
                    raise MatrixError(f"{name}: target {target} has {k} {v!r}, another shard {merged[k]!r}; not the same target")
                merged[k] = v
        for cell in m["cells"]:
            key = cell_key(cell)
            if key in cells and cells[key][0] != cell:
                raise MatrixError(f"shards overlap: {label(cell)} differs between {cells[key][1]} and {name}")
            cells.setdefault(key, (cell, name))
    extra = {key: _union(m.get(key, []) for m in matrices) for key in ("drift", "declared")}
    return build_matrix([c for c, _ in cells.values()], targets, first["suite_version"], first["mode"], strict=first.get("strict", False), **extra)


def _whole_set_of_shards(matrices: list[dict], names: list[str]) -> None:
    """Shard files (--shard I/N) merge only as a whole set: the same N, every index once, each run to its end
    (a missing or interrupted shard would make a matrix that looks complete and is not)."""
    shards = [(m["shard"], name) for m, name in zip(matrices, names) if isinstance(m.get("shard"), dict)]
    if not shards:
        return
    counts = {s["of"] for s, _ in shards}
    if len(counts) > 1:
        splits = ", ".join(f"{name}: {s['index']}/{s['of']}" for s, name in shards)
        raise MatrixError(f"shards of different splits ({splits}): merge one --shard I/N set")
    of = counts.pop()
    seen: dict[int, str] = {}
    for s, name in shards:
        if s["index"] in seen:
            raise MatrixError(f"shard {s['index']}/{of} given twice: {seen[s['index']]} and {name}")
        seen[s["index"]] = name
        if not s.get("complete"):
            why = "; ".join(s.get("incomplete") or []) or "it did not run to its end"
            raise MatrixError(f"{name}: shard {s['index']}/{of} did not run to its end ({why}): run it again (same options, --shard {s['index']}/{of})")
    missing = [i for i in range(1, of + 1) if i not in seen]
    if missing:
        raise MatrixError(f"shard(s) {', '.join(f'{i}/{of}' for i in missing)} missing: a merge needs all {of} shard files (shard-I-of-{of}.json)")


def _union(lists) -> list[dict]:
    """Entries of every shard once (a shard per model repeats none; overlapping shards may)."""
    seen = {}
    for entries in lists:
        for entry in entries:
            seen.setdefault(json.dumps(entry, sort_keys=True, default=str), entry)
    return list(seen.values())


def dumps(matrix: dict) -> str:
    """The matrix file's text; `write` and `merge` both use it, so a merged file equals a single run's."""
    return json.dumps(matrix, indent=2, ensure_ascii=False, default=str) + "\n"


def write(matrix: dict, report_dir: Path, secrets: list[str] = (), with_json: bool = True) -> list[Path]:
    """support-matrix.json (the source), .md and .html, with every known key value scrubbed. Every text is
    rendered before any file is touched, and each file is replaced atomically: an interrupted write leaves
    the earlier matrix, never a torn or partial one."""
    from anyint_conformance.reports import html  # imported here: html is a heavier module that diff/merge never need
    from anyint_conformance.reports.report import render_markdown

    report_dir.mkdir(parents=True, exist_ok=True)
    outputs = {"support-matrix.md": render_markdown(matrix), "support-matrix.html": html.render_html(matrix)}
    if with_json:
        outputs = {"support-matrix.json": dumps(matrix), **outputs}
    outputs = {name: scrub(text, secrets) for name, text in outputs.items()}
    # the JSON (the source) last: the renderings never describe a matrix that is not on disk yet
    order = [n for n in outputs if n != "support-matrix.json"] + [n for n in outputs if n == "support-matrix.json"]
    written = {name: write_atomic(report_dir / name, outputs[name]) for name in order}
    return [written[name] for name in outputs]
