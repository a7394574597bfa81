"""--shard I/N: the tests one of N shards runs, so a CI job matrix can split a run across machines.

A shard is a set of groups: a group is one target and one model (a target's target-wide tests are a group
of their own), so a model's lifecycles, effects and controls stay in one shard. Groups are dealt out by
the plan's request counts (the most a test can send: run/plan.py's dry run against a target that supports
everything), largest first, each to the lightest shard, ties to the lower index and then by name. Every
shard computes the same split from the same collection, without talking to the others. Each shard writes
`shard-I-of-N.json` (the cells it observed; `anyint-conformance merge` joins the N files into the matrix
one run would have written, byte for byte) and leaves support-matrix.* as they were.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from anyint_conformance.run.targets import TargetError

Group = tuple[str, str]  # (target, model); model "" for the target-wide tests


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    of: int

    @classmethod
    def parse(cls, text: str | None) -> "Shard | None":
        if not text:
            return None
        found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
        if not found or not 1 <= int(found.group(1)) <= int(found.group(2)):
            raise TargetError(f"--shard {text}: expected I/N with 1 <= I <= N (e.g. --shard 2/3: the second of three shards)")
        return cls(int(found.group(1)), int(found.group(2)))

    @property
    def name(self) -> str:
        return f"{self.index}/{self.of}"

    @property
    def file(self) -> str:
        return f"shard-{self.index}-of-{self.of}.json"


def group_of(item) -> Group:
    """The group of an engine Item: its target and model (target-wide tests: the target's own group)."""
    return item.subject.target.name, "" if item.per_target else (item.subject.model or "")


def deal(weights: dict[Group, int], shards: int) -> dict[Group, int]:
    """{group: its shard, 1-based}: largest group first, each to the lightest shard (ties: lower index)."""
    load = [0] * shards
    out = {}
    for group in sorted(weights, key=lambda g: (-weights[g], g)):
        index = min(range(shards), key=lambda i: (load[i], i))
        out[group] = index + 1
        load[index] += weights[group]
    return out


def weights(items: list, most: dict[str, int]) -> dict[Group, int]:
    """Each group's weight: the requests its tests can send at most (each test at least 1)."""
    out: dict[Group, int] = {}
    for item in items:
        out[group_of(item)] = out.get(group_of(item), 0) + max(1, most[item.nodeid])
    return out


def select(engine, items: list, shard: Shard) -> tuple[list, list[Group]]:
    """The items of `shard` (engine Items, in their order) and the groups it runs."""
    from anyint_conformance.run.plan import dry_run  # the plan's own dry run: its counts are the plan's

    most, _ = dry_run(engine, items, supports=True)
    dealt = deal(weights(items, {nodeid: len(sent) for nodeid, sent in most.items()}), shard.of)
    return [i for i in items if dealt[group_of(i)] == shard.index], sorted(g for g, s in dealt.items() if s == shard.index)
