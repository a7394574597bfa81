"""The Node client runner (clients/js/runner.mjs), one worker process per run: a JSON request per line in,
a JSON result per line out. Its packages are pinned by clients/js/package-lock.json and installed by
`make clients` (npm ci); without Node or without them, the Node client cells are untested, with the fix."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import subprocess
import threading

from anyint_conformance.model.paths import CLIENTS_JS

RUNNER = CLIENTS_JS / "runner.mjs"


@functools.cache  # read once a run: every Node client cell names its versions
def node_version(package: str) -> str | None:
    try:
        return json.loads((CLIENTS_JS / "node_modules" / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


class NodeWorker:
    _shared: "NodeWorker | None" = None
    _lock = threading.Lock()

    @classmethod
    def unavailable(cls) -> str | None:
        if shutil.which("node") is None:
            return "the Node client cells need Node.js 20 or newer on PATH (e.g. apt-get install nodejs, or nvm), then `make clients`"
        if not (CLIENTS_JS / "node_modules" / "openai").exists():
            return "the Node client packages are not installed: run `make clients` (npm ci --prefix clients/js)"
        return None

    @classmethod
    def shared(cls) -> "NodeWorker":
        with cls._lock:
            if cls._shared is None or cls._shared.process.poll() is not None:
                cls._shared = NodeWorker()
            return cls._shared

    def __init__(self):
        self.process = subprocess.Popen(["node", str(RUNNER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self._ids, self._lock = 0, threading.Lock()
        atexit.register(self.close)

    def run(self, request: dict) -> dict:
        """One flow, answered by the worker (one at a time: the worker runs requests in order)."""
        with self._lock:
            self._ids += 1
            self.process.stdin.write(json.dumps({"id": self._ids, **request}) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        if not line:
            return {"ok": False, "error": "RunnerError: the Node client runner stopped"}
        return json.loads(line)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
