"""Which models each target has: GET /models (recorded in cassettes/<target>/models.yaml), narrowed by
--model, and the subjects (target x model) the suites run on. Every problem that stops a run is raised
once, before any test, as RunError with its fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from anyint_conformance.model.paths import shown
from anyint_conformance.run.cassettes import Cassettes, rerecord_hint
from anyint_conformance.run.connections import Connections
from anyint_conformance.run.context import RunContext
from anyint_conformance.run.targets import Target, model_ids
from anyint_conformance.wire.recording import CassetteMiss, CassetteUnreadable
from anyint_conformance.wire.transport import Exchange, send

EACH_MODEL = "(each model)"  # a plan's row for a target whose models are not known without asking it


class RunError(Exception):
    """A problem of the whole run: reported once, before any test, with its fix."""


@dataclass(frozen=True)
class Subject:
    """One parametrization of a suite: a target and a model (None for target-wide cells)."""

    target: Target
    model: str | None

    @property
    def id(self) -> str:
        return f"{self.target.name}:{self.model or 'no-model'}"


@dataclass
class Discovery:
    """What GET /models answered for a target (recorded in cassettes/<target>/models.yaml)."""

    exchange: Exchange | None
    models: list[str]  # the models under test (after --model)
    cassette: Path
    entries: dict = field(default_factory=dict)  # model id -> the raw entry the target declared
    placeholder: bool = False  # a plan without recordings or a key: the models are not known yet
    listed: list[str] = field(default_factory=list)  # every model the target lists, before --model chose
    chosen: bool = True  # False: --model names none of this target's models, so the run leaves it out


def discover(ctx: RunContext, cassettes: Cassettes, connections: Connections) -> dict[str, Discovery]:
    """Every target's models, with --model checked against them, or RunError naming the fix."""
    cfg, names = ctx.cfg, {t.name for t in ctx.targets}
    found, problems = {}, []
    for target in ctx.targets:
        path = ctx.target_dir(target.name) / "models.yaml"
        if cfg.plan and not path.exists():
            chosen = cfg.models_for(target.name, None, names)
            models = chosen or list(target.models or [EACH_MODEL])  # a plan sends nothing, not even GET /models
            found[target.name] = Discovery(None, models, path, placeholder=not chosen and not target.models)
            continue
        try:
            found[target.name] = _discover(ctx, cassettes, connections, target, path)
        except RunError as exc:
            problems.append(str(exc))
    if problems:
        raise RunError("\n".join(problems))
    if cfg.models:
        listed = {t.name: found[t.name].listed or found[t.name].models for t in ctx.targets}
        bare = [m for m in cfg.models if m.partition(":")[0] not in names]
        unknown = [m for m in bare if not any(m in models for models in listed.values())]
        wrong = [m for m in cfg.models if m.partition(":")[0] in names and m.partition(":")[2] not in listed[m.partition(":")[0]]]
        if unknown or wrong:
            known = "; ".join(f"{t.name}: {', '.join(listed[t.name])}" for t in ctx.targets)
            raise RunError(f"unknown --model {', '.join(unknown + wrong)}: the {'discovered' if ctx.live else 'recorded'} models are {known}")
    return found


def _discover(ctx: RunContext, cassettes: Cassettes, connections: Connections, target: Target, path: Path) -> Discovery:
    cfg = ctx.cfg
    if ctx.live and not cfg.plan and target.auth == "bearer" and not target.key:
        replay = "or replay its recordings: drop --record-mode/--disable-recording" if path.exists() else "(there are no recordings of it to replay)"
        raise RunError(f"{target.key_env} is not set: export {target.key_env}=<key> to test target {target.name} live ({target.base_url}), {replay}")
    if (not ctx.live or cfg.plan) and not path.exists():
        raise RunError(f"no recordings of target {target.name} under {shown(ctx.target_dir(target.name))}: record them with "
                       f"{rerecord_hint(target, record_mode='once')}")
    try:
        cassette = cassettes.open(path, replay=cfg.plan)
        with connections.client(target, cassette) as client:
            ex = send(client, "GET", target.url("/models"), timeout=cfg.request_timeout)
        cassettes.close(cassette, target.name)
    except CassetteMiss:
        raise RunError(f"{shown(path)} has no recorded GET /models for {target.url('/models')}: {rerecord_hint(target)}") from None
    except CassetteUnreadable as exc:
        raise RunError(f"{shown(exc.path)}{f', line {exc.line}' if exc.line else ''} cannot be read ({exc.why}): "
                       f"restore it (git checkout -- {shown(exc.path)}) or {rerecord_hint(target)}") from None
    ids, entries = model_ids(ex.parsed) if ex.status == 200 else ([], {})
    if target.models:  # a profile's own list narrows (or, without a model list, replaces) discovery
        ids = [m for m in target.models if m in ids] or list(target.models)
    if not ids:
        # a model list that names no model is the GET /models cell's verdict; the run goes on with --model
        named = cfg.models_for(target.name, None, {t.name for t in ctx.targets})
        if named:
            return Discovery(ex, named, path, {}, listed=named)
        raise RunError(f"GET /models of target {target.name} ({target.url('/models')}) names no model: {why_no_models(ex)}. "
                       f"Name the models to test with --model {target.name}:<id> (repeatable); the GET /models cell will say what is wrong")
    chosen = cfg.models_for(target.name, ids, {t.name for t in ctx.targets})
    models = ids if chosen is None else [m for m in ids if m in chosen]
    return Discovery(ex, models, path, entries, listed=ids, chosen=chosen is None or bool(models))


def why_no_models(ex: Exchange) -> str:
    """The exact reason a GET /models answer names no model id, in a few words."""
    if ex.error:
        return ex.error
    if ex.status != 200:
        return f"HTTP {ex.status}: {ex.snippet(160)}"
    body = ex.parsed
    if not isinstance(body, (dict, list)):
        return f"the body is not JSON: {ex.snippet(80)!r}"
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return f"no `data` list (the answer is a JSON {type(body).__name__}" + (f" with keys {sorted(body)[:6]}" if isinstance(body, dict) else "") + ")"
    if not data:
        return "`data` is an empty list"
    first = next((i for i, item in enumerate(data) if not (isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"])), 0)
    item = data[first]
    return f"data[{first}].id is {item.get('id')!r}, not a model id string" if isinstance(item, dict) else f"data[{first}] is {item!r}, not an object"


def subjects(ctx: RunContext, found: dict[str, Discovery], per_target: bool = False) -> list[Subject]:
    """Target x model pairs; with `per_target`, one subject per target: its probe model (the profile's, or
    the first it lists), whichever models --model chose, so target-wide cells always send the same
    requests. A target none of whose models --model names is not under test: it has no subject at all."""
    out = []
    for target in ctx.targets:
        discovery = found.get(target.name)
        if discovery is None or not discovery.chosen:
            continue
        if per_target:
            listed = discovery.listed or discovery.models
            preferred = [m for m in listed if m == target.probe_model]
            out.append(Subject(target, (preferred or listed or [None])[0]))
        else:
            out += [Subject(target, m) for m in discovery.models]
    return out
