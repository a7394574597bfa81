"""The support matrix as one self-contained HTML page (inline CSS and JS, nothing fetched).

The first screen answers which endpoints each model supports: legend, targets, security findings and
a table per target, rows models, columns route families, a symbol and a word in every cell. Tables and evidence are rendered here, server side, so the page reads without JS and every cell's
evidence has a stable anchor (`#cell-<target>-<model>-<column>`) that the Markdown can link to; the
JS only filters and opens the evidence panel. Everything from the matrix is escaped: cells carry
server text.
"""

from __future__ import annotations

import json
from html import escape as e
from itertools import groupby

from anyint_conformance.model.families import FAMILIES, TARGET_WIDE
from anyint_conformance.reports.report import (
    KINDS,
    MEANINGS,
    TEXT_SYMBOLS,
    grids,
    TARGET_WIDE_ROW,
    anchors,
    cell_key,
    column,
    counts,
    mark,
    observed_range,
    slug,
    summary_rows,
    verdict_order,
)
from anyint_conformance.model.verdicts import Verdict

VERDICTS = [v.value for v in Verdict]
# verdict: (background, text). Colour is a third cue beside the symbol and the word, never the only one.
# supported and broken are matched exactly by the screenshot test.
STYLE = {
    "supported": ("#2ea043", "#ffffff"),
    "unverified": ("#d4edda", "#1f2328"),
    "ignored": ("#f5d547", "#1f2328"),
    "unsupported": ("#c4cad1", "#1f2328"),
    "non-conforming": ("#f0883e", "#1f2328"),
    "broken": ("#d1242f", "#ffffff"),
    "untested": ("#ffffff", "#57606a"),
    "rejected": ("#a6e3b0", "#1f2328"),
    "lenient": ("#e2d5f8", "#1f2328"),
    "accepted": ("#8250df", "#ffffff"),
}
OTHER = ("#eaeef2", "#1f2328")  # a verdict this renderer does not know yet still renders


def render_html(matrix: dict) -> str:
    """The answer first (legend, targets, security findings, a family table per target), then every
    cell in per-kind tables with filters, and the evidence panel."""
    cells = matrix["cells"]
    ids = anchors(cells)
    verdicts = verdict_order(c["verdict"] for c in cells)
    total = dict(counts(cells))
    columns = sorted({column(c) for c in cells})
    by_target = {name: [c for c in cells if c["target"] == name] for name in matrix["targets"]}
    strict = " Strict: upstream OpenAI rules decided verdicts too." if matrix.get("strict") else ""
    out = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Support matrix · anyint-conformance</title>\n<style>{_css(verdicts)}</style></head><body>",
        "<header><h1>Support matrix</h1>",
        f"<p>Observed by anyint-conformance {e(str(matrix['suite_version']))} ({e(str(matrix['mode']))}): "
        f"{len(cells)} cells, {len(matrix['targets'])} target(s).{strict} First: which endpoints each model supports; "
        "below, every cell. Click a cell for its evidence.</p>",
        '<ul class="legend">',
        *(f'<li><span class="chip v-{slug(v)}">{e(mark(v, text=True))}</span> {total.get(v, 0)} '
          f'<span class="muted">{e(MEANINGS.get(v, "a verdict this renderer does not know"))}</span></li>' for v in verdicts),
        "</ul>",
        '<nav class="toc"><b>Targets:</b> ',
        " · ".join(f'<a href="#t-{slug(name)}">{e(name)}</a> ({len(info.get("models", []))} models, '
                   f'<a href="#cells-{slug(name)}">{len(by_target[name])} cells</a>)' for name, info in matrix["targets"].items()),
        "</nav></header><main>",
    ]
    if matrix.get("security_findings"):
        out.append('<div class="security"><b>⚠ Security findings</b><ul>')
        out += [f"<li>{e(str(f))}</li>" for f in matrix["security_findings"]]
        out.append("</ul></div>")
    for name, info in matrix["targets"].items():
        out += _answer(matrix, name, info, by_target[name], ids)
    out += _drift(matrix.get("drift") or [], ids) + _declared(matrix.get("declared") or [])
    out += [
        '<section id="all-cells"><h2>All cells</h2>',
        '<form class="filters" onsubmit="return false">',
        '<label>model <input id="f-model" type="search" placeholder="filter models"></label>',
        '<label>column <select id="f-column"><option value="">all columns</option>',
        *(f'<option value="{e(c)}">{e(c)}</option>' for c in columns),
        "</select></label><span>",
        *(f'<label class="chip v-{slug(v)}"><input type="checkbox" name="verdict" value="{e(v)}" checked>{e(mark(v, text=True))}</label>' for v in verdicts),
        "</span></form>",
    ]
    for name, info in matrix["targets"].items():
        out += _target(name, by_target[name], ids)
    out += [
        '</section></main><aside id="evidence"><button type="button" id="close" title="close (Esc)">×</button>',
        *(_evidence(c, ids[cell_key(c)]) for c in cells),
        f"</aside><script>{_JS}</script></body></html>",
    ]
    return "\n".join(out) + "\n"


