# Two commands do all set-up on a fresh machine (see README):
#   make matrix   the main job: replay the committed cassettes, write reports/support-matrix.{json,md,html}, print the summary
#   make test     the project's own tests plus the same replay (what CI runs); needs Chromium (see browser)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# pytest caches its assertion-rewritten plugin modules as bytecode; with PYTHONDONTWRITEBYTECODE=1
# (set on these machines) it re-parses ~340 third-party modules on every run (~5 s).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: matrix test lint browser clients live-smoke schemas expectations targets-start targets-stop record

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# the anyint-conformance command runs `pytest suites -q` with a progress bar, then prints the answer-first summary
matrix: $(VENV)/.installed clients
	$(PY) -m anyint_conformance.faces.cli matrix

# -n 2: both cores (each worker's cells reach the controller, which writes the one matrix a single run would).
# The run replays the suites too: the matrix it writes must be the one that was there, byte for byte.
test: $(VENV)/.installed browser clients lint
	@mkdir -p reports/.scratch && cp reports/support-matrix.json reports/.scratch/before.json && cp reports/support-matrix.md reports/.scratch/before.md
	$(PY) -m pytest -q -n 2 --dist worksteal --junitxml=reports/.scratch/junit.xml  # worksteal: an idle worker takes queued tests from the busy one
	@cmp -s reports/.scratch/before.json reports/support-matrix.json && cmp -s reports/.scratch/before.md reports/support-matrix.md \
	  || { echo "make: the replay did not reproduce reports/support-matrix.json/.md; see: .venv/bin/anyint-conformance diff reports/.scratch/before.json reports/support-matrix.json" >&2; exit 1; }

# the floors of ARCHITECTURE.md (import-linter); it always colours its output: stripped, so logs stay plain text
lint: $(VENV)/.installed
	@out=$$($(VENV)/bin/lint-imports --no-cache 2>&1); code=$$?; printf '%s\n' "$$out" | sed 's/\x1b\[[0-9;]*m//g'; exit $$code

# The client cells run the openai (npm) SDK and the Vercel AI SDK: Node.js >= 20 and the packages pinned by
# clients/js/package-lock.json (npm ci, from the registry). Without Node, one line says how to get it.
clients: clients/js/node_modules/.package-lock.json
clients/js/node_modules/.package-lock.json: clients/js/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "make: the Node client cells need Node.js >= 20 and npm on PATH: apt-get install nodejs npm (Debian 13), or nvm install 20" >&2; exit 1; }
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || { echo "make: the Node client cells need Node.js >= 20, found $$(node --version): nvm install 20" >&2; exit 1; }
	npm ci --prefix clients/js --no-audit --no-fund --loglevel=error

# The HTML report is checked in a real headless browser: $CHROMIUM (any Chrome/Chromium executable) or
# chromium on PATH. As root it installs Debian's chromium once; otherwise it says how, in one line.
browser:
	@if [ -n "$$CHROMIUM" ]; then \
	  [ -x "$$CHROMIUM" ] || { echo "make: CHROMIUM=$$CHROMIUM is not an executable; point it at a Chrome or Chromium binary" >&2; exit 1; }; \
	elif command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's chromium for the HTML report check (~75 s)"; \
	  log=$$(mktemp); \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$$log" 2>&1 \
	    || { echo "make: apt-get could not install chromium (see $$log); install it or set CHROMIUM=/path/to/chrome" >&2; exit 1; }; \
	else \
	  echo "make: the HTML report check needs Chromium: sudo apt-get install chromium, or set CHROMIUM=/path/to/chrome" >&2; exit 1; \
	fi

# Live: install + start the LiteLLM proxy on loopback, run the chat suite (client cells included: clients) without
# writing cassettes, compare with suites/expectations/litellm.yaml, stop it by PID.
live-smoke: $(VENV)/.installed clients
	bash targets/live-smoke.sh

# Re-derive schemas/*.json from schemas/tables/*.yaml (a test fails while they drift).
schemas: $(VENV)/.installed
	$(PY) -m anyint_conformance.contract.derive

# Rewrite suites/expectations/<target>.yaml from the last matrix.
expectations: $(VENV)/.installed
	$(PY) -m anyint_conformance.run.expectations reports/support-matrix.json

targets-start:
	targets/local.sh install && targets/local.sh start
targets-stop:
	targets/local.sh stop

# Re-record the local targets (they must be running: make targets-start).
RECORDED := llamacpp litellm stateful
record: $(VENV)/.installed
	@# a complete re-recording: no cassette of an older suite survives (git restores them); an interrupted one is resumed instead
	for t in $(RECORDED); do [ -f cassettes/$$t/.rewrite-session.json ] && echo "resuming the interrupted re-recording of $$t" || rm -rf cassettes/$$t; done
	eval "$$(targets/local.sh env)" && $(PY) -m pytest suites -q $(addprefix --target ,$(RECORDED)) --record-mode=rewrite --no-expectations; \
	$(PY) -m pytest suites -q --no-expectations

# Benchmarks, on demand (not a test): replay speed vs bare VCR.py, a 90-model catalogue replayed at 9/30/90
# models, live speed-up at --concurrency 1/4/16 (a second LiteLLM on 127.0.0.1:14100, stopped by its PID).
.PHONY: bench
bench: $(VENV)/.installed
	$(PY) benchmarks/bench.py
