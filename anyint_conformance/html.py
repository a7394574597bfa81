"""The support matrix as one self-contained HTML page (inline CSS and JS, nothing fetched).

Tables and evidence are rendered here, server side, so the page reads without JS and every cell's
evidence has a stable anchor (`#cell-<target>-<model>-<column>`) that the Markdown can link to; the
JS only filters and opens the evidence panel. Everything from the matrix is escaped: cells carry
server text.
"""

from __future__ import annotations

import json
from html import escape as e
from itertools import groupby

from anyint_conformance.checks import Verdict
from anyint_conformance.report import KINDS, anchors, cell_key, column, slug

VERDICTS = [v.value for v in Verdict]
# verdict: (background, text, meaning). supported and broken are matched exactly by the screenshot test.
STYLE = {
    "supported": ("#2ea043", "#ffffff", "2xx, every body / event conforms"),
    "rejected": ("#a6e3b0", "#1f2328", "invalid request or bad credentials refused as documented"),
    "unsupported": ("#c4cad1", "#1f2328", "a refusal (4xx)"),
    "non-conforming": ("#f0883e", "#1f2328", "2xx that breaks the documented schema or stream contract"),
    "ignored": ("#f5d547", "#1f2328", "accepted, but the parameter had no effect"),
    "accepted": ("#8250df", "#ffffff", "invalid request or bad credentials answered 2xx"),
    "broken": ("#d1242f", "#ffffff", "5xx, timeout, invalid JSON, wrong content type, cut stream"),
    "untested": ("#ffffff", "#57606a", "not run"),
}
OTHER = ("#eaeef2", "#1f2328", "")  # a verdict this renderer does not know yet still renders


def render_html(matrix: dict) -> str:
    cells = matrix["cells"]
    ids = anchors(cells)
    verdicts = VERDICTS + sorted({c["verdict"] for c in cells} - set(VERDICTS))
    counts = {v: sum(c["verdict"] == v for c in cells) for v in verdicts}
    columns = sorted({column(c) for c in cells})
    out = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Support matrix · anyint-conformance</title>\n<style>{_css(verdicts)}</style></head><body>",
        "<header><h1>Support matrix</h1>",
        f"<p>Observed by anyint-conformance {e(str(matrix['suite_version']))} ({e(str(matrix['mode']))}): "
        f"{len(cells)} cells, {len(matrix['targets'])} target(s). Click a cell for its evidence.</p>",
        '<ul class="legend">',
        *(f'<li><span class="sw v-{slug(v)}"></span><b>{e(v)}</b> {counts[v]} <span class="muted">{e(_style(v)[2])}</span></li>' for v in verdicts),
        "</ul>",
        '<form class="filters" onsubmit="return false">',
        '<label>model <input id="f-model" type="search" placeholder="filter models"></label>',
        '<label>column <select id="f-column"><option value="">all columns</option>',
        *(f'<option value="{e(c)}">{e(c)}</option>' for c in columns),
        "</select></label><span>",
        *(f'<label class="chip v-{slug(v)}"><input type="checkbox" name="verdict" value="{e(v)}" checked>{e(v)}</label>' for v in verdicts),
        "</span></form></header><main>",
    ]
    if matrix.get("security_findings"):
        out.append('<div class="security"><b>Security findings</b><ul>')
        out += [f"<li>{e(str(f))}</li>" for f in matrix["security_findings"]]
        out.append("</ul></div>")
    for name, info in matrix["targets"].items():
        out += _target(name, info, [c for c in cells if c["target"] == name], ids)
    out += [
        '</main><aside id="evidence"><button type="button" id="close" title="close (Esc)">×</button>',
        *(_evidence(c, ids[cell_key(c)]) for c in cells),
        f"</aside><script>{_JS}</script></body></html>",
    ]
    return "\n".join(out) + "\n"