def _style(verdict: str) -> tuple[str, str]:
    return STYLE.get(verdict, OTHER)


def _answer(matrix: dict, name: str, info: dict, cells: list[dict], ids: dict) -> list[str]:
    """The target's answer-first table: rows models (and the target-wide row), columns route families."""
    out = [f'<section class="answer" id="t-{slug(name)}"><h2>{e(name)}</h2><ul class="info">']
    out.append(f"<li>base URL: <code>{e(str(info.get('base_url', '?')))}</code></li>")
    for key, text in (("describes", "what answered"), ("recorded_at", "recorded")):
        if info.get(key):
            out.append(f"<li>{text}: {e(str(info[key]))}</li>")
    if observed_range(cells):
        out.append(f"<li>observed: {e(observed_range(cells))}</li>")
    out.append("</ul>")
    if not cells:
        return out + ["<p>No cells.</p></section>"]
    rows = summary_rows(matrix, name)
    wide = rows[0][1] if rows and rows[0][0] == TARGET_WIDE_ROW else {}
    out.append(f'<div class="scroll"><table class="summary" data-target="{e(name)}"><thead><tr><th class="model">model</th>')
    for fam in FAMILIES:
        note = "<br><small>target-wide</small>" if fam in TARGET_WIDE else ""
        out.append(f'<th data-family="{e(fam)}">{e(fam)}{note}</th>')
    out.append("</tr></thead><tbody>")
    for model, row in rows:
        label = e(model) if model == TARGET_WIDE_ROW else f"<code>{e(model)}</code>"
        out.append(f'<tr data-row="{e(model)}"><th class="model">{label}</th>')
        for fam in FAMILIES:
            entry = row.get(fam)
            if entry is None and fam in wide and model != TARGET_WIDE_ROW:
                out.append(f'<td class="none" title="{e(fam)} is target-wide: see the {TARGET_WIDE_ROW} row">↑</td>')
            elif entry is None:
                out.append('<td class="none" title="no cell of this family">—</td>')
            else:
                v, c = entry["verdict"], entry["cell"]
                why = f" <small>{e(entry['why'])}</small>" if entry["why"] else ""
                # the line may break between symbol and word, never inside the word
                text = f'{e(TEXT_SYMBOLS[v])} <span class="w">{e(v)}</span>' if v in TEXT_SYMBOLS else f'<span class="w">{e(v)}</span>'
                out.append(f'<td class="fam v-{slug(v)}"><a href="#{ids[cell_key(c)]}" title="{e(column(c))}: {e(str(c.get("reason", "")))}">'
                           f"{text}{why}</a></td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    out.append('<p class="counts">Each cell: the worst verdict among the family\'s route and lifecycle cells. Cells: '
               + ", ".join(f'{n} <span class="chip v-{slug(v)}">{e(mark(v, text=True))}</span>' for v, n in counts(cells)) + "</p>")
    for title, note, columns, rows in grids(matrix, name):
        out += _grid(name, title, note, columns, rows, ids)
    return out + ["</section>"]


