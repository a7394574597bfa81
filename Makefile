# Two commands do all set-up on a fresh machine (see README):
#   make matrix   the main job: replay the committed cassettes, write reports/support-matrix.{json,md}
#   make test     the project's own tests plus the same replay (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# pytest caches its assertion-rewritten plugin modules as bytecode; with PYTHONDONTWRITEBYTECODE=1
# (set on these machines) it re-parses ~340 third-party modules on every run (~5 s).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: matrix test browser live-smoke schemas expectations targets-start targets-stop record

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $@

matrix: $(VENV)/.installed
	$(PY) -m pytest suites -q

test: $(VENV)/.installed browser
	$(PY) -m pytest -q --junitxml=reports/.scratch/junit.xml

# the HTML report is checked in a real headless browser (Debian's chromium)
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# Live: install + start the LiteLLM proxy on loopback, run the chat suite against it without
# writing cassettes, compare with suites/expectations/litellm.yaml, stop it by PID.
live-smoke: $(VENV)/.installed
	bash targets/live-smoke.sh

# Re-derive schemas/*.json from schemas/tables/*.yaml (a test fails while they drift).
schemas: $(VENV)/.installed
	$(PY) -m anyint_conformance.derive

# Rewrite suites/expectations/<target>.yaml from the last matrix.
expectations: $(VENV)/.installed
	$(PY) -m anyint_conformance.expectations reports/support-matrix.json

targets-start:
	targets/local.sh install && targets/local.sh start
targets-stop:
	targets/local.sh stop

# Re-record both local targets (they must be running: make targets-start).
record: $(VENV)/.installed
	eval "$$(targets/local.sh env)" && $(PY) -m pytest suites -q --target llamacpp --target litellm --record-mode=rewrite --no-expectations; \
	$(PY) -m pytest suites -q --no-expectations

# Benchmarks, on demand (not a test): replay speed vs bare VCR.py, validation throughput, live cost per
# cell (local LiteLLM proxy) and scaling with xdist workers (a second LiteLLM on 127.0.0.1:14100).
.PHONY: bench
bench: $(VENV)/.installed
	$(PY) benchmarks/bench.py
