"""--anyint-plan: what a live run would send, per target and model and per cost class, before a cent is spent.

Bounds per test: a route cell sends 1 probe, and behind a supported probe the page's own examples and
--examples drawn ones (the expensive classes: the probe only, unless --expensive-examples); parameter,
negative, auth and SDK cells send 1 (negative cells add one route probe per route and model);
lifecycles declare theirs. With --prices, each class gets an estimated spend. Nothing is sent.
"""

from __future__ import annotations

from functools import lru_cache

from anyint_conformance import generate
from anyint_conformance.cost import EXPENSIVE, route_class
from anyint_conformance.schemas import operation

EACH_MODEL = "(each model)"  # the row of a target whose models are not known without asking it
# a suite's route marker -> its cost class (audio and negative cells name their path instead)
MARKER_CLASS = {"chat": "chat", "embeddings": "embeddings", "images": "images", "moderations": "moderations", "files": "files/batches",
                "batches": "files/batches", "assistants": "assistants/threads", "threads": "assistants/threads", "videos": "video",
                "models": "models", "audio": "speech", "auth": "chat"}


@lru_cache(maxsize=None)
def page_examples(method: str, path: str, cap: int) -> int:
    """How many of the page's explicit examples a route cell can send (an upper bound: one equal to the probe is not sent)."""
    from anyint_conformance.suite import overlay

    op = operation(path, method)
    try:
        ov = overlay(op["request"])
    except FileNotFoundError:
        ov = None
    return len(generate.explicit_bodies(op, generate.without_capabilities(op, ov, {}), {}, {"model": generate.MODEL_PLACEHOLDER}, cap))


def item_class(item) -> str:
    """The cost class of one test: the path it names, else its route marker."""
    params = getattr(item, "callspec", None) and item.callspec.params or {}
    path = params.get("path")
    if isinstance(path, str):
        return route_class(path)
    marker = item.get_closest_marker("route")
    return MARKER_CLASS.get(marker.args[0] if marker else "", "other")


def bounds(item, cfg) -> tuple[int, int, int]:
    """(fewest, most) requests one test can send, and how many of the most are priced (a lifecycle's
    creations: its polls, lists and deletes cost nothing)."""
    generating = item.get_closest_marker("generates")
    low, high = 1, 1
    if generating is not None:
        routes = [r for r in generating.args if cfg.expensive_examples or route_class(r.split(" ", 1)[1]) not in EXPENSIVE]
        if routes or not generating.args:
            high = 1 + sum(page_examples(*r.split(" ", 1), cfg.token_cap) for r in routes) + cfg.examples
    declared = item.get_closest_marker("requests")  # lifecycles declare their bounds
    if declared:
        polls = int(cfg.poll_timeout) + 1  # one poll a second
        low, high = declared.args[0], declared.args[1] + (polls if declared.kwargs.get("polls") else 0)
        return low, high, declared.kwargs.get("paid", high)
    return low, high, high


def print_plan(session, state) -> None:
    cfg = state.cfg
    prices = state.spend.prices
    rows: dict[tuple[str, str], list[int]] = {}
    classes: dict[tuple[str, str], list[float]] = {}
    for item in session.items:
        subject = getattr(item, "callspec", None) and item.callspec.params.get("conformance")
        if subject is None:
            continue
        low, high, paid = bounds(item, cfg)
        per_target = item.get_closest_marker("per_target") is not None
        key = (subject.target.name, "(target-wide)" if per_target else (subject.model or EACH_MODEL))
        tests, lo, hi = rows.get(key, [0, 0, 0])
        rows[key] = [tests + 1, lo + low, hi + high]
        klass = item_class(item)
        price = prices.per_request(klass, subject.model, cfg.token_cap) if prices else 0.0
        c = classes.setdefault((subject.target.name, klass), [0, 0, 0.0])
        c[0], c[1], c[2] = c[0] + low, c[1] + high, c[2] + paid * price
    tw = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = []
    for target in state.targets:
        found = state.discovered.get(target.name)
        if found is None or found.placeholder:
            lines.append(f"{target.name}: models unknown until a live run asks GET /models; the {EACH_MODEL} row repeats for every model it lists")
        else:
            source = "recorded" if not state.live else "discovered"
            lines.append(f"{target.name}: {len(found.models)} {source} model(s); one row per model")
    lines.append(f"{'target':10} {'model':28} {'tests':>6} {'requests (min-max)':>20}")
    total = [0, 0, 0]
    for (target, model), (tests, lo, hi) in sorted(rows.items()):
        lines.append(f"{target:10} {model:28} {tests:>6} {f'{lo}-{hi}':>20}")
        total = [total[0] + tests, total[1] + lo, total[2] + hi]
    lines.append(f"{'total':39} {total[0]:>6} {f'{total[1]}-{total[2]}':>20}")
    lines.append("")
    spend_head = f"{'estimated spend (max, ' + prices.currency + ')':>28}" if prices else ""
    lines.append(f"{'target':10} {'route class':20} {'requests (min-max)':>20} {spend_head}".rstrip())
    spend_total = 0.0
    for (target, klass), (lo, hi, spend) in sorted(classes.items()):
        note = " (probe only; --expensive-examples for more)" if klass in EXPENSIVE and not cfg.expensive_examples else ""
        money = f" {spend:>28.4f}" if prices else ""
        lines.append(f"{target:10} {klass:20} {f'{lo}-{hi}':>20}{money}{note}")
        spend_total += spend
    if prices:
        lines.append(f"{'total':52}{spend_total:>29.4f}" + (f"  (--budget {cfg.budget:g}: cells that could pass it are not sent)" if cfg.budget else ""))
    else:
        lines.append("no price table: pass --prices FILE (see README, Cost) for an estimated spend")
    lines.append(f"max_tokens <= {cfg.token_cap} in every body; min = every probe refused, max = every probe supported "
                 f"(the page's examples and {cfg.examples} drawn examples per route cell, polls up to --poll-timeout); "
                 f"negative cells add one route probe per route and model")
    for line in lines:
        (tw.write_line if tw else print)(line)
