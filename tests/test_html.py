"""html.py: escaping and anchors, then the real page in a real headless Chromium (DOM after JS, screenshot)."""

import os
import re
import shutil
import struct
import subprocess
import zlib
from html import escape
from pathlib import Path

import pytest

from anyint_conformance.reports import html, matrix, report
from anyint_conformance.model.families import FAMILIES
from anyint_conformance.reports.report import build_matrix
from anyint_conformance.model.verdicts import MEANING, TEXT_SYMBOL
from tests.test_report import catalogue

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "support-matrix.json"
INSTALL = "sudo apt-get install chromium, or set CHROMIUM=/path/to/chrome"


def cell(model, parameter=None, verdict="supported", **extra):
    return {"target": "t", "model": model, "route": "POST /chat/completions", "parameter": parameter, "verdict": verdict,
            "reason": "ok", "status": 200, "violation": None, "warnings": [], "notes": [], "request": None, **extra}


def test_server_text_is_escaped_everywhere():
    evil = '<script>alert(1)</script>"\'&'
    m = build_matrix(
        [cell('m"><img src=x onerror=alert(2)>', evil, verdict="broken", reason=evil, status=500,
              violation={"check": "status", "message": evil, "path": evil}, warnings=[{"message": evil, "path": evil}],
              notes=[{"message": evil}], request={"body": {"content": evil}}, cassette=evil, test=evil)],
        {"t<evil>": {"base_url": evil, "describes": evil}, "t": {"base_url": evil}}, evil, evil)
    page = html.render_html(m)
    assert "<script>alert" not in page and "<img" not in page and "<evil>" not in page
    assert page.count("<script>") == 1  # only the page's own
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_anchors_are_slugs_and_unique():
    assert report.cell_anchor(cell("gpt-4o.mini", "stream")) == "cell-t-gpt-4o-mini-post-chat-completions-stream"
    assert report.cell_anchor(cell(None)) == "cell-t-any-post-chat-completions"
    cells = [cell("a.b"), cell("a-b")]  # same slug
    assert list(report.anchors(cells).values()) == ["cell-t-a-b-post-chat-completions", "cell-t-a-b-post-chat-completions-2"]
    page = html.render_html(build_matrix(cells, {"t": {}}, "0", "replay"))
    assert 'id="cell-t-a-b-post-chat-completions"' in page and 'id="cell-t-a-b-post-chat-completions-2"' in page


def test_unknown_verdicts_still_render():
    page = html.render_html(build_matrix([cell("a", verdict="brand-new", kind="route")], {"t": {}}, "0", "replay"))
    assert 'data-verdict="brand-new"' in page and ".v-brand-new{" in page
    assert '<td class="fam v-brand-new">' in page  # in the summary too


def test_html_reads_verdicts_from_the_ground_floor():
    source = Path(html.__file__).read_text()
    assert "anyint_conformance.judging.checks" not in source and "from anyint_conformance.model.verdicts import Verdict" in source


def test_the_legend_has_symbol_word_and_meaning_for_every_verdict():
    page = html.render_html(catalogue(n_models=1, parameters=1, negatives=1))
    legend = page.split('<ul class="legend">', 1)[1].split("</ul>", 1)[0]
    for verdict, meaning in MEANING.items():
        assert f'<span class="chip v-{report.slug(verdict.value)}">{escape(TEXT_SYMBOL[verdict])} {verdict.value}</span>' in legend
        assert escape(meaning) in legend


def _summary(page: str, target: str) -> str:
    return page.split(f'<table class="summary" data-target="{target}">', 1)[1].split("</table>", 1)[0]


