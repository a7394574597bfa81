"""The ground floor: verdicts, severities, provenances, findings and cells. Imports nothing of the project.

Everything that judges produces these; everything that reports reads them (as plain dicts in the matrix).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum


class Verdict(str, Enum):
    # route and parameter cells
    SUPPORTED = "supported"  # 2xx, conforms, the SDK parses it; a parameter's documented effect was observed
    UNVERIFIED = "unverified"  # parameter cells: 2xx and conforming, but the effect was not (or cannot be) observed
    IGNORED = "ignored"  # parameter cells: 2xx and conforming, the promised effect is absent
    FLAKY = "flaky"  # parameter cells, --trials K: the effect observed in some trials and not in others (k/K)
    UNSUPPORTED = "unsupported"  # a refusal (4xx) of a valid request
    NONCONFORMING = "non-conforming"  # 2xx that breaks a documented or SDK rule (upstream rules: only in strict mode)
    BROKEN = "broken"  # 5xx, timeout, connection error, invalid JSON, wrong content type, a cut stream
    UNTESTED = "untested"  # not run: filtered, no key, budget spent, rate-limited, an earlier step failed
    # negative and auth cells: the contract is a refusal
    REJECTED = "rejected"  # refused (4xx) as the contract says
    LENIENT = "lenient"  # accepted (2xx) what only upstream OpenAI refuses (decides only in strict mode)
    ACCEPTED = "accepted"  # accepted (2xx) what the page forbids; for credentials a security finding


# Worst first: a cell takes the worst verdict among its exchanges.
SEVERITY_ORDER = [
    Verdict.BROKEN,
    Verdict.ACCEPTED,
    Verdict.NONCONFORMING,
    Verdict.IGNORED,
    Verdict.FLAKY,
    Verdict.UNSUPPORTED,
    Verdict.UNTESTED,
    Verdict.UNVERIFIED,
    Verdict.LENIENT,
    Verdict.REJECTED,
    Verdict.SUPPORTED,
]

# What each verdict means, in one line (legends of every report).
MEANING = {
    Verdict.SUPPORTED: "2xx, every body / event conforms and the official SDK parses it; for a parameter, its effect was observed",
    Verdict.UNVERIFIED: "parameter accepted (2xx, conforming) but its effect was not observed: no effect check, or not observable",
    Verdict.IGNORED: "parameter accepted (2xx, conforming) but the effect the docs promise is absent (against the control: the answer without it)",
    Verdict.FLAKY: "the effect was observed in some of the --trials and not in others (k/K): not a pass",
    Verdict.UNSUPPORTED: "refused with a 4xx: the route, model or parameter is not available",
    Verdict.NONCONFORMING: "2xx that breaks a documented rule, contradicts the request or itself, or that the official SDK cannot use",
    Verdict.BROKEN: "5xx, timeout, connection error, invalid JSON, wrong content type, cut stream",
    Verdict.UNTESTED: "not run: filtered, no key, budget spent, rate-limited, or an earlier step produced nothing",
    Verdict.REJECTED: "invalid request or bad credentials refused as the contract says",
    Verdict.LENIENT: "accepted what only upstream OpenAI refuses, or the valid key in a form the page calls a mistake (fails only with --strict-upstream)",
    Verdict.ACCEPTED: "accepted an invalid request the page forbids; bad credentials answered 2xx (security finding)",
}

# A symbol beside every word: no meaning carried by colour alone. SYMBOL is for Markdown (GitHub draws its
# emoji); TEXT_SYMBOL is for the HTML page and the terminal, which may have no emoji font: each of these is
# drawn by the common text fonts (DejaVu, Liberation, Noto), and tests/test_html.py checks none is a box.
TEXT_SYMBOL = {
    Verdict.SUPPORTED: "✔",
    Verdict.UNVERIFIED: "◐",
    Verdict.IGNORED: "○",
    Verdict.FLAKY: "≈",
    Verdict.UNSUPPORTED: "⊘",
    Verdict.NONCONFORMING: "⚠",
    Verdict.BROKEN: "✘",
    Verdict.UNTESTED: "·",
    Verdict.REJECTED: "✔",
    Verdict.LENIENT: "↷",
    Verdict.ACCEPTED: "‼",
}
SYMBOL = {
    Verdict.SUPPORTED: "✅",
    Verdict.UNVERIFIED: "◐",
    Verdict.IGNORED: "🟡",
    Verdict.FLAKY: "🎲",
    Verdict.UNSUPPORTED: "⛔",
    Verdict.NONCONFORMING: "⚠️",
    Verdict.BROKEN: "❌",
    Verdict.UNTESTED: "·",
    Verdict.REJECTED: "✅",
    Verdict.LENIENT: "↷",
    Verdict.ACCEPTED: "❗",
}


def worst(verdicts) -> Verdict:
    verdicts = [Verdict(v) for v in verdicts]
    return min(verdicts, key=SEVERITY_ORDER.index) if verdicts else Verdict.UNTESTED


# What replaces a key wherever it was written (cassettes, reports, messages); in a replayed answer it
# means the server echoed the key back.
REDACTED = "[anyint-conformance:redacted-credential]"


def scrub(text: str, secrets) -> str:
    """Every key value in `text` replaced by REDACTED: the one scrubbing of cassettes, reports and messages."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def cell_key(cell) -> tuple[str, str, str, str]:
    """A cell's identity (a Cell or its dict): target, model, route, parameter. The one definition."""
    get = cell.get if isinstance(cell, dict) else lambda name: getattr(cell, name)
    return (get("target"), get("model") or "", get("route"), get("parameter") or "")


