"""The outcome policy: a cell's verdict (and the baseline's expectation) -> the pytest outcome.

"Why did this cell fail instead of skip?" is answered here and nowhere else. Pure: no pytest import.

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

from anyint_conformance.verdicts import Verdict

PASS, SKIP, XFAIL, FAIL, WARN = "pass", "skip", "xfail", "fail", "warn"  # warn: a pass with a warning
FAILING = (Verdict.BROKEN, Verdict.NONCONFORMING, Verdict.ACCEPTED)
NOT_A_PASS = (Verdict.UNVERIFIED, Verdict.UNSUPPORTED, Verdict.UNTESTED, Verdict.IGNORED)


def outcome(verdict: str, expected: str | None, security: bool = False) -> tuple[str, str]:
    """(pass | warn | skip | xfail | fail, a short why)."""
    v = Verdict(verdict)
    if expected is not None and expected != v.value:
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