def _grid(name: str, title: str, note: str, columns: list[str], rows: list, ids: dict) -> list[str]:
    """Client readiness / beyond the page: a row per model, a column per client x flow or field; every cell
    its symbol and word, linked to its evidence."""
    out = [f'<h3 id="{slug(name)}-{slug(title)}">{e(name)}: {e(title)}</h3><p class="muted">{e(note)}.</p>',
           f'<div class="scroll"><table class="grid" data-target="{e(name)}" data-grid="{slug(title)}"><thead><tr><th>model</th>',
           *(f"<th>{e(c)}</th>" for c in columns), "</tr></thead><tbody>"]
    for model, row in rows:
        out.append(f'<tr data-row="{e(model)}"><th><code>{e(model)}</code></th>')
        for col in columns:
            cell = row.get(col)
            if cell is None:
                out.append('<td class="none">—</td>')
                continue
            v = cell["verdict"]
            out.append(f'<td class="fam v-{slug(v)}"><a href="#{ids[cell_key(cell)]}" title="{e(str(cell.get("reason", "")))}">'
                       f'{e(TEXT_SYMBOLS.get(v, ""))} <span class="w">{e(v)}</span></a></td>')
        out.append("</tr>")
    return out + ["</tbody></table></div>"]


def _drift(drift: list[dict], ids: dict) -> list[str]:
    if not drift:
        return []
    out = ['<section class="drift"><h2>Changes against the baseline</h2>',
           "<p>Cells whose verdict differs from the expectations (<code>suites/expectations/</code>).</p>",
           "<table><thead><tr><th>target</th><th>model</th><th>column</th><th>expected</th><th>observed</th></tr></thead><tbody>"]
    for d in drift:
        col = column({"route": d.get("route", "?"), "parameter": d.get("parameter")})
        anchor = ids.get((d.get("target"), d.get("model") or "", d.get("route"), d.get("parameter") or ""))
        link = f'<a href="#{anchor}">{e(col)}</a>' if anchor else e(col)
        out.append(f"<tr><td>{e(str(d.get('target')))}</td><td><code>{e(str(d.get('model') or '(any)'))}</code></td><td>{link}</td>"
                   f"<td>{_chip(d.get('expected'))}</td><td>{_chip(d.get('observed'))}</td></tr>")
    return out + ["</tbody></table></section>"]


def _declared(declared: list[dict]) -> list[str]:
    if not declared:
        return []
    out = ['<section class="declared"><h2>Declared vs observed</h2>',
           "<table><thead><tr><th>target</th><th>model</th><th>family or parameter</th><th>declared</th><th>observed</th><th>why</th></tr></thead><tbody>"]
    for d in declared:
        out.append(f"<tr><td>{e(str(d.get('target')))}</td><td><code>{e(str(d.get('model') or '(any)'))}</code></td>"
                   f"<td>{e(str(d.get('family') or d.get('parameter') or '?'))}</td><td>{_chip(d.get('declared'))}</td>"
                   f"<td>{_chip(d.get('observed'))}</td><td>{e(str(d.get('message', '')))}</td></tr>")
    return out + ["</tbody></table></section>"]


def _chip(value) -> str:
    if isinstance(value, str) and value in TEXT_SYMBOLS:
        return f'<span class="chip v-{slug(value)}">{e(mark(value, text=True))}</span>'
    return e(str(value))


def _target(name: str, cells: list[dict], ids: dict) -> list[str]:
    out = [f'<section class="target" id="cells-{slug(name)}"><h3>{e(name)}: every cell</h3>']
    if not cells:
        out.append("<p>No cells.</p>")
    titles = dict(KINDS)
    for kind in [k for k, _ in KINDS] + sorted({c.get("kind", "route") for c in cells} - set(titles)):
        group = [c for c in cells if c.get("kind", "route") == kind]
        if group:
            out += [f"<h4>{e(titles.get(kind, kind))}</h4>", *_table(group, ids)]
    return out + ["</section>"]


