"""One frozen run configuration, built once from the command-line options (no pytest import here).

Modes
  replay (default, `--record-mode` unset or none): answers come from cassettes/<target>/, the network
         is blocked, targets default to every target that has committed cassettes.
  record (`--record-mode=once|rewrite|...`): a live target answers and recording.py writes the
         cassettes (VCR.py's format);
         the target defaults to `anyint`.
  live   (`--disable-recording`): a live target answers, nothing is written under cassettes/.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class RunConfig:
    mode: str  # replay | record | live
    record_mode: str
    cassette_dir: Path
    report_dir: Path
    targets: tuple[str, ...] = ()
    models: tuple[str, ...] = ()  # "id" (every target that has it) or "target:id"
    base_url: str | None = None
    key_env: str | None = None
    target_name: str | None = None
    examples: int = 4
    seed: int = 0
    request_timeout: float = 60.0
    poll_timeout: float = 60.0
    max_requests: int = 0
    token_cap: int = 16
    prices: str | None = None
    budget: float = 0.0
    expensive_examples: bool = False
    rps: float = 0.0
    concurrency: int = 1
    retries: int = 2
    strict: bool = False
    plan: bool = False
    expectations: bool = True
    declarations: str | None = None
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))

    @property
    def live(self) -> bool:
        return self.mode != "replay"

    @property
    def recording(self) -> bool:
        return self.mode == "record"

    @classmethod
    def from_options(cls, option: Callable[[str], object]) -> "RunConfig":
        record_mode = option("--record-mode") or "none"
        disabled = bool(option("--disable-recording"))
        mode = "live" if disabled else ("record" if record_mode != "none" else "replay")
        return cls(
            mode=mode,
            record_mode=record_mode,
            cassette_dir=Path(option("--cassette-dir")).resolve(),
            report_dir=Path(option("--report-dir")).resolve(),
            targets=tuple(option("--target") or ()),
            models=tuple(option("--model") or ()),
            base_url=option("--base-url"),
            key_env=option("--key-env"),
            target_name=option("--target-name"),
            examples=option("--examples"),
            seed=option("--seed"),
            request_timeout=option("--request-timeout"),
            poll_timeout=option("--poll-timeout"),
            max_requests=option("--max-requests"),
            token_cap=option("--token-cap"),
            prices=option("--prices"),
            budget=option("--budget"),
            expensive_examples=bool(option("--expensive-examples")),
            rps=option("--rps"),
            concurrency=option("--concurrency"),
            retries=option("--retries"),
            strict=bool(option("--strict-upstream")),
            plan=bool(option("--anyint-plan")),
            expectations=not option("--no-expectations"),
            declarations=option("--declarations"),
        )

    def models_for(self, target: str, known: list[str] | None, targets: set[str]) -> list[str] | None:
        """The --model ids that apply to `target`: `target:id` always; a bare id when the target has it
        (or when its models are unknown). A prefix that names no target is part of the id (e.g. llama3:8b).
        None when --model was not given."""
        if not self.models:
            return None
        out = []
        for spec in self.models:
            name, sep, model = spec.partition(":")
            if sep and name in targets:
                if name == target:
                    out.append(model)
            elif known is None or spec in known:
                out.append(spec)
        return out
