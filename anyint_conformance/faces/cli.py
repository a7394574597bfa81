"""The `anyint-conformance` command: run the matrix, plan a run, diff, merge and render matrices.

This module is also a tiny pytest plugin (`-p anyint_conformance.faces.cli`, loaded only by `matrix`): it
reports each finished test on a pipe the parent gave it, and the parent draws the progress bar. The
parent draws it because pytest captures the child's own stdout/stderr while tests run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

from anyint_conformance.reports import matrix, report
from anyint_conformance.model.families import FAMILIES, TARGET_WIDE
from anyint_conformance.model.paths import REPORTS_DIR, SUITES_DIR, write_atomic
from anyint_conformance.run.config import OPTIONS
from anyint_conformance.run.targets import TargetError, load_profiles

SUITES = SUITES_DIR
PROGRESS_ENV = "ANYINT_CONFORMANCE_PROGRESS_FD"


def _checked(kind):
    """An argparse type that checks the value but keeps the text, so pytest gets exactly what was typed."""
    def check(text: str) -> str:
        kind(text)
        return text
    check.__name__ = kind.__name__  # argparse names the type in its error: "invalid int value"
    return check


# The run's options (run/config.OPTIONS, the one table): the command forwards what was given to pytest,
# which applies the defaults; argparse's own default stays None. pytest owns --strict: ours is --strict-upstream.
RUN_OPTIONS = [o for o in OPTIONS if o.cli_flag is not None]
# pytest's exit codes -> the command's (see EPILOG): 4 is pytest's usage error, which our plugin raises for
# bad input (an unknown --model, a missing --prices file, a target without its key): 2 here
PYTEST_EXIT = {0: 0, 1: 1, 4: 2}

EPILOG = """\
exit codes:
  0  every cell as expected (matrix) / success
  1  conformance failures: a cell broke or drifted from suites/expectations (matrix);
     a cell that held (supported, or a bad request rejected as documented) was lost (diff --fail-on-lost)
  2  usage error or bad input: unknown option or target, missing file, not a matrix, conflicting shards
  3  internal or setup error: pytest was interrupted, crashed or collected nothing