def _table(cells: list[dict], ids: dict) -> list[str]:
    """Rows are models; columns grouped under their route, the parameter (if any) below it."""
    pairs = sorted({(c["route"], c["parameter"] or "") for c in cells})
    columns = [column({"route": r, "parameter": p}) for r, p in pairs]
    out = ['<div class="scroll"><table><thead><tr><th class="model" rowspan="2">model</th>']
    for route, group in groupby(pairs, key=lambda rp: rp[0]):
        out.append(f'<th class="route" data-route="{e(route)}" colspan="{len(list(group))}">{e(route)}</th>')
    out.append("</tr><tr>")
    for (route, param), col in zip(pairs, columns):
        out.append(f'<th class="param" data-route="{e(route)}" data-column="{e(col)}" title="{e(col)}"><span>{e(param or "(route)")}</span></th>')
    out.append("</tr></thead><tbody>")
    for model in sorted({c["model"] or "(any)" for c in cells}):
        row = {column(c): c for c in cells if (c["model"] or "(any)") == model}
        out.append(f'<tr data-model="{e(model)}"><th class="model"><code>{e(model)}</code></th>')
        for col in columns:
            c = row.get(col)
            if c is None:
                out.append(f'<td class="absent" data-column="{e(col)}"></td>')
                continue
            v, anchor = c["verdict"], ids[cell_key(c)]
            # symbol, word and status in every cell: never colour (or a tooltip) alone
            text = e(f'{TEXT_SYMBOLS.get(v, "")} {v}'.strip()) + (f' <small>{e(str(c["status"]))}</small>' if c.get("status") and v not in ("supported", "rejected") else "")
            if c.get("warnings"):
                text += f"<sup>{len(c['warnings'])} warning{'s' if len(c['warnings']) > 1 else ''}</sup>"
            tip = f"{v}: {c.get('reason', '')}"
            out.append(
                f'<td class="cell v-{slug(v)}" data-verdict="{e(v)}" data-column="{e(col)}" data-anchor="{anchor}">'
                f'<a href="#{anchor}" title="{e(tip)}">{text}</a></td>'
            )
        out.append("</tr>")
    return out + ["</tbody></table></div>"]


def _finding(f) -> str:
    """A finding: message, JSON path, where its rule comes from (documented / sdk / upstream / http) and the rule quoted."""
    if not isinstance(f, dict):
        return e(str(f))
    text = e(str(f.get("message", "")))
    if f.get("path"):
        text += f" (<code>{e(str(f['path']))}</code>)"
    if f.get("provenance"):
        text += f' <span class="tag">{e(str(f["provenance"]))}</span>'
    if f.get("rule"):
        text += f" <q>{e(str(f['rule']))}</q>"
    return text


def _evidence(c: dict, anchor: str) -> str:
    def row(key: str, value: str) -> str:
        return f"<dt>{key}</dt><dd>{value}</dd>"

    v = c["verdict"]
    out = [
        f'<section class="evidence" id="{anchor}"><h3>{e(c["target"])} · <code>{e(c["model"] or "(any)")}</code><br>{e(column(c))}</h3><dl>',
        row("verdict", f'<span class="chip v-{slug(v)}">{e(mark(v, text=True))}</span>' + (" (strict: upstream rules decided too)" if c.get("strict") else "")),
        row("status", e(str(c.get("status") or "—"))),
        row("reason", e(str(c.get("reason", "")))),
    ]
    if c.get("family"):
        out.append(row("family", e(str(c["family"]))))
    violation = c.get("violation")
    if violation:
        where = f"{e(str(violation.get('check')))}" + (f" at <code>{e(str(violation['path']))}</code>" if violation.get("path") else "")
        out.append(row("first violation", f"{where}: {_finding({**violation, 'path': None})}"))
    for key in ("warnings", "notes"):
        if c.get(key):
            out.append(row(key, "<ul>" + "".join(f"<li>{_finding(f)}</li>" for f in c[key]) + "</ul>"))
    if c.get("observed_at"):
        out.append(row("observed", e(str(c["observed_at"]))))
    if c.get("cassette"):
        where = e(c["cassette"]) + (f" · interaction #{e(str(c['interaction']))}" if c.get("interaction") is not None else "")
        out.append(row("cassette", f"<code>{where}</code>"))
    if c.get("test"):
        out.append(row("test", f"<code>{e(c['test'])}</code>"))
    if c.get("exchanges"):
        out.append(row("exchanges", f"{e(str(c['exchanges']))} ({e(str(c.get('examples', 0)))} generated)"))
    out.append("</dl>")
    if c.get("request"):
        out.append(f"<h4>request</h4><pre>{e(json.dumps(c['request'], indent=2, ensure_ascii=False, default=str))}</pre>")
    return "\n".join(out + ["</section>"])


