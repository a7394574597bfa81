"""html.py: escaping and anchors, then the real page in a real headless Chromium (DOM after JS, screenshot)."""

import re
import shutil
import struct
import subprocess
import zlib
from html import escape
from pathlib import Path

import pytest

from anyint_conformance import html, matrix, report
from anyint_conformance.report import build_matrix

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "support-matrix.json"
INSTALL = "apt-get install -y chromium"


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
    page = html.render_html(build_matrix([cell("a", verdict="brand-new")], {"t": {}}, "0", "replay"))
    assert 'data-verdict="brand-new"' in page and ".v-brand-new{" in page


# --- in a browser --------------------------------------------------------------------------------


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail(f"Chromium is needed for the HTML tests and is not installed: {INSTALL}", pytrace=False)
    return path


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