matrix and plan forward the options above only when given (the defaults shown are the plugin's)
and pass every other argument to pytest, e.g.
  anyint-conformance matrix --target litellm -k stream
  anyint-conformance matrix --record-mode=once --model gpt-4o-mini
Relative paths in them are relative to the current directory.
"""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and args.command not in ("matrix", "plan"):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.run(args, extra)
    except (matrix.MatrixError, OSError) as exc:
        print(f"anyint-conformance {args.command}: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anyint-conformance",
        description="Contract tests and the observed support matrix for AnyInt's OpenAI-compatible gateway.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run, help: str, **kwargs) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
        p.set_defaults(run=run)
        return p

    for name, run, help in (
        ("matrix", cmd_matrix, "run the suites (pytest suites -q [options] [pytest args]) and summarise the matrix written"),
        ("plan", cmd_plan, "print what a run would test (pytest suites --anyint-plan [options] [pytest args]); nothing live"),
    ):
        # no abbreviations: a pytest option such as --rec must reach pytest, not become --record-mode
        p = command(name, run, help, allow_abbrev=False)
        for o in RUN_OPTIONS:
            if o.kind is bool:
                p.add_argument(o.cli_flag, dest=o.name, action="store_true", default=None, help=o.described)
            else:
                p.add_argument(o.cli_flag, dest=o.name, metavar=o.metavar, type=_checked(o.kind) if o.kind in (int, float) else None,
                               action="append" if o.repeatable else None, help=o.described)
    p = command("diff", cmd_diff, "show cells gained, lost and changed between two matrices")
    p.add_argument("before", metavar="BEFORE.json")
    p.add_argument("after", metavar="AFTER.json")
    p.add_argument("--fail-on-lost", action="store_true", help="exit 1 if a cell that held before (supported, or rejected as documented) does not any more")
    p = command("merge", cmd_merge, "merge matrix shards (e.g. one run per model or target) into one matrix")
    p.add_argument("out", metavar="OUT.json")
    p.add_argument("inputs", metavar="IN.json", nargs="+")
    p = command("render", cmd_render, "write support-matrix.md and support-matrix.html from a matrix")
    p.add_argument("matrix", metavar="MATRIX.json")
    p.add_argument("--out", metavar="DIR", help="output directory (default: next to MATRIX.json)")
    return parser


def cmd_diff(args, _extra) -> int:
    d = matrix.diff(matrix.load(args.before), matrix.load(args.after))
    sys.stdout.write(matrix.render_diff(d))
    return 1 if args.fail_on_lost and d.lost else 0


def cmd_merge(args, _extra) -> int:
    merged = matrix.merge([matrix.load(p) for p in args.inputs], names=args.inputs)
    write_atomic(args.out, matrix.dumps(merged))
    print(f"merged {len(args.inputs)} matrices ({len(merged['cells'])} cells) -> {args.out}")
    return 0


def cmd_render(args, _extra) -> int:
    m = matrix.load(args.matrix)
    out = Path(args.out) if args.out else Path(args.matrix).parent
    out.mkdir(parents=True, exist_ok=True)
    for path in matrix.write(m, out, with_json=False):
        print(f"wrote {path}")
    return 0


def _forwarded(args) -> list[str]:
    """The run options that were given, as pytest arguments, in the order of RUN_OPTIONS."""
    out = []
    for o in RUN_OPTIONS:
        value = getattr(args, o.name)
        if value is None or value is False:
            continue
        if o.kind is bool:
            out.append(o.flag)
        else:
            for v in value if isinstance(value, list) else [value]:
                out += [o.flag, v]
    return out


def _unknown_targets(args) -> str | None:
    """Checked before pytest starts, so an unknown name is a usage error (2), not pytest's 4 or 3."""
    if not args.targets:
        return None
    try:
        profiles = load_profiles()
    except TargetError as exc:
        return str(exc)
    unknown = [t for t in args.targets if t not in profiles]
    if unknown:
        return f"unknown target(s) {', '.join(unknown)}; profiles in targets.yaml: {', '.join(profiles)}"
    return None


def cmd_plan(args, extra) -> int:
    problem = _unknown_targets(args)
    if problem:
        print(f"anyint-conformance plan: {problem}", file=sys.stderr)
        return 2
    # -p no:terminal: the plan's lines only, no pytest session banners (errors still come as one line)
    code = subprocess.call([sys.executable, "-m", "pytest", str(SUITES), "--anyint-plan", "-p", "no:terminal", *_forwarded(args), *extra])
    return PYTEST_EXIT.get(code, 3)


def cmd_matrix(args, extra) -> int:
    problem = _unknown_targets(args)
    if problem:
        print(f"anyint-conformance matrix: {problem}", file=sys.stderr)
        return 2
    report_file = Path(args.report_dir or REPORTS_DIR) / "support-matrix.json"
    before = report_file.stat().st_mtime_ns if report_file.exists() else None
    colour = ["--color=yes"] if sys.stdout.isatty() else []  # pytest writes to a file here, keep its colours
    code = _pytest_with_progress([sys.executable, "-m", "pytest", str(SUITES), "-q", *colour, "-p", "anyint_conformance.faces.cli", *_forwarded(args), *extra])
    if report_file.exists() and report_file.stat().st_mtime_ns != before:  # never summarise a stale matrix
        try:
            width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None  # a log is as wide as it needs
            print(summary(matrix.load(report_file), width=width))
            print(f"matrix: {report_file}")
        except matrix.MatrixError as exc:
            print(f"anyint-conformance matrix: {exc}", file=sys.stderr)
            return 3
    else:
        print("anyint-conformance matrix: no matrix was written", file=sys.stderr)
    return PYTEST_EXIT.get(code, 3)


def _pytest_with_progress(cmd: list[str]) -> int:
    """Run pytest with its output held back, draw the bar from the plugin's events, then show the output."""
    read_fd, write_fd = os.pipe()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, env={**os.environ, PROGRESS_ENV: str(write_fd)}, pass_fds=(write_fd,), stdout=out, stderr=err)
        os.close(write_fd)
        bar = Bar(sys.stderr)
        try:
            with os.fdopen(read_fd) as events:
                for line in events:  # ends when pytest exits and the pipe closes
                    bar.event(line.rstrip("\n"))
        except KeyboardInterrupt:
            pass  # pytest got the same SIGINT; let it write its summary
        code = proc.wait()
        bar.close()
        for stream, dest in ((out, sys.stdout), (err, sys.stderr)):
            stream.seek(0)
            shutil.copyfileobj(stream, dest)
            dest.flush()
    return code


class Bar:
    """`[#####.....] 12/24  1 failed  <test>`: redrawn in place on a terminal, a line per quarter otherwise."""

    def __init__(self, stream):
        self.stream, self.tty = stream, stream.isatty()
        self.total = self.done = self.failed = 0
        self.quarter = 0

    def event(self, line: str) -> None:
        kind, _, rest = line.partition(" ")
        if kind == "total":
            self.total = int(rest)
        elif kind == "done":
            outcome, _, nodeid = rest.partition(" ")
            self.done += 1
            self.failed += outcome == "failed"
            self.draw(nodeid)

    def draw(self, nodeid: str) -> None:
        total = max(self.total, self.done, 1)
        filled = 30 * self.done // total
        text = f"[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{total}" + (f"  {self.failed} failed" if self.failed else "")
        if self.tty:
            width = shutil.get_terminal_size().columns - 1
            self.stream.write("\r\x1b[K" + f"{text}  {nodeid}"[:width])
        elif 4 * self.done // total > self.quarter:
            self.quarter = 4 * self.done // total
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.done:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


# Narrow terminals: three-letter verdicts and short family names (a key line says what they mean).
SHORT = {"supported": "sup", "unverified": "unv", "ignored": "ign", "unsupported": "uns", "non-conforming": "ncf",
         "broken": "brk", "untested": "unt", "rejected": "rej", "lenient": "len", "accepted": "acc"}
