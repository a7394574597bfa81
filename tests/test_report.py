"""report.py: the answer-first summary and Markdown that fits in a GitHub comment, on synthetic matrices."""

import json
import random
import re
import subprocess
import sys
from pathlib import Path

from anyint_conformance.reports import html, matrix, report
from anyint_conformance.model.families import FAMILIES, TARGET_WIDE
from anyint_conformance.reports.report import MD_LIMIT, build_matrix, md_size, render_markdown, summary_rows
from anyint_conformance.model.verdicts import MEANING, SYMBOL

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "support-matrix.json"

# family -> the cells that decide it: (route, kind, parameter)
FAMILY_CELLS = {
    "chat": [("POST /chat/completions", "route", None)],
    "chat stream": [("POST /chat/completions", "route", "stream")],
    "embeddings": [("POST /embeddings", "route", None)],
    "images": [("POST /images/generations", "route", None)],
    "speech": [("POST /audio/speech", "route", None)],
    "transcriptions": [("POST /audio/transcriptions", "route", None)],
    "translations": [("POST /audio/translations", "route", None)],
    "moderations": [("POST /moderations", "route", None)],
    "assistants": [("POST /assistants", "lifecycle", "lifecycle: create"), ("GET /assistants/{assistant_id}", "lifecycle", "lifecycle: retrieve")],
    "threads & runs": [("POST /threads", "lifecycle", "lifecycle: create thread"), ("POST /threads/{thread_id}/runs", "lifecycle", "lifecycle: create run")],
    "videos": [("POST /videos", "lifecycle", "lifecycle: create"), ("GET /videos/{video_id}", "lifecycle", "lifecycle: poll to terminal state")],
    # target-wide: no model in the request
    "files": [("POST /files", "lifecycle", "lifecycle: upload"), ("GET /files", "lifecycle", "lifecycle: list")],
    "batches": [("POST /batches", "lifecycle", "lifecycle: create")],
    "models": [("GET /models", "route", None)],
}
STATUS = {"supported": 200, "unverified": 200, "ignored": 200, "unsupported": 404, "non-conforming": 200, "broken": 500,
          "untested": None, "rejected": 400, "lenient": 200, "accepted": 200}


def cell(target, model, route, parameter, verdict, kind, fam=None, rng=None, **extra):
    status = STATUS.get(verdict)
    long = " ".join(["upstream said something long and specific about", str(model), route, str(parameter)] * 4)
    warnings = [{"check": "usage_present", "severity": "warning", "message": "usage is absent (documented: when available) " * 3,
                 "path": "$.usage", "provenance": "documented"}] if rng and rng.random() < 0.2 else []
    return {
        "target": target, "model": model, "route": route, "parameter": parameter, "verdict": verdict,
        "reason": f"HTTP {status}: {long}" if verdict not in ("supported", "rejected") else "HTTP 200, conforms",
        "status": status, "violation": None, "warnings": warnings, "notes": [], "request": None, "exchanges": 1, "examples": 0,
        "test": "suites/test_x.py::test_y", "cassette": None, "interaction": None, "kind": kind, "security": False,
        "family": fam, "observed_at": "2026-11-25T10:00:00Z", **extra,
    }


def catalogue(n_models=100, target="cat", seed=7, parameters=36, negatives=100) -> dict:
    """A synthetic catalogue: n models x ~150 cells (every family, 36 parameters, 100 invalid requests),
    mixed verdicts, long reasons, warnings; drift, declared findings and security findings."""
    rng = random.Random(seed)
    models = [f"vendor-{i % 7}/a-rather-long-model-name-{i:03d}-instruct" for i in range(n_models)]
    route_verdicts = ["supported"] * 4 + ["unsupported", "broken", "non-conforming", "untested"]
    cells = []
    for fam, specs in FAMILY_CELLS.items():
        for route, kind, parameter in specs:
            if fam in TARGET_WIDE:
                cells.append(cell(target, None, route, parameter, rng.choice(route_verdicts), kind, fam, rng))
            else:
                cells += [cell(target, m, route, parameter, rng.choice(route_verdicts), kind, fam, rng) for m in models]
    for m in models:
        for i in range(parameters):
            verdict = rng.choice(["supported", "supported", "unverified", "ignored", "unsupported", "non-conforming", "broken"])
            cells.append(cell(target, m, "POST /chat/completions", f"parameter_{i:02d}", verdict, "parameter", "chat", rng))
        for i in range(negatives):
            verdict = rng.choice(["rejected", "rejected", "rejected", "accepted", "lenient", "non-conforming", "broken", "untested"])
            cells.append(cell(target, m, "POST /chat/completions", f"negative: mutation {i:03d}", verdict, "negative", "chat", rng))
    for i, key in enumerate(["no key", "wrong key", "x-api-key instead of Bearer"]):
        cells.append(cell(target, None, "GET /models", f"auth: {key}", "accepted" if i else "rejected", "auth", "models", security=bool(i)))
    drift = [{"target": target, "model": m, "route": "POST /chat/completions", "parameter": None, "expected": "supported", "observed": "broken"}
             for m in models]
    declared = [{"target": target, "model": m, "family": "images", "declared": "supported", "observed": "unsupported",
                 "message": "GET /models lists the model as an image model, but POST /images/generations refused it"} for m in models[:40]]
    return build_matrix(cells, {target: {"base_url": "https://gateway.example/v1", "describes": "a synthetic catalogue"}},
                        "0.2.0", "live", strict=True, drift=drift, declared=declared)