class Severity(str, Enum):
    BROKEN = "broken"  # makes the exchange broken
    NONCONFORMING = "non-conforming"  # makes the exchange non-conforming (an upstream rule: only in strict mode)
    WARNING = "warning"  # shown on the cell, decides nothing (a "when available" field left out, an upstream rule)
    NOTE = "note"  # a finding that does not decide support (a refusal without the OpenAI error envelope)


class Provenance(str, Enum):
    """Where the rule a finding applies comes from."""

    DOCUMENTED = "documented"  # a row or sentence of the AnyInt pages, quoted verbatim
    INFERRED = "inferred"  # our reading of a row's wording: the row quoted, and the reading said
    SDK = "sdk"  # the official openai SDK, really called on the answer, raises or hands client code another type
    INTEGRITY = "integrity"  # the answer contradicts the request, an earlier step or itself
    UPSTREAM = "upstream"  # OpenAI's own API, which the pages say these routes "generally follow"
    HTTP = "http"  # HTTP itself: a 5xx, a timeout, a cut connection is never a correct answer
    DECLARED = "declared"  # what the target says of a model (GET /models, a catalogue file): notes, never verdicts


DECIDING = (Provenance.DOCUMENTED, Provenance.INFERRED, Provenance.SDK, Provenance.INTEGRITY, Provenance.HTTP)


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    message: str
    path: str | None = None
    provenance: Provenance = Provenance.DOCUMENTED
    rule: str | None = None  # the quoted page text, the SDK type, or the upstream name the rule comes from

    def decides(self, strict: bool = False) -> bool:
        """Does this finding decide the verdict? Upstream rules decide only in strict mode."""
        if self.severity not in (Severity.BROKEN, Severity.NONCONFORMING):
            return False
        return strict or self.provenance in DECIDING

    def to_dict(self) -> dict:
        out = {"check": self.check, "severity": self.severity.value, "message": self.message, "path": self.path, "provenance": self.provenance.value}
        if self.rule:
            out["rule"] = self.rule
        return out


@dataclass
class Cell:
    target: str
    model: str | None
    route: str  # "POST /chat/completions"
    parameter: str | None  # e.g. "stream": the variant this cell varies, None for the route itself
    verdict: str
    reason: str
    status: int | None = None
    violation: dict | None = None  # first finding that decided the verdict, with its JSON path and provenance
    warnings: list[dict] = field(default_factory=list)  # what decides nothing (upstream rules outside strict mode)
    notes: list[dict] = field(default_factory=list)
    request: dict | None = None  # the deciding request (secrets are scrubbed when reports are written)
    exchanges: int = 0  # requests sent for this cell
    examples: int = 0  # page and generated examples among them
    test: str | None = None  # pytest node id
    cassette: str | None = None  # where the evidence sits, when recorded or replayed
    interaction: int | None = None  # index of the deciding request in that cassette
    kind: str = "route"  # route | parameter | negative | auth | lifecycle
    security: bool = False  # answered without valid credentials, or carried the caller's key back
    family: str | None = None  # the route family (families.FAMILIES) of the summary
    observed_at: str | None = None  # when it was observed (the recording's time on replay)
    strict: bool = False  # judged with upstream rules deciding too

    @property
    def key(self) -> tuple:
        return cell_key(self)

    # The two ways a cell is made (nothing else calls Cell(...)): judged from an assessment, or untested.

    @classmethod
    def judged(cls, target: str, model: str | None, route: str, parameter: str | None, result, exchange=None, *, kind: str = "route",
               exchanges: int | None = None, examples: int = 0, warnings: list[dict] | None = None, notes: list[dict] | None = None,
               request: dict | None = None) -> "Cell":
        """A cell from the assessment that decided it (`result`: verdict, reason, findings, strict, security)
        and the exchange it judged (status, request, cassette interaction); warnings and notes default to
        the assessment's own."""
        violation = result.first_violation
        if request is None and exchange is not None:
            request = {"method": exchange.method, "url": exchange.url, "body": exchange.body}
        return cls(
            target=target, model=model, route=route, parameter=parameter, verdict=Verdict(result.verdict).value, reason=result.reason,
            status=exchange.status if exchange is not None else None,
            violation=violation.to_dict() if violation else None,
            warnings=warnings if warnings is not None else [f.to_dict() for f in result.warnings],
            notes=notes if notes is not None else [f.to_dict() for f in result.notes],
            request=request,
            exchanges=exchanges if exchanges is not None else (exchange.attempts if exchange is not None else 0),
            examples=examples, kind=kind, security=bool(result.security), strict=bool(result.strict),
            interaction=exchange.interaction if exchange is not None else None,
        )

    @classmethod
    def from_dict(cls, data: dict) -> "Cell":
        """A cell as another process wrote it (an xdist worker's)."""
        return cls(**data)

    @classmethod
    def untested(cls, target: str, model: str | None, route: str, parameter: str | None, reason: str, kind: str = "route") -> "Cell":
        """A cell that was not observed, and why (budget spent, no credentials, an earlier step produced nothing)."""
        return cls(target=target, model=model, route=route, parameter=parameter, verdict=Verdict.UNTESTED.value, reason=reason, kind=kind)

    def to_dict(self) -> dict:
        out = asdict(self)
        if not out["strict"]:
            del out["strict"]  # the default rule set: present only when strict, so default matrices stay as they were
        return out
