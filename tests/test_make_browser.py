"""`make browser` (run by `make test`): a browser present is silence; root installs one with a one-line
notice; otherwise one line that says how to get one, never apt's own errors. Run with fake id/apt-get."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")
HOW = "sudo apt-get install chromium, or set CHROMIUM=/path/to/chrome"


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def _make(tmp_path: Path, uid: int, apt_rc: int | None = None, chromium_on_path=False, **env) -> subprocess.CompletedProcess:
    """`make browser` with a PATH holding only fakes: no real chromium, apt-get or id is reachable."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    _script(bin_dir / "id", f"echo {uid}")
    os.symlink(shutil.which("mktemp"), bin_dir / "mktemp")
    if apt_rc is not None:
        _script(bin_dir / "apt-get", f"echo 'E: Could not get lock /var/lib/dpkg/lock-frontend' >&2; exit {apt_rc}")
    if chromium_on_path:
        _script(bin_dir / "chromium", "exit 0")
    return subprocess.run([MAKE, "-s", "--no-print-directory", "-C", str(ROOT), "browser"], capture_output=True, text=True,
                          env={"PATH": str(bin_dir), "HOME": str(tmp_path), "TMPDIR": str(tmp_path), **env}, timeout=60)


def _ours(stderr: str) -> list[str]:
    """stderr without make's own `make: *** [Makefile:N: browser] Error 1` trailer."""
    return [line for line in stderr.splitlines() if not line.startswith("make: ***")]


def test_without_root_and_without_a_browser_one_line_says_how(tmp_path):
    result = _make(tmp_path, uid=1000, apt_rc=100)
    assert result.returncode != 0 and result.stdout == ""
    assert _ours(result.stderr) == [f"make: the HTML report check needs Chromium: {HOW}"]
    assert "lock" not in result.stderr  # apt-get was never run


def test_a_browser_on_path_or_in_CHROMIUM_is_silence(tmp_path):
    assert _make(tmp_path / "a", uid=1000, chromium_on_path=True).returncode == 0
    chrome = _script(tmp_path / "my-chrome", "exit 0")
    result = _make(tmp_path / "b", uid=1000, CHROMIUM=str(chrome))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    result = _make(tmp_path / "c", uid=1000, CHROMIUM=str(tmp_path / "nope"))
    assert result.returncode != 0 and _ours(result.stderr) == [
        f"make: CHROMIUM={tmp_path / 'nope'} is not an executable; point it at a Chrome or Chromium binary"]


def test_as_root_it_announces_the_install_and_a_failure_is_one_line(tmp_path):
    result = _make(tmp_path / "ok", uid=0, apt_rc=0)
    assert (result.returncode, result.stdout, result.stderr) == (0, "installing Debian's chromium for the HTML report check (~75 s)\n", "")
    result = _make(tmp_path / "fail", uid=0, apt_rc=100)
    assert result.returncode != 0
    assert result.stdout == "installing Debian's chromium for the HTML report check (~75 s)\n"
    [line] = _ours(result.stderr)
    assert line.startswith("make: apt-get could not install chromium (see ") and line.endswith("install it or set CHROMIUM=/path/to/chrome")
    assert "Could not get lock" not in result.stderr  # apt's own output went to the log it names