def _section(md: str, heading: str) -> str:
    return md.split(heading + "\n", 1)[1].split("\n## ", 1)[0]


# --- the Markdown fits -----------------------------------------------------------------------------


def test_a_100_model_catalogue_fits_a_github_comment_and_answers_first():
    m = catalogue()
    assert len(m["cells"]) >= 100 * 150
    md = render_markdown(m)
    print(f"synthetic 100-model catalogue: {len(md)} characters ({md_size(md)} UTF-16 units)")
    assert len(md) < MD_LIMIT and md_size(md) < MD_LIMIT
    assert md.startswith("# Support matrix\n")
    # the first section after the legend and contents is the answer: the family table of the target
    sections = re.findall(r"^## (.*)$", md, flags=re.M)
    assert sections[:2] == ["⚠️ Security findings", "cat"], sections
    summary = _section(md, "## cat")
    assert "| model | " + " | ".join(FAMILIES) + " |" in summary
    for model in m["targets"]["cat"]["models"]:
        assert f"| `{model}` | " in summary, model
    assert "| (target-wide) | " in summary
    # a verdict is a symbol and a word, every time
    assert "✅ supported" in summary and "❌ broken" in summary
    # the rest was cut with a pointer to the full page, never silently
    assert re.search(r"^… \d+ more .* not shown here \(length limit\): see \[support-matrix.html\]", md, flags=re.M)
    assert md.rstrip().endswith("support-matrix.json.")


def test_the_committed_matrix_renders_under_the_limit():
    md = render_markdown(matrix.load(REPORT))
    print(f"committed matrix: {len(md)} characters")
    assert md_size(md) < MD_LIMIT and md.startswith("# Support matrix\n")


def test_sections_go_in_priority_order_and_a_cut_names_what_was_left_out():
    m = catalogue(n_models=5, parameters=6, negatives=5)
    full = render_markdown(m)
    order = [h for h in re.findall(r"^## (.*)$", full, flags=re.M)]
    assert order == ["⚠️ Security findings", "cat", "Changes against the baseline", "Declared vs observed",
                     "Cells that are not plainly supported", "cat: parameters"]
    assert "strict: upstream OpenAI rules decide verdicts too" in full
    drift = _section(full, "## Changes against the baseline")
    assert "- `cat` · `vendor-0/a-rather-long-model-name-000-instruct` · POST /chat/completions: ✅ supported → ❌ broken" in drift
    declared = _section(full, "## Declared vs observed")
    assert "images: declared ✅ supported, observed ⛔ unsupported: GET /models lists" in declared

    small = render_markdown(m, limit=7_000)
    assert md_size(small) <= 7_000
    assert "## cat\n" in small and "## cat: parameters" not in small
    assert re.search(r"^Not shown for length: .*parameters of cat", small, flags=re.M)


def test_richer_variants_while_they_fit_links_to_the_evidence():
    m = catalogue(n_models=3, parameters=6, negatives=10)
    md = render_markdown(m)
    ids = report.anchors(m["cells"])
    broken = next(c for c in m["cells"] if c["verdict"] == "broken" and c["kind"] == "route" and c["model"])
    assert f"(support-matrix.html#{ids[report.cell_key(broken)]})" in md
    # the compact list groups by column and verdict and names the models
    details = _section(md, "## Cells that are not plainly supported")
    assert re.search(r"^- POST /chat/completions \[negative: mutation \d+\] · \*\*❗ accepted\*\*( · \d+ [a-z ]+)? · \d: \[`vendor-", details, flags=re.M)