def test_the_first_screen_answers_first():
    m = catalogue(n_models=3, parameters=2, negatives=2)
    page = html.render_html(m)
    # legend, contents, security findings and the summary all come before the per-kind tables and filters
    order = [page.index(x) for x in ('<ul class="legend">', '<nav class="toc">', '<div class="security">', '<table class="summary"',
                                     '<section class="drift">', '<section class="declared">', '<form class="filters"', '<section class="target"')]
    assert order == sorted(order)
    assert '<a href="#t-cat">cat</a> (3 models, <a href="#cells-cat">' in page and 'id="t-cat"' in page and 'id="cells-cat"' in page
    table = _summary(page, "cat")
    assert re.findall(r'<th data-family="([^"]*)"', table) == [escape(f) for f in FAMILIES]
    assert re.findall(r'<tr data-row="([^"]*)"', table) == ["(target-wide)", *m["targets"]["cat"]["models"]]
    # every verdict cell: symbol and word (and a colour), linked to the evidence of the cell that decided it
    cells = re.findall(r'<td class="fam v-([^"]*)"><a href="#([^"]*)"[^>]*>(.*?)</a></td>', table)
    assert cells
    for verdict, anchor, text in cells:
        assert re.sub(r"<[^>]+>", "", text).startswith(f"{escape(report.TEXT_SYMBOLS[verdict])} {verdict}")
        assert f'<section class="evidence" id="{anchor}">' in page
    # target-wide families are never shown as a model's: model rows point up to the target-wide row
    model_row = table.split(f'<tr data-row="{m["targets"]["cat"]["models"][0]}">', 1)[1].split("</tr>", 1)[0]
    assert model_row.count('title="files is target-wide: see the (target-wide) row">↑</td>') == 1


def test_a_short_why_for_families_that_are_not_supported():
    m = build_matrix([
        cell(None, "lifecycle: upload", verdict="broken", status=500, kind="lifecycle", route="POST /files", family="files"),
        cell("a", verdict="unsupported", status=404, kind="route", family="chat"),
    ], {"t": {}}, "0", "replay")
    table = _summary(html.render_html(m), "t")
    assert "✘ <span class=\"w\">broken</span> <small>upload 500</small>" in table
    assert "⊘ <span class=\"w\">unsupported</span> <small>404</small>" in table


def test_drift_declared_and_the_new_evidence_fields_render():
    m = build_matrix(
        [cell("a", verdict="non-conforming", kind="route", family="chat", observed_at="2026-11-25T10:00:00Z", strict=True,
              violation={"check": "response_schema", "severity": "non-conforming", "message": "id missing", "path": "$.id",
                         "provenance": "upstream", "rule": "OpenAI: id is required"},
              warnings=[{"check": "usage", "severity": "warning", "message": "usage absent", "path": "$.usage", "provenance": "documented",
                         "rule": "usage: when available"}])],
        {"t": {}}, "0", "live", strict=True,
        drift=[{"target": "t", "model": "a", "route": "POST /chat/completions", "parameter": None, "expected": "supported", "observed": "non-conforming"}],
        declared=[{"target": "t", "model": "a", "family": "images", "declared": "supported", "observed": "unsupported", "message": "listed as an image model"}])
    page = html.render_html(m)
    assert "Strict: upstream OpenAI rules decided verdicts too." in page
    drift = page.split('<section class="drift">', 1)[1].split("</section>", 1)[0]
    assert '<a href="#cell-t-a-post-chat-completions">POST /chat/completions</a>' in drift and "✔ supported" in drift and "⚠ non-conforming" in drift
    declared = page.split('<section class="declared">', 1)[1].split("</section>", 1)[0]
    assert "<h2>Declared vs observed</h2>" in declared and "listed as an image model" in declared and "⊘ unsupported" in declared
    evidence = page.split('id="cell-t-a-post-chat-completions">', 1)[1].split("</section>", 1)[0]
    assert "2026-11-25T10:00:00Z" in evidence and "strict: upstream rules decided too" in evidence
    assert '<span class="tag">upstream</span> <q>OpenAI: id is required</q>' in evidence
    assert '<span class="tag">documented</span> <q>usage: when available</q>' in evidence


def test_every_detailed_cell_carries_a_symbol_not_only_a_colour():
    page = html.render_html(build_matrix([cell("a", verdict="broken", status=500), cell("b")], {"t": {}}, "0", "replay"))
    assert re.search(r'<td class="cell v-broken"[^>]*><a [^>]*>✘ broken <small>500</small></a>', page)
    assert re.search(r'<td class="cell v-supported"[^>]*><a [^>]*>✔ supported</a>', page)


