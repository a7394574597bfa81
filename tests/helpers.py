"""Running the suite as a user would: pytest on the suites, without any key from this environment.

`run_pytest` runs it in this process (pytest.main, output captured): the schemas, validators and drawn
requests are computed once per process and shared, so a run costs a fraction of a new interpreter. Pass
`fresh=True` for a run that must be a process of its own (real signals, a killed worker, determinism
across processes).
"""

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET_SUFFIXES = ("_API_KEY", "_MASTER_KEY")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _environment(env: dict | None):
    """The user's environment without any key, plus `env`, restored afterwards."""
    saved = dict(os.environ)
    try:
        for name in [k for k in os.environ if k.endswith(SECRET_SUFFIXES)]:
            del os.environ[name]
        os.environ.update(env or {})
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_pytest(*args: str, env: dict | None = None, timeout: int = 300, fresh: bool = False) -> Result:
    if fresh:
        clean = {k: v for k, v in os.environ.items() if not k.endswith(SECRET_SUFFIXES)}
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=ROOT, env={**clean, **(env or {})},
                              capture_output=True, text=True, timeout=timeout)
        return Result(done.returncode, done.stdout, done.stderr)
    import pytest

    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with _environment(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            quiet = [] if "no:terminal" in args else ["-q"]  # -q is the terminal plugin's option
            code = pytest.main([*quiet, "-p", "no:cacheprovider", *args])
    finally:
        os.chdir(cwd)
    return Result(int(code), out.getvalue(), err.getvalue())
