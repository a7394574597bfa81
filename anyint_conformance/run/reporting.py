"""A finished run's cells -> the matrix on disk (reports/support-matrix.{json,md,html}), nothing lost.

The engine's side of reporting: it knows the run (targets, what they declared, expectations, whether
the run was a selection); report.py, html.py and matrix.py only render and store what they are given.
"""

from __future__ import annotations

from anyint_conformance import __version__
from anyint_conformance.model.paths import shown, write_atomic
from anyint_conformance.model.verdicts import Cell, Verdict, scrub
from anyint_conformance.reports import matrix as matrices
from anyint_conformance.reports.declared import confront, note_cells, unknown_keys
from anyint_conformance.reports.observed import carry_over, carry_targets
from anyint_conformance.reports.report import build_matrix
from anyint_conformance.run.cassettes import Cassettes
from anyint_conformance.run.context import RunContext
from anyint_conformance.run.discovery import Discovery


def write_run(ctx: RunContext, cassettes: Cassettes, discovered: dict[str, Discovery], cells: list[Cell], requests: int,
              incomplete: list[str], selected: bool, groups: list | None = None) -> list[str]:
    """Write the run's matrix (merged with the one on disk: see observed.py) and return the summary lines.
    Only a complete run (not a selection, and run to its end: `incomplete` is empty) may drop the cells
    of a target that it no longer produces."""
    observed = cells
    touched = sorted({c.target for c in observed})
    infos = cassettes.write_manifests(touched)
    cells = [c.to_dict() for c in observed]
    existing_path = ctx.cfg.report_dir / "support-matrix.json"
    note = ""
    resume = cassettes.finish(complete=not incomplete)
    if ctx.shard is not None:  # a shard's file holds what it observed; merge makes the matrix of the whole run
        return _write_shard(ctx, discovered, cells, infos, touched, requests, incomplete, groups) + resume
    if existing_path.exists():
        try:
            existing = matrices.load(existing_path)
        except matrices.MatrixError as exc:
            existing, note = None, f" (the earlier matrix was not kept: {exc})"
        if existing is not None:
            cells = carry_over(existing["cells"], cells, set() if selected or incomplete else set(touched))
            infos = carry_targets(existing["targets"], infos)
            if len(cells) > len(observed):
                note = f" ({len(cells) - len(observed)} cells this run did not observe kept from the earlier matrix)"
    declared = _declarations(ctx, discovered, infos, touched)
    contradictions = confront(cells, declared)
    note_cells(cells, contradictions)
    matrix = build_matrix(cells, infos, __version__, ctx.cfg.mode, strict=ctx.cfg.strict, drift=ctx.expectations.drift(cells),
                          declared=contradictions + unknown_keys(declared))
    paths = matrices.write(matrix, ctx.cfg.report_dir, ctx.secrets)
    answered = "answered from cassettes" if not ctx.live else "sent"
    lines = [f"anyint-conformance: {len(observed)} cells observed, {requests} requests {answered}{note} -> " + ", ".join(shown(p) for p in paths)]
    if incomplete:
        lines.append(f"anyint-conformance: the run did not run to its end ({'; '.join(incomplete)}): every cell it did not observe kept its earlier verdict")
    kept = cassettes.resumed()
    if kept:
        lines.append("anyint-conformance: resumed the interrupted re-recording: " + ", ".join(f"{n} cassettes of {t} kept" for t, n in sorted(kept.items())))
    lines += resume
    lenient = sum(c.verdict == Verdict.LENIENT.value for c in observed)
    if lenient:
        lines.append(f"anyint-conformance: {lenient} cell(s) lenient: accepted what only upstream OpenAI refuses "
                     f"(passes under the pages' rules; --strict-upstream fails them)")
    return lines


def _write_shard(ctx: RunContext, discovered: dict[str, Discovery], cells: list[dict], infos: dict, touched: list[str], requests: int,
                 incomplete: list[str], groups: list | None) -> list[str]:
    """shard-I-of-N.json: the matrix of this shard's cells alone (judged and noted as one run would), plus
    which shard it is, its groups and whether it ran to its end; support-matrix.* are left as they were."""
    declared = _declarations(ctx, discovered, infos, touched)
    contradictions = confront(cells, declared)
    note_cells(cells, contradictions)
    matrix = build_matrix(cells, infos, __version__, ctx.cfg.mode, strict=ctx.cfg.strict, drift=ctx.expectations.drift(cells),
                          declared=contradictions + unknown_keys(declared))
    shard = ctx.shard
    matrix["shard"] = {"index": shard.index, "of": shard.of, "complete": not incomplete, "incomplete": list(incomplete),
                       "groups": [list(g) for g in groups or []]}
    path = write_atomic(ctx.cfg.report_dir / shard.file, scrub(matrices.dumps(matrix), ctx.secrets))
    answered = "answered from cassettes" if not ctx.live else "sent"
    folder = shown(ctx.cfg.report_dir)
    lines = [f"anyint-conformance: shard {shard.name}: {len(cells)} cells observed, {requests} requests {answered} -> {shown(path)}; "
             f"when all {shard.of} are done: anyint-conformance merge merged/support-matrix.json {folder}/shard-*-of-{shard.of}.json "
             f"&& anyint-conformance render merged/support-matrix.json"]
    if incomplete:
        lines.append(f"anyint-conformance: shard {shard.name} did not run to its end ({'; '.join(incomplete)}): merge will refuse it until it is run again")
    return lines


def _declarations(ctx: RunContext, discovered: dict[str, Discovery], infos: dict, touched: list[str]) -> dict[str, dict[str, dict]]:
    """{target: {model: what it declares}}: the raw GET /models entry of every model this run saw (kept in
    the matrix's target info), merged with the --declarations file; carried-over targets keep theirs."""
    extra = ctx.declarations
    names = {t.name for t in ctx.targets}
    for target in touched:
        found = discovered.get(target)
        entries = dict(found.entries) if found else {}
        for key, value in extra.items():  # {model: ...} for every target, or {target: {model: ...}}
            if key in names:
                if key == target:
                    for model, entry in value.items():
                        entries[model] = {**entries.get(model, {}), **entry}
            elif key in entries or key in (found.models if found else []):
                entries[key] = {**entries.get(key, {}), **value}
        infos[target]["declared"] = entries
    return {name: info.get("declared", {}) for name, info in infos.items()}