# --- in a browser --------------------------------------------------------------------------------


def _chromium() -> str:
    """$CHROMIUM (any Chrome or Chromium executable) first, as the Makefile's browser target honours it."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"Chromium is needed for the HTML tests and is not installed: {INSTALL}", pytrace=False)
    return path


def test_the_browser_tests_honour_CHROMIUM(tmp_path, monkeypatch):
    chrome = tmp_path / "my-chrome"
    chrome.write_text("#!/bin/sh\n")
    chrome.chmod(0o755)
    monkeypatch.setenv("CHROMIUM", str(chrome))
    assert _chromium() == str(chrome)


def _browse(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1000", *args, url,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    m = matrix.load(REPORT)
    verdicts = {c["verdict"] for c in m["cells"]}
    assert {"supported", "broken"} <= verdicts, f"{REPORT} should show a supported and a broken cell"
    path = tmp_path_factory.mktemp("html") / "support-matrix.html"
    path.write_text(html.render_html(m))
    return m, path


def _dom(tmp_path, path: Path, suffix: str = "") -> str:
    return _browse(tmp_path, path.as_uri() + suffix, "--dump-dom").stdout


@pytest.fixture(scope="module")
def plain_dom(page, tmp_path_factory) -> str:
    """The page as the browser leaves it, opened without a hash or a query (one browser start for all)."""
    return _dom(tmp_path_factory.mktemp("dom"), page[1])


def test_the_table_renders_and_a_link_opens_the_evidence(tmp_path, page):
    m, path = page
    broken = next(c for c in m["cells"] if c["verdict"] == "broken")
    anchor = report.anchors(m["cells"])[matrix.cell_key(broken)]
    dom = _dom(tmp_path, path, f"#{anchor}")
    assert re.search(r'<html[^>]*class="js"', dom), "the page's script did not run"
    tds = re.findall(r'<td class="([^"]*)" data-verdict="([^"]*)"', dom)
    assert len(tds) == len(m["cells"])
    assert {v for _, v in tds} == {c["verdict"] for c in m["cells"]}
    # the script opened the evidence the hash names and selected its cell
    assert f'<section class="evidence shown" id="{anchor}">' in dom
    assert re.search(rf'<td class="cell v-broken selected" data-verdict="broken" [^>]*data-anchor="{anchor}"', dom)
    evidence = dom.split(f'id="{anchor}">', 1)[1].split("</section>", 1)[0]
    assert escape(broken["reason"]) in evidence and escape(broken["cassette"]) in evidence and "<pre>" in evidence


def test_filters_from_the_query_string(tmp_path, page):
    m, path = page
    dom = _dom(tmp_path, path, "?verdict=broken")
    assert not re.search(r'<td class="cell v-broken[^"]*\boff\b', dom)
    assert re.search(r'<td class="cell v-supported off"', dom)
    model = next(c["model"] for c in m["cells"] if c["model"])
    dom = _dom(tmp_path, path, f"?model={model}")
    rows = re.findall(r'<tr data-model="([^"]*)"( hidden="")?', dom)
    assert rows and all(bool(hidden) == (model.lower() not in name.lower()) for name, hidden in rows)


def test_the_summary_renders_first_in_the_browser(page, plain_dom):
    m, _ = page
    dom = plain_dom
    assert re.search(r'<html[^>]*class="js"', dom), "the page's script did not run"
    assert dom.index('<table class="summary"') < dom.index('<form class="filters"')
    for target, info in m["targets"].items():
        table = dom.split(f'<table class="summary" data-target="{escape(target)}">', 1)[1].split("</table>", 1)[0]
        assert re.findall(r'<th data-family="([^"]*)"', table) == [escape(f) for f in FAMILIES]
        rows = re.findall(r'<tr data-row="([^"]*)"', table)
        assert set(info["models"]) <= set(rows) and len(rows) == len(set(rows)), rows
        texts = [re.sub(r"<[^>]+>", "", t) for t in re.findall(r'<td class="fam v-supported"><a [^>]*>(.*?)</a>', table)]
        assert texts and all(t.startswith("✔ supported") for t in texts)  # a symbol and a word, not the colour alone
    # every cell of the per-kind tables too: its word, not only a colour or a tooltip
    cells = re.findall(r'<td class="cell v-[^"]*" data-verdict="([^"]*)"[^>]*><a [^>]*>(.*?)</a>', dom)
    assert cells and all(verdict in re.sub(r"<[^>]+>", " ", text) for verdict, text in cells)


def test_a_summary_cell_opens_the_evidence_of_the_cell_that_decided_it(tmp_path, page, plain_dom):
    _, path = page
    anchor = re.search(r'<td class="fam v-broken"><a href="#([^"]*)"', plain_dom).group(1)
    dom = _dom(tmp_path, path, f"#{anchor}")
    assert f'<section class="evidence shown" id="{anchor}">' in dom


def test_screenshot_shows_the_verdict_colours(tmp_path, page):
    _, path = page
    png = tmp_path / "matrix.png"
    _browse(tmp_path, path.as_uri(), f"--screenshot={png}")
    width, height, pixels = read_png(png.read_bytes())
    assert (width, height) == (1400, 1000)
    colours = set(pixels)
    for verdict in ("supported", "broken"):
        rgb = _rgb(html.STYLE[verdict][0])
        assert any(_near(rgb, c) for c in colours), f"no {verdict} pixel {rgb} in the screenshot"


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


def _near(a, b, tolerance=3) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


def read_png(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """A minimal PNG decoder (8-bit RGB/RGBA, no interlace): width, height and the RGB pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0], "bad CRC"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and not interlace, f"unsupported PNG {header}"
    bpp = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    pixels, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, up_left = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else up_left)) & 255
        pixels += [tuple(line[x : x + 3]) for x in range(0, stride, bpp)]
        previous = line
    return width, height, pixels