def _css(verdicts: list[str]) -> str:
    colours = "\n".join(f".v-{slug(v)}{{background:{_style(v)[0]};color:{_style(v)[1]}}}" for v in verdicts)
    return colours + """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{padding:12px 20px;background:#fff;border-bottom:1px solid #d0d7de}
main{padding:0 20px 20px}
h1{margin:0 0 4px;font-size:22px} h2{font-size:19px;margin:18px 0 4px} h3{font-size:17px;margin:18px 0 6px} h4{font-size:15px;margin:14px 0 6px}
code{font-family:"DejaVu Sans Mono",ui-monospace,monospace;font-size:12px}
.muted{color:#57606a}
.legend{list-style:none;padding:0;margin:8px 0;display:grid;grid-template-columns:repeat(auto-fill,minmax(600px,1fr));gap:2px 18px;font-size:12px;line-height:1.3}
.toc a{font-weight:600}
table.summary{width:100%}
table.summary th[data-family]{text-align:center;font-size:11px;line-height:1.2}
table.summary td{min-width:0;font-size:11px}
td.fam a{display:block;padding:4px 3px;color:inherit;text-decoration:none;font-weight:600}
td.fam .w{white-space:nowrap}
td.fam small{display:block;font-weight:400;white-space:normal}
td.fam:hover{outline:2px solid #0969da}
td.none{color:#8c959f;background:#f6f8fa}
.counts .chip{font-size:12px}
.drift table,.declared table{border-spacing:0} .drift td,.declared td{text-align:left;padding:3px 8px;border-top:1px solid #eaeef2}
.tag{font-size:11px;padding:0 4px;border:1px solid #d0d7de;border-radius:3px;color:#57606a}
.filters{display:flex;flex-wrap:wrap;gap:8px 18px;align-items:center}
.chip{padding:1px 7px;margin-right:4px;border-radius:3px;border:1px solid #d0d7de;white-space:nowrap}
.security{background:#ffebe9;border:1px solid #d1242f;padding:8px 12px;margin-top:14px}
#all-cells{border-top:2px solid #d0d7de;margin-top:24px}
.security ul{margin:4px 0 0;padding-left:18px}
.info{margin:0;padding-left:18px;color:#57606a}
.scroll{overflow-x:auto}
table{border-collapse:separate;border-spacing:2px;background:#fff;border:1px solid #d0d7de}
th{font-weight:600;text-align:left;padding:3px 6px;background:#eaeef2;font-size:12px}
th.model{position:sticky;left:0;white-space:nowrap;z-index:1}
th.route{text-align:center}
th.param{vertical-align:bottom;padding:6px 2px}
th.param span{display:inline-block;writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}
td{padding:0;min-width:48px;text-align:center}
td.cell a{display:block;padding:6px 6px;color:inherit;text-decoration:none;font-weight:600;font-size:13px}
td.cell:hover{outline:2px solid #0969da}
td.selected{outline:3px solid #0969da;outline-offset:1px}
td.v-untested,.chip.v-untested{border:1px dashed #8c959f}
td.absent{background:#f6f8fa}
td.off a{visibility:hidden} td.off{background:#f6f8fa;border:0}
sup{font-size:11px;margin-left:2px}
aside{display:none;position:fixed;top:0;right:0;bottom:0;width:460px;overflow:auto;background:#fff;border-left:2px solid #0969da;padding:12px 16px;box-shadow:-4px 0 12px rgba(0,0,0,.15);z-index:2}
aside:has(.evidence.shown),html:not(.js) aside:has(.evidence:target){display:block}
#close{float:right;font-size:20px;border:0;background:none;cursor:pointer}
.evidence{display:none}
.evidence.shown,html:not(.js) .evidence:target{display:block}
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:4px 10px;margin:0}
dt{font-weight:600;color:#57606a} dd{margin:0;overflow-wrap:anywhere}
dd ul{margin:0;padding-left:16px}
pre{background:#f6f8fa;border:1px solid #d0d7de;padding:8px;overflow:auto;font-size:12px}
"""


