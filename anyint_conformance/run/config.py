"""The run's options, declared once (OPTIONS), and the frozen configuration built from them (no pytest here).

One table generates the pytest options (faces/plugin.py), the `anyint-conformance matrix|plan` arguments
(faces/cli.py) and the fields of `RunConfig`; a test compares the three.

Modes
  replay (default, `--record-mode` unset or none): answers come from cassettes/<target>/, the network
         is blocked, targets default to every target that has committed cassettes.
  record (`--record-mode=once|rewrite|...`): a live target answers and wire/recording.py writes the
         cassettes (VCR.py's format); the target defaults to `anyint`.
  live   (`--disable-recording`): a live target answers, nothing is written under cassettes/.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from anyint_conformance.model.paths import CASSETTES_DIR, REPORTS_DIR


@dataclass(frozen=True)
class Option:
    """One option of a run. `kind` bool is a switch; `repeatable` collects a tuple; `owner` names the
    plugin that declares the flag when it is not ours (pytest-recording's flags are forwarded by the CLI)."""

    flag: str
    default: Any
    help: str
    kind: type = str
    metavar: str | None = None
    repeatable: bool = False
    shown: str | None = None  # how help describes the default, when not the value itself
    cli: str | None = ""  # the command's own spelling ("" = the flag; None = not an argument of the command)
    invert: bool = False  # a switch that turns its field off (--no-expectations -> expectations=False)
    field: str = ""  # RunConfig's field ("" = from the flag)
    owner: str | None = None  # None: declared by our plugin

    @property
    def name(self) -> str:
        return self.field or self.flag.removeprefix("--").removeprefix("anyint-").replace("-", "_")

    @property
    def cli_flag(self) -> str | None:
        return None if self.cli is None else (self.cli or self.flag)

    @property
    def described(self) -> str:
        """The help text with its default, the same words in pytest's --help and the command's."""
        default = self.shown if self.shown is not None else ("off" if self.kind is bool else str(self.default))
        return f"{self.help} (default: {default})"

    def value(self, given: Any) -> Any:
        """The config value for what the option parser produced."""
        if self.kind is bool:
            return (not given) if self.invert else bool(given)
        if self.repeatable:
            return tuple(given or ())
        if self.kind is Path:
            return Path(given if given is not None else self.default).resolve()
        return self.default if given is None else self.kind(given)


OPTIONS: tuple[Option, ...] = (
    Option("--target", (), "target profile from targets.yaml", metavar="NAME", repeatable=True, field="targets",
           shown="replay: every target with cassettes; live: anyint"),
    Option("--model", (), "model to test; applies to every target that lists it, or target:id for one target's", metavar="ID",
           repeatable=True, field="models", shown="every model GET /models lists"),
    Option("--base-url", None, "any OpenAI-compatible base URL to test instead of a profile", metavar="URL", shown="none"),
    Option("--key-env", None, "with --base-url: the environment variable that holds the key", metavar="VAR", shown="none: no key sent"),
    Option("--target-name", None, "with --base-url: the name for cassettes and reports", metavar="NAME", shown="from the URL's host"),
    Option("--examples", 4, "Hypothesis examples per route cell, after the page's own examples, only behind a supported probe", int, "N"),
    Option("--seed", 0, "base seed for generation; changing it changes every generated request", int, "N"),
    Option("--trials", 1, "times each effect cell is judged (each against its control): supported needs all of them, a mix is flaky (k/K)", int, "K"),
    Option("--strict-upstream", False, "upstream OpenAI rules decide verdicts too (pytest owns --strict)", bool, cli="--strict", field="strict",
           shown="off: only the pages, the official SDK, integrity and HTTP decide"),
    Option("--token-cap", 16, "upper bound of max_tokens in every body sent (probes, examples, negative, auth, lifecycle, batch files, SDK calls)", int, "N"),
    Option("--tool-token-cap", 48, "upper bound of max_tokens in bodies that offer tools or ask for JSON: room for a whole call's arguments or object", int, "N"),
    Option("--max-requests", 0, "request budget: after N requests the rest of the run is untested", int, "N", shown="no limit"),
    Option("--prices", None, "price table (YAML: per route class and model pattern) for the plan's spend and --budget", metavar="FILE", shown="none"),
    Option("--budget", 0.0, "spend budget in the price table's currency: a cell that could pass it is not sent (untested); needs --prices",
           float, "AMOUNT", shown="no limit"),
    Option("--expensive-examples", False, "also send the page's and drawn examples on the expensive classes (images, speech, video)", bool,
           shown="off: their probe only"),
    Option("--concurrency", 1, "tests in flight at once (threads), each in its own cassette; not with -n", int, "N"),
    Option("--rps", 0.0, "requests per second per target, shared by all threads and xdist workers", float, "R", shown="unlimited"),
    Option("--retries", 2, "retries of a 429 answer, honouring Retry-After up to 30 s (replay never waits)", int, "N"),
    Option("--poll-timeout", 60.0, "seconds a run / batch / video may take to finish", float, "S"),
    Option("--request-timeout", 60.0, "seconds per request", float, "S"),
    Option("--declarations", None, "a catalogue export (YAML: model -> {routes, parameters}, or target -> model -> ...) confronted with the matrix",
           metavar="FILE", shown="none: only what GET /models declares"),
    Option("--no-expectations", False, "ignore suites/expectations/: judge every cell by the default rules", bool, invert=True, field="expectations"),
    Option("--report-dir", REPORTS_DIR, "where support-matrix.{json,md,html} are written", Path, "DIR", shown="reports/"),
    Option("--cassette-dir", CASSETTES_DIR, "root of the cassettes, one folder per target", Path, "DIR", shown="cassettes/"),
    Option("--models-expected", 0, "plan: how many models a target lists whose models are not known yet (no recording, no live run): "
           "the plan's totals count that many", int, "N", shown="one, said in the plan"),
    Option("--latency", 0.0, "plan: seconds one answer takes, for the plan's estimate of a live run's wall time at --concurrency", float, "S",
           shown="no estimate"),
    Option("--shard", None, "I/N: run the I-th of N shards (by target and model, balanced by the plan's request counts) and write "
           "shard-I-of-N.json for `anyint-conformance merge`", metavar="I/N", shown="none: the whole selection"),
    Option("--anyint-plan", False, "dry run: print models x tests x requests and the spend a live run could reach, send nothing", bool, cli=None),
    # pytest-recording's own options (its plugin declares them; the command forwards them)
    Option("--record-mode", None, "pytest-recording: once | new_episodes | all | rewrite (live, recorded) or none", metavar="MODE",
           shown="none: replay", owner="pytest-recording"),
    Option("--disable-recording", False, "pytest-recording: live, nothing recorded", bool, shown="off: replay", owner="pytest-recording"),
)


def _started() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Derived:
    """What RunConfig knows beyond its options."""

    @property
    def mode(self) -> str:  # replay | record | live
        if self.disable_recording:
            return "live"
        return "record" if (self.record_mode or "none") != "none" else "replay"

    @property
    def live(self) -> bool:
        return self.mode != "replay"

    @property
    def recording(self) -> bool:
        return self.mode == "record"

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

    @classmethod
    def from_options(cls, option: Callable[[str], object]) -> "RunConfig":
        """The config from an option getter (pytest's config.getoption)."""
        return cls(**{o.name: o.value(option(o.flag)) for o in OPTIONS})

    @classmethod
    def defaults(cls, **given) -> "RunConfig":
        """Every option at its default, `given` fields changed (tests, benchmarks, the plan's dry runs)."""
        return cls(**{**{o.name: o.value(False if o.kind is bool else None) for o in OPTIONS}, **given})


RunConfig = dataclasses.make_dataclass(
    "RunConfig",
    [(o.name, Any, field(default=o.default)) for o in OPTIONS] + [("started_at", str, field(default_factory=_started))],
    bases=(_Derived,),
    frozen=True,
)
RunConfig.__doc__ = "One run's options (see OPTIONS for each field), frozen; `started_at` is when the run began."
RunConfig.__module__ = __name__