ABBREV = {"chat": "chat", "chat stream": "stream", "embeddings": "embed", "images": "images", "speech": "speech",
          "transcriptions": "transc", "translations": "transl", "moderations": "moder", "files": "files",
          "assistants": "assist", "threads & runs": "thread", "batches": "batch", "videos": "videos", "models": "models"}


def summary(m: dict, width: int | None = None) -> str:
    """The answer first, per target: rows models, columns route families, a symbol and a word in every
    cell; then the cells per verdict. Wider than `width` columns: short words, then blocks of columns."""
    out = []
    for target in m["targets"]:
        rows = report.summary_rows(m, target)
        cells = [c for c in m["cells"] if c["target"] == target]
        out += _wrap(f"{target}: which endpoints each model supports ({', '.join(TARGET_WIDE)}: one verdict for the target, "
                     f"row {report.TARGET_WIDE_ROW})", width)
        table = _family_table(rows, short=False)
        if width and _width(_line(table[0], _widths(table))) > width:
            table = _family_table(rows, short=True)
            used = {e["verdict"] for _, row in rows for e in row.values()}
            out += _wrap("key: " + ", ".join(f"{SHORT[v]} = {v}" for v in report.VERDICTS if v in used) + "; "
                         + ", ".join(f"{a} = {f}" for f, a in ABBREV.items() if a != f), width)
        out += _blocks(table, width)
        out += _wrap("cells: " + ", ".join(f"{n} {report.mark(v, text=True)}" for v, n in report.counts(cells)), width)
        for title, note, columns, rows in report.grids(m, target):
            out += [""] + _wrap(f"{target}: {title} ({note})", width)
            grid = [["model", *columns]] + [[model, *(_grid_text(row.get(c), short=bool(width)) for c in columns)] for model, row in rows]
            out += _blocks(grid, width)
        out.append("")
    return "\n".join(out).rstrip("\n")


def _grid_text(cell: dict | None, short: bool) -> str:
    if cell is None:
        return ""
    v = cell["verdict"]
    return f"{report.TEXT_SYMBOLS.get(v, '?')} {SHORT.get(v, v)}" if short else report.mark(v, text=True)


def _family_table(rows, short: bool) -> list[list[str]]:
    head = ["model", *(ABBREV[f] if short else f for f in FAMILIES)]
    body = []
    for model, row in rows:
        texts = []
        for fam in FAMILIES:
            entry = row.get(fam)
            v = entry["verdict"] if entry else None
            texts.append("" if v is None else (f"{report.TEXT_SYMBOLS.get(v, '?')} {SHORT.get(v, v)}" if short else report.mark(v, text=True)))
        body.append([model, *texts])
    return [head, *body]


def _width(text: str) -> int:
    """Terminal columns: wide characters (most emoji) take two; a variation selector makes its symbol an emoji."""
    n = 0
    for i, ch in enumerate(text):
        if ch == "\ufe0f":
            n += i > 0 and unicodedata.east_asian_width(text[i - 1]) not in "WF"
        elif not unicodedata.combining(ch) and ch != "\u200d":
            n += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return n


def _wrap(text: str, width: int | None) -> list[str]:
    """Prose lines broken at spaces to fit `width` terminal columns."""
    lines = [""]
    for word in text.split(" "):
        joined = f"{lines[-1]} {word}" if lines[-1] else word
        if width and lines[-1] and _width(joined) > width:
            lines.append("  " + word)
        else:
            lines[-1] = joined
    return lines


def _widths(table: list[list[str]]) -> list[int]:
    return [max(_width(r[i]) for r in table) for i in range(len(table[0]))]


def _line(row: list[str], widths: list[int]) -> str:
    return "  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(row, widths)).rstrip()


def _blocks(table: list[list[str]], width: int | None) -> list[str]:
    """The table, or blocks of its columns that fit `width`, each repeating the model column."""
    widths = _widths(table)
    blocks, current = [], []
    for i in range(1, len(widths)):
        if current and width and widths[0] + sum(widths[j] + 2 for j in current + [i]) > width:
            blocks.append(current)
            current = []
        current.append(i)
    blocks.append(current)
    out = []
    for n, block in enumerate(blocks):
        cols = [0, *block]
        out += ([""] if n else []) + [_line([r[j] for j in cols], [widths[j] for j in cols]) for r in table]
    return out


# --- the pytest side (only active when `matrix` passed the pipe) ------------------------------------

_events = None
_outcomes: dict[str, str] = {}


def pytest_configure(config):
    global _events
    fd = os.environ.pop(PROGRESS_ENV, None)  # popped: subprocesses of tests must not write to it
    if fd is not None:
        _events = os.fdopen(int(fd), "w", buffering=1)


def pytest_collection_finish(session):
    if _events:
        _events.write(f"total {len(session.items)}\n")


def pytest_runtest_logreport(report):
    if report.outcome != "passed" and _outcomes.get(report.nodeid) != "failed":
        _outcomes[report.nodeid] = report.outcome


def pytest_runtest_logfinish(nodeid, location):
    if _events:
        _events.write(f"done {_outcomes.pop(nodeid, 'passed')} {nodeid}\n")


def pytest_unconfigure(config):
    global _events
    if _events:
        _events.close()
        _events = None


if __name__ == "__main__":
    sys.exit(main())