# Plain JS: filters hide rows/columns and fade cells; a click selects a cell and opens its evidence,
# setting the hash without the jump to the anchor (so a link from the Markdown opens the same panel).
_JS = r"""
document.documentElement.classList.add('js');
const $$ = (s, r) => Array.from((r || document).querySelectorAll(s));
function show(id) {
  $$('.evidence.shown').forEach(x => x.classList.remove('shown'));
  $$('td.selected').forEach(x => x.classList.remove('selected'));
  const ev = id ? document.getElementById(id) : null;
  if (!ev || !ev.classList.contains('evidence')) return;
  ev.classList.add('shown');
  const td = document.querySelector('td.cell[data-anchor="' + CSS.escape(id) + '"]');
  if (td) { td.classList.add('selected'); td.scrollIntoView({block: 'nearest', inline: 'nearest'}); }
}
function applyFilters() {
  const text = document.getElementById('f-model').value.trim().toLowerCase();
  const col = document.getElementById('f-column').value;
  const on = new Set($$('input[name=verdict]:checked').map(x => x.value));
  $$('[data-column]').forEach(x => { x.hidden = !!col && x.dataset.column !== col; });
  $$('th.route').forEach(th => {
    const n = $$('th.param', th.closest('thead')).filter(p => p.dataset.route === th.dataset.route && !p.hidden).length;
    th.hidden = n === 0;
    if (n) th.colSpan = n;
  });
  $$('td.cell').forEach(x => x.classList.toggle('off', !on.has(x.dataset.verdict)));
  $$('tr[data-model]').forEach(tr => {
    const shown = $$('td.cell', tr).some(td => !td.hidden && !td.classList.contains('off'));
    tr.hidden = !shown || !tr.dataset.model.toLowerCase().includes(text);
  });
  $$('section.target table').forEach(t => { t.closest('.scroll').hidden = !$$('tbody tr', t).some(tr => !tr.hidden); });
}
function closePanel() { show(null); history.replaceState(null, '', location.pathname + location.search); }
document.addEventListener('click', ev => {
  const a = ev.target.closest('td.cell a, td.fam a');
  if (!a) return;
  ev.preventDefault();
  const id = a.getAttribute('href').slice(1);
  history.replaceState(null, '', '#' + id);
  show(id);
});
document.getElementById('close').addEventListener("click", closePanel);
document.addEventListener('keydown', ev => { if (ev.key === "Escape") closePanel(); });
window.addEventListener('hashchange', () => show(decodeURIComponent(location.hash.slice(1))));
$$('.filters input, .filters select').forEach(x => x.addEventListener('input', applyFilters));
// ?model=TEXT&column=COLUMN&verdict=a,b preset the filters, so a filtered view can be linked
const q = new URLSearchParams(location.search);
if (q.has('model')) document.getElementById('f-model').value = q.get('model');
if (q.has('column')) document.getElementById('f-column').value = q.get('column');
if (q.has('verdict')) $$('input[name=verdict]').forEach(x => { x.checked = q.get('verdict').split(',').includes(x.value); });
applyFilters();
show(decodeURIComponent(location.hash.slice(1)));
"""
