"""The `anyint-conformance` command: run the matrix, plan a run, diff, merge and render matrices.

This module is also a tiny pytest plugin (`-p anyint_conformance.cli`, loaded only by `matrix`): it
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
from pathlib import Path

from anyint_conformance import html, matrix

ROOT = Path(__file__).resolve().parent.parent
SUITES = ROOT / "suites"
PROGRESS_ENV = "ANYINT_CONFORMANCE_PROGRESS_FD"
VERDICTS = html.VERDICTS

EPILOG = """\
exit codes:
  0  every cell as expected (matrix) / success
  1  conformance failures: a cell broke or drifted from suites/expectations (matrix);
     a cell that held (supported, or a bad request rejected as documented) was lost (diff --fail-on-lost)
  2  usage error or bad input: unknown option, missing file, not a matrix, conflicting shards
  3  internal or setup error: pytest was interrupted, crashed, refused its options or collected nothing
  plan returns pytest's own exit code.

matrix and plan pass every other argument to pytest, e.g.
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

    def command(name: str, run, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(run=run)
        return p

    command("matrix", cmd_matrix, "run the suites (pytest suites -q [pytest args]) and summarise the matrix written")
    command("plan", cmd_plan, "print what a run would test (pytest suites --anyint-plan [pytest args]); nothing live")
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
    Path(args.out).write_text(matrix.dumps(merged), encoding="utf-8")
    print(f"merged {len(args.inputs)} matrices ({len(merged['cells'])} cells) -> {args.out}")
    return 0


def cmd_render(args, _extra) -> int:
    m = matrix.load(args.matrix)
    out = Path(args.out) if args.out else Path(args.matrix).parent
    out.mkdir(parents=True, exist_ok=True)
    for path in matrix.write(m, out, with_json=False):
        print(f"wrote {path}")
    return 0


def cmd_plan(_args, extra) -> int:
    return subprocess.call([sys.executable, "-m", "pytest", str(SUITES), "--anyint-plan", *extra])


def cmd_matrix(_args, extra) -> int:
    report = _report_dir(extra) / "support-matrix.json"
    before = report.stat().st_mtime_ns if report.exists() else None
    colour = ["--color=yes"] if sys.stdout.isatty() else []  # pytest writes to a file here, keep its colours
    code = _pytest_with_progress([sys.executable, "-m", "pytest", str(SUITES), "-q", *colour, "-p", "anyint_conformance.cli", *extra])
    if report.exists() and report.stat().st_mtime_ns != before:  # never summarise a stale matrix
        try:
            print(summary(matrix.load(report)))
            print(f"matrix: {report}")
        except matrix.MatrixError as exc:
            print(f"anyint-conformance matrix: {exc}", file=sys.stderr)
            return 3
    else:
        print("anyint-conformance matrix: no matrix was written", file=sys.stderr)
    return {0: 0, 1: 1}.get(code, 3)  # pytest: 2 interrupted, 3 internal, 4 usage, 5 nothing collected


def _report_dir(args: list[str]) -> Path:
    for i, a in enumerate(args):
        if a == "--report-dir" and i + 1 < len(args):
            return Path(args[i + 1])
        if a.startswith("--report-dir="):
            return Path(a.split("=", 1)[1])
    return ROOT / "reports"


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


def summary(m: dict) -> str:
    """Verdict counts per target, as a plain text table."""
    head = ["target", *VERDICTS, "total"]
    rows = []
    for target in m["targets"]:
        cells = [c for c in m["cells"] if c["target"] == target]
        rows.append([target, *(str(sum(c["verdict"] == v for c in cells)) for v in VERDICTS), str(len(cells))])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join("  ".join([r[0].ljust(widths[0]), *(v.rjust(w) for v, w in zip(r[1:], widths[1:]))]) for r in [head, *rows])


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
