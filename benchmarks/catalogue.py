#!/usr/bin/env python
"""Record a synthetic catalogue (N LiteLLM mock chat models) into a scratch folder, for the scale benchmark.

Starts a LiteLLM proxy (the one targets/local.sh installs) on 127.0.0.1:14100 with N mock models and a
throw-away key, records every suite against it as the ad-hoc target `catalogue` (--record-mode=rewrite,
--concurrency 8), and stops the proxy by its PID. Nothing leaves loopback; nothing is written outside
--cassette-dir.

  .venv/bin/python benchmarks/catalogue.py --models 90 --cassette-dir /tmp/catalogue
"""

from __future__ import annotations

import argparse
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import HOST, LITELLM, PORT, env, mock_config, port_free, requests_answered, start_litellm, stop  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=90)
    parser.add_argument("--cassette-dir", required=True, type=Path)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if not LITELLM.exists():
        print("the LiteLLM proxy is not installed: targets/local.sh install litellm", file=sys.stderr)
        return 2
    if not port_free(PORT):
        print(f"{HOST}:{PORT} is in use by another process; not starting a second proxy there", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="anyint-catalogue-") as scratch:
        config = Path(scratch) / "catalogue.yaml"
        names = mock_config(config, args.models, None)
        key = "sk-catalogue-" + secrets.token_hex(12)
        proc = start_litellm(config, key, Path(scratch) / "litellm.log")
        try:
            started = time.perf_counter()
            cmd = [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:randomly", "--base-url", f"http://{HOST}:{PORT}/v1", "--key-env", "CATALOGUE_KEY",
                   "--target-name", "catalogue", "--record-mode=rewrite", "--cassette-dir", str(args.cassette_dir), "--no-expectations",
                   "--report-dir", str(Path(scratch) / "reports"), "--concurrency", str(args.concurrency), "--poll-timeout", "3"]
            result = subprocess.run(cmd, cwd=ROOT, env=env({"CATALOGUE_KEY": key}), capture_output=True, text=True, timeout=3600)
            print(f"recorded {len(names)} mock models: {requests_answered(result.stdout)} requests in {time.perf_counter() - started:.0f} s "
                  f"into {args.cassette_dir / 'catalogue'}")
            return 0 if "cells observed" in result.stdout else 1
        finally:
            stop(proc)


if __name__ == "__main__":
    sys.exit(main())
