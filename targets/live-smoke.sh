#!/usr/bin/env bash
# A short live run against real servers on loopback: the live path (discovery, httpx, SSE, checks,
# verdicts, lifecycles with real state) on every CI push, against the LiteLLM proxy and the stateful
# target. Nothing is written under cassettes/; reports go to a scratch dir.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
started=()
cleanup() { for name in "${started[@]}"; do targets/local.sh stop "$name" || true; done; }
trap cleanup EXIT
for name in litellm stateful; do
  targets/local.sh install "$name"
  status="$(targets/local.sh status "$name")"  # not piped into grep -q: with pipefail, an early exit fails the pipe
  if ! grep -q "^$name .*running" <<<"$status"; then
    targets/local.sh start "$name"
    started+=("$name")
  fi
done
eval "$(targets/local.sh env)"
# mock models (supported), the dead upstream (broken) and the embeddings mock (non-conforming on chat):
# each verdict must equal the recorded one in suites/expectations/litellm.yaml
.venv/bin/python -m pytest suites -q --target litellm --disable-recording \
  --report-dir reports/.scratch -k "mock-chat-a or dead-upstream or mock-embed"
# every lifecycle on a server with real state: files, batches, assistants, threads and runs (the
# verdicts must equal suites/expectations/stateful.yaml), four tests in flight at once
.venv/bin/python -m pytest suites -q --target stateful --disable-recording --concurrency 4 \
  --report-dir reports/.scratch -k "files or batches or assistants or threads or models"