def test_the_legend_uses_the_verdicts_module():
    md = render_markdown(catalogue(n_models=2))
    for verdict, meaning in MEANING.items():
        assert f"| {SYMBOL[verdict]} | {verdict.value} | {meaning} |" in md


# --- the summary -------------------------------------------------------------------------------------


def test_summary_rows_target_wide_row_and_why():
    m = build_matrix([
        cell("t", None, "POST /files", "lifecycle: upload", "supported", "lifecycle", "files"),
        cell("t", None, "GET /files", "lifecycle: list", "broken", "lifecycle", "files"),
        cell("t", "a", "POST /chat/completions", None, "unsupported", "route", "chat"),
        cell("t", "a", "POST /chat/completions", "temperature", "broken", "parameter", "chat"),  # a parameter decides no family
        cell("t", "a", "POST /chat/completions", "stream", "untested", "route", "chat stream"),
        cell("t", "b", "POST /chat/completions", None, "supported", "route", "chat"),
    ], {"t": {}}, "0", "replay")
    rows = dict(summary_rows(m, "t"))
    assert list(rows) == ["(target-wide)", "a", "b"]
    assert set(rows["(target-wide)"]) == {"files"}  # never shown as a model's
    assert {k: v for k, v in rows["(target-wide)"]["files"].items() if k != "cell"} == {"verdict": "broken", "why": "list 500"}
    assert rows["a"]["chat"]["verdict"] == "unsupported" and rows["a"]["chat"]["why"] == "404"
    assert (rows["a"]["chat stream"]["verdict"], rows["a"]["chat stream"]["why"]) == ("untested", "")  # untested: no why
    assert rows["b"] == {"chat": {"verdict": "supported", "why": "", "cell": next(c for c in m["cells"] if c["model"] == "b")}}


def test_version_1_cells_get_their_family_from_the_route():
    old = [{k: v for k, v in c.items() if k not in ("family", "observed_at")} for c in catalogue(n_models=1)["cells"]]
    m = build_matrix(old, {"cat": {}}, "0", "replay")
    def families(matrix):
        return {row: {fam: entry["verdict"] + entry["why"] for fam, entry in entries.items()} for row, entries in summary_rows(matrix, "cat")}

    assert families(m) == families(catalogue(n_models=1)) and len(families(m)["(target-wide)"]) == 3


def test_a_verdict_this_version_does_not_know_still_renders():
    m = build_matrix([cell("t", "a", "POST /embeddings", None, "brand-new", "route", "embeddings")], {"t": {}}, "0", "replay")
    assert dict(summary_rows(m, "t"))["a"]["embeddings"]["verdict"] == "brand-new"
    assert re.search(r"^\| `a` \|  \|  \| \[brand-new\]\(support-matrix.html#cell-t-a-post-embeddings\)", render_markdown(m), flags=re.M)


# --- the house rule: reporting imports nothing that judges or sends -------------------------------


def test_reporting_modules_import_nothing_that_judges_or_sends(tmp_path):
    m = tmp_path / "m.json"
    m.write_text(matrix.dumps(catalogue(n_models=2)))
    code = (
        "import sys\n"
        "from anyint_conformance.faces import cli\nfrom anyint_conformance.reports import html, matrix, report\n"
        f"m = matrix.load({str(m)!r}); report.render_markdown(m); html.render_html(m); cli.summary(m)\n"
        f"matrix.write(m, __import__('pathlib').Path({str(tmp_path)!r}))\n"
        "bad = [n for n in ('anyint_conformance.judging.checks', 'anyint_conformance.faces.plugin', 'anyint_conformance.wire.transport',"
        " 'anyint_conformance.judging.cells', 'httpx', 'jsonschema') if n in sys.modules]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]


def test_reports_scrub_secrets_with_the_one_marker(tmp_path):
    from anyint_conformance.wire import recording  # the test may import what sends; matrix.py must not
    from anyint_conformance.model import verdicts

    assert matrix.scrub is verdicts.scrub and recording.scrub is verdicts.scrub  # one scrubbing, one marker, on the ground floor
    m = catalogue(n_models=1, parameters=1, negatives=1)
    m["cells"][0]["reason"] = "echoed sk-secret-123"
    for path in matrix.write(m, tmp_path, secrets=["sk-secret-123"]):
        text = path.read_text()
        assert "sk-secret-123" not in text and (path.suffix == ".md" or verdicts.REDACTED in text)


def test_a_version_1_file_loads_and_renders(tmp_path):
    v2 = catalogue(n_models=2)
    v1 = {k: v for k, v in v2.items() if k not in ("strict", "drift", "declared")}
    v1["version"] = 1
    v1["cells"] = [{k: v for k, v in c.items() if k not in ("family", "observed_at", "strict")} for c in v1["cells"]]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(v1))
    loaded = matrix.load(path)
    assert loaded["version"] == 1 and "drift" not in loaded
    md = render_markdown(loaded)
    assert "## Changes against the baseline" not in md and "| `vendor-0/a-rather-long-model-name-000-instruct` | " in md
    assert 'class="summary"' in html.render_html(loaded)


