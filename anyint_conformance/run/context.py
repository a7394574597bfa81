"""What a run knows before it sends anything, frozen: its options, targets, secrets, rules and tables.

Made once per run (`RunContext.build`); every problem it finds (an unknown target, a broken price or
declarations file, --budget without prices, a wrong --shard) is a TargetError the faces report in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from anyint_conformance.judging.checks import Rules
from anyint_conformance.model.paths import shown
from anyint_conformance.model.verdicts import scrub
from anyint_conformance.reports.declared import load_file as load_declarations
from anyint_conformance.run.config import RunConfig
from anyint_conformance.run.expectations import Expectations
from anyint_conformance.run.shards import Shard
from anyint_conformance.run.targets import DEFAULT_TARGET, Target, TargetError, adhoc_target, load_profiles, secrets_of
from anyint_conformance.wire.cost import PriceError, Prices
from anyint_conformance.wire.recording import recorded_targets


@dataclass(frozen=True)
class RunContext:
    cfg: RunConfig
    targets: tuple[Target, ...]
    secrets: tuple[str, ...]  # every key value reachable through a profile: scrubbed from everything written
    rules: Rules  # the rule set every answer is judged by (strict or not; the secrets a reflection would leak)
    prices: Prices | None
    declarations: dict  # the --declarations file, read
    expectations: Expectations
    shard: Shard | None = None  # --shard I/N, parsed

    @classmethod
    def build(cls, cfg: RunConfig) -> "RunContext":
        profiles = load_profiles()
        targets = _targets(cfg, profiles)
        secrets = tuple(secrets_of({**profiles, **{t.name: t for t in targets}}))
        if cfg.budget and not cfg.prices:
            raise TargetError("--budget needs --prices: a price table to estimate what each request costs (see README, Cost)")
        try:
            prices = Prices.load(cfg.prices) if cfg.prices else None
            declarations = load_declarations(cfg.declarations) if cfg.declarations else {}
        except (PriceError, ValueError) as exc:
            raise TargetError(str(exc)) from None
        expectations = Expectations.load() if cfg.expectations else Expectations({})
        return cls(cfg, tuple(targets), secrets, Rules(strict=cfg.strict, secrets=secrets), prices, declarations, expectations, Shard.parse(cfg.shard))

    @property
    def live(self) -> bool:
        return self.cfg.live

    def target_dir(self, target: str) -> Path:
        return self.cfg.cassette_dir / target

    def scrub(self, text: str) -> str:
        return scrub(text, self.secrets)


def _targets(cfg: RunConfig, profiles: dict[str, Target]) -> list[Target]:
    if cfg.base_url:
        return [adhoc_target(cfg.base_url, cfg.key_env, cfg.target_name)]
    names = list(cfg.targets) or ([DEFAULT_TARGET] if cfg.live else recorded_targets(cfg.cassette_dir))
    unknown = [n for n in names if n not in profiles]
    if unknown:
        raise TargetError(f"unknown target(s) {', '.join(unknown)}; profiles in targets.yaml: {', '.join(profiles)}")
    if not names:
        raise TargetError(f"no recorded targets under {shown(cfg.cassette_dir)} to replay; record some (see README) or pass --target")
    return [profiles[n] for n in names]