def _glyph_blocks(tmp_path: Path, chars: list[str]) -> list[frozenset]:
    """Each character drawn big in the page's own font stack, screenshotted; the dark pixels of each."""
    font = re.search(r"body\{font:[^;]*?px/[0-9.]+ ([^;}]*)", html._css([])).group(1)
    cells = "".join(f"<div style='position:absolute;left:{10 + 70 * i}px;top:10px;width:64px;height:64px;font:44px/64px {font};"
                    f"text-align:center;color:#000'>{escape(ch)}</div>" for i, ch in enumerate(chars))
    page = tmp_path / "glyphs.html"
    page.write_text(f'<!doctype html><meta charset="utf-8"><body style="margin:0;background:#fff">{cells}</body>')
    png = tmp_path / "glyphs.png"
    _browse(tmp_path, page.as_uri(), f"--screenshot={png}")
    width, _, pixels = read_png(png.read_bytes())
    return [frozenset((x - 70 * i, y) for y in range(10, 74) for x in range(10 + 70 * i, 74 + 70 * i) if sum(pixels[y * width + x]) < 384)
            for i in range(len(chars))]


def test_every_symbol_the_page_shows_is_drawn_not_a_box(tmp_path):
    """A symbol the fonts lack draws as the same empty box as any missing character (measured here: the
    emoji the page once used, on a machine without an emoji font): every symbol the page and the terminal
    show must draw as something else, and as something."""
    from anyint_conformance.model.verdicts import TEXT_SYMBOL

    used = sorted(set(TEXT_SYMBOL.values()) | {"×", "↑", "—", "⚠"})
    missing = ["\U0010fffd", "\U0010fffc"]  # private use: no font has them, both draw as the missing-glyph box
    blocks = _glyph_blocks(tmp_path, used + missing)
    box, other_box = blocks[-2:]
    assert box and box == other_box, "two missing characters should draw the same box (the check's own control)"
    boxes = [ch for ch, block in zip(used, blocks) if block == box or not block]
    assert boxes == [], f"drawn as a box (or not at all) in the page's fonts: {boxes}"