def test_a_family_works_when_its_must_be_refused_steps_were_refused():
    from anyint_conformance.model.families import family_verdict
    from anyint_conformance.model.verdicts import Verdict

    def step(verdict):
        return {"kind": "lifecycle", "verdict": verdict}

    assert family_verdict([step("supported"), step("rejected"), step("lenient")]) is Verdict.SUPPORTED  # "retrieve after delete" refused
    assert family_verdict([step("supported"), step("rejected"), step("broken")]) is Verdict.BROKEN
    assert family_verdict([step("untested")]) is Verdict.UNTESTED and family_verdict([]) is None


# --- client readiness and beyond the page: one table each per target, in every rendering ---------------


def _grid_matrix() -> dict:
    clients = [("m1", "client: openai-node tool", "supported"), ("m1", "client: vercel-ai tool", "non-conforming"),
               ("m2", "client: openai-node tool", "ignored"), ("m2", "client: vercel-ai tool", "broken"),
               ("m1", report.SDK_EXAMPLE, "supported"), ("m2", report.SDK_EXAMPLE, "unsupported")]
    beyond = [("m1", "seed", "unverified"), ("m2", "seed", "supported"), ("m2", "logprobs", "ignored")]
    cells = [cell("t", m, "POST /chat/completions", p, v, "client" if p.startswith("client") else "route", "chat") for m, p, v in clients]
    cells += [cell("t", m, "POST /chat/completions", p, v, "beyond", "chat") for m, p, v in beyond]
    return build_matrix(cells, {"t": {"base_url": "http://x/v1", "describes": "grids"}}, "0.2.0", "replay")


def test_client_and_beyond_grids_show_a_row_per_model_and_a_word_in_every_cell_in_all_three_renderings():
    from anyint_conformance.faces import cli

    m = _grid_matrix()
    (title1, _, columns1, rows1), (title2, _, columns2, rows2) = report.grids(m, "t")
    assert (title1, title2) == ("client readiness", "beyond the page")
    assert columns1 == [report.SDK_EXAMPLE, "openai-node tool", "vercel-ai tool"]  # the page's example first
    assert [model for model, _ in rows1] == ["m1", "m2"] and columns2 == ["logprobs", "seed"]
    md = render_markdown(m)
    client_md = _section(md, "## t: client readiness")
    assert "| `m2` |" in client_md and "ignored" in client_md and "broken" in client_md and "non-conforming" in client_md
    assert "| `m1` |" in _section(md, "## t: beyond the page") and "unverified" in _section(md, "## t: beyond the page")
    page = html.render_html(m)
    grid = page.split('data-grid="client-readiness"', 1)[1].split("</table>", 1)[0]
    assert grid.count("<tr data-row=") == 2 and grid.count('<td class="none">') == 0
    assert all(f'<span class="w">{v}</span>' in grid for v in ("supported", "ignored", "broken", "non-conforming"))
    beyond_grid = page.split('data-grid="beyond-the-page"', 1)[1].split("</table>", 1)[0]
    assert beyond_grid.count('<td class="none">—</td>') == 1  # m1 has no logprobs cell: a dash, not a verdict
    text = cli.summary(m, width=None)
    block = text.split("t: client readiness", 1)[1].split("t: beyond the page", 1)[0]
    assert "openai-node tool" in block and all(v in block for v in ("ignored", "broken", "non-conforming"))
    assert "unverified" in text.split("t: beyond the page", 1)[1]


def test_a_matrix_without_client_or_beyond_cells_has_no_empty_grids():
    m = build_matrix([cell("t", "m", "POST /embeddings", None, "supported", "route", "embeddings")], {"t": {"base_url": "x", "describes": "d"}}, "0.2.0", "replay")
    assert report.grids(m, "t") == []
    assert "client readiness" not in render_markdown(m) and "client readiness" not in html.render_html(m)