def _style(verdict: str) -> tuple[str, str, str]:
    return STYLE.get(verdict, OTHER)


def _target(name: str, info: dict, cells: list[dict], ids: dict) -> list[str]:
    out = [f'<section class="target"><h2>{e(name)}</h2><ul class="info">']
    out.append(f"<li>base URL: <code>{e(str(info.get('base_url', '?')))}</code></li>")
    for key, text in (("describes", "what answered"), ("recorded_at", "recorded")):
        if info.get(key):
            out.append(f"<li>{text}: {e(str(info[key]))}</li>")
    out.append("</ul>")
    if not cells:
        out.append("<p>No cells.</p>")
    titles = dict(KINDS)
    for kind in [k for k, _ in KINDS] + sorted({c.get("kind", "route") for c in cells} - set(titles)):
        group = [c for c in cells if c.get("kind", "route") == kind]
        if group:
            out += [f"<h3>{e(titles.get(kind, kind))}</h3>", *_table(group, ids)]
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
            text = e(str(c["status"]) if c.get("status") else v)
            if c.get("warnings"):
                text += f"<sup>⚠{len(c['warnings'])}</sup>"
            tip = f"{v}: {c.get('reason', '')}"
            out.append(
                f'<td class="cell v-{slug(v)}" data-verdict="{e(v)}" data-column="{e(col)}" data-anchor="{anchor}">'
                f'<a href="#{anchor}" title="{e(tip)}">{text}</a></td>'
            )
        out.append("</tr>")
    return out + ["</tbody></table></div>"]


def _evidence(c: dict, anchor: str) -> str:
    def row(key: str, value: str) -> str:
        return f"<dt>{key}</dt><dd>{value}</dd>"

    v = c["verdict"]
    out = [
        f'<section class="evidence" id="{anchor}"><h3>{e(c["target"])} · <code>{e(c["model"] or "(any)")}</code><br>{e(column(c))}</h3><dl>',
        row("verdict", f'<span class="chip v-{slug(v)}">{e(v)}</span>'),
        row("status", e(str(c.get("status") or "—"))),
        row("reason", e(str(c.get("reason", "")))),
    ]
    violation = c.get("violation")
    if violation:
        where = f" at <code>{e(str(violation['path']))}</code>" if violation.get("path") else ""
        out.append(row("first violation", f"{e(str(violation.get('check')))}{where}: {e(str(violation.get('message', '')))}"))
    for key in ("warnings", "notes"):
        if c.get(key):
            items = "".join(
                f"<li>{e(str(f.get('message', '')))}" + (f" (<code>{e(str(f['path']))}</code>)" if f.get("path") else "") + "</li>"
                if isinstance(f, dict) else f"<li>{e(str(f))}</li>"
                for f in c[key]
            )
            out.append(row(key, f"<ul>{items}</ul>"))
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
h1{margin:0 0 4px;font-size:22px} h2{font-size:19px;margin:18px 0 4px} h3{font-size:15px;margin:14px 0 6px}
code{font-family:"DejaVu Sans Mono",ui-monospace,monospace;font-size:12px}
.muted{color:#57606a}
.legend{list-style:none;padding:0;margin:8px 0;display:flex;flex-wrap:wrap;gap:4px 18px}
.sw{display:inline-block;width:14px;height:14px;border:1px solid #8c959f;vertical-align:-2px;margin-right:5px}
.filters{display:flex;flex-wrap:wrap;gap:8px 18px;align-items:center}
.chip{padding:1px 7px;margin-right:4px;border-radius:3px;border:1px solid #d0d7de;white-space:nowrap}
.security{background:#ffebe9;border:1px solid #d1242f;padding:8px 12px;margin-top:14px}
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
td.v-untested,.sw.v-untested{border:1px dashed #8c959f}
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
  const td = document.querySelector('td[data-anchor="' + CSS.escape(id) + '"]');
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
  const a = ev.target.closest('td.cell a');
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
