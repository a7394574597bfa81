#!/usr/bin/env bash
# A short live run against a real LiteLLM proxy on loopback: the live path (discovery, httpx, SSE,
# checks, verdicts) on every CI push. Nothing is written under cassettes/; reports go to a scratch dir.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
started=0
cleanup() { if ((started)); then targets/local.sh stop litellm || true; fi; }
trap cleanup EXIT
targets/local.sh install litellm
if ! targets/local.sh status litellm | grep -q "running"; then
  targets/local.sh start litellm
  started=1
fi
eval "$(targets/local.sh env)"
# mock models (supported), the dead upstream (broken) and the embeddings mock (non-conforming on chat):
# each verdict must equal the recorded one in suites/expectations/litellm.yaml
.venv/bin/python -m pytest suites -q --target litellm --disable-recording \
  --report-dir reports/.scratch -k "mock-chat-a or dead-upstream or mock-embed"
