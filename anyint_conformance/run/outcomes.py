"""The outcome policy: a cell's verdict (and the baseline's expectation) -> the test's outcome.

"Why did this cell fail instead of skip?" is answered here and nowhere else. Pure: no pytest import
(the plugin raises what this module decides).

  verdict          no expectation            expected as observed
  supported        pass                      pass
  rejected         pass                      pass
  lenient          pass (a warning)          pass (a warning)
  unverified       skip (not a pass)         skip
  unsupported      skip                      skip
  untested         skip                      skip
  ignored          skip                      xfail (known)
  non-conforming   fail                      xfail (known)
  broken           fail                      xfail (known)
  accepted         fail                      xfail (known)
A cell whose observed verdict differs from its expectation fails with the diff, whatever the verdict;
a security finding fails unless the baseline knows it.
"""

from __future__ import annotations

from anyint_conformance.model.verdicts import Cell, Verdict
from anyint_conformance.run.expectations import drifted

PASS, SKIP, XFAIL, FAIL, WARN = "pass", "skip", "xfail", "fail", "warn"  # warn: a pass with a warning
FAILING = (Verdict.BROKEN, Verdict.NONCONFORMING, Verdict.ACCEPTED)
NOT_A_PASS = (Verdict.UNVERIFIED, Verdict.UNSUPPORTED, Verdict.UNTESTED, Verdict.IGNORED)


def outcome(verdict: str, expected: str | None, security: bool = False) -> tuple[str, str]:
    """(pass | warn | skip | xfail | fail, a short why)."""
    v = Verdict(verdict)
    if drifted(expected, v.value):
        return FAIL, "expectation drift"
    if v in FAILING or (security and v is not Verdict.REJECTED):
        if expected == v.value:
            return XFAIL, "known deviation"
        return FAIL, "security finding" if security else "conformance failure"
    if v is Verdict.IGNORED:
        return (XFAIL, "known deviation") if expected == v.value else (SKIP, "parameter ignored")
    if v in NOT_A_PASS:
        return SKIP, v.value
    if v is Verdict.LENIENT:
        return WARN, "accepted what only upstream OpenAI refuses"
    return PASS, v.value


def worst_outcome(outcomes: list[str]) -> str:
    """Several cells from one test (a lifecycle): any failure fails, then known failures, then a skip
    only when every cell skipped, else a pass (with a warning when one warned)."""
    for name in (FAIL, XFAIL):
        if name in outcomes:
            return name
    if outcomes and all(o == SKIP for o in outcomes):
        return SKIP
    return WARN if WARN in outcomes else PASS


def describe(cell: Cell) -> str:
    """A cell in a few lines: what, verdict and why, the rule and where it comes from, the request, the evidence."""
    text = f"{cell.route} [{cell.parameter or 'route'}] on {cell.target}/{cell.model or '(target)'}: {cell.verdict}: {cell.reason}"
    violation = cell.violation or {}
    if violation.get("provenance"):
        text += f"\nrule ({violation['provenance']}): {violation.get('rule') or violation.get('check')}"
    if cell.request:
        text += f"\nrequest: {str(cell.request['body'])[:500]}"
    if cell.cassette:
        text += f"\nevidence: {cell.cassette}" + (f" #{cell.interaction}" if cell.interaction is not None else "")
    return text


def judge(cell: Cell, expected: str | None) -> tuple[str, str]:
    """One cell's pytest outcome and its message (the expectation's diff when it drifted)."""
    result, why = outcome(cell.verdict, expected, cell.security)
    text = describe(cell)
    if why == "expectation drift":
        label = f"{cell.model or '*'} | {cell.route}" + (f" [{cell.parameter}]" if cell.parameter else "")
        text = (f"expectation drift for {cell.target}: {label}\n  - expected: {expected}\n  + observed: {cell.verdict}\n{text}\n"
                f"(if the change is right, update suites/expectations/{cell.target}.yaml)")
    elif result == XFAIL:
        text = f"known deviation (suites/expectations/{cell.target}.yaml): {text}"
    elif why == "security finding":
        text = "SECURITY FINDING: " + text
    return result, text


def for_test(cells: list[Cell], expected, failure: str | None = None) -> tuple[str, str]:
    """A test's outcome from all its cells (a lifecycle has several): a failure that stopped the test
    (a recording problem) fails it; otherwise the worst cell outcome, with the messages of that outcome."""
    if failure:
        return FAIL, failure
    judged = [judge(cell, expected(cell)) for cell in cells]
    worst = worst_outcome([o for o, _ in judged])
    shown = [text for o, text in judged if o == worst] if worst not in (PASS, WARN) else [text for _, text in judged]
    return worst, "\n".join(shown)
