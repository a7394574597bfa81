"""Stateful routes (files, assistants, threads and runs, batches, videos): one cell per step.

A lifecycle creates resources, uses them and deletes them. Each step is judged on its own (a model
may create a run but never finish it), a step whose input was never produced is `untested` with the
reason, created resources are deleted even when a later step fails (an explicit delete step counts),
and polling is bounded by a configurable wait (replay passes a no-op sleep, so it never waits).

Every step's body passes the run's cost narrowing (the transport's token cap); the plan's dry runs
(run/plan.py) take every step, so its request bounds count lifecycles from the steps themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import httpx

from anyint_conformance.judging.cells import Judging, with_effect
from anyint_conformance.judging.checks import Expect
from anyint_conformance.model.verdicts import Cell, Finding, Provenance, Severity, Verdict
from anyint_conformance.wire.transport import send

TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete", "requires_action"}
GONE_RULE = Finding("gone", Severity.NONCONFORMING, "a deleted resource is gone", provenance=Provenance.UPSTREAM,
                    rule="upstream OpenAI: a deleted file, assistant or thread answers 404")


@dataclass
class Settings:
    judging: Judging
    sleep: Callable[[float], None]
    poll_timeout: float  # seconds a poll may wait for a terminal status
    poll_interval: float


class Lifecycle:
    def __init__(self, client: httpx.Client, base_url: str, target: str, model: str | None, settings: Settings,
                 kind: str = "lifecycle", prefix: str = "lifecycle: "):
        self.client, self.base_url, self.target, self.model, self.settings = client, base_url.rstrip("/"), target, model, settings
        self.kind, self.prefix = kind, prefix
        self.cells: list[Cell] = []
        self._cleanups: list[tuple[str, dict, dict]] = []
        self._deleted: set[str] = set()  # URLs an explicit DELETE step already sent

    def step(
        self,
        label: str,
        operation: dict,
        path_args: dict | None = None,
        *,
        body: Any = None,
        files: dict | None = None,
        expect: Expect | None = None,
        needs: Any = True,
        effect: str | None = None,
        same_bytes: bytes | None = None,
    ) -> Any:
        """One request as its own cell; returns the parsed body when supported, else None.

        `needs` is what this step depends on (e.g. an id from an earlier step); when it is None the
        step is not sent and its cell is untested. `effect`: a parameter's documented effect that must
        be observed (checks.EFFECTS). `same_bytes`: the body must be exactly these bytes (file content)."""
        route = f"{operation['method']} {operation['path']}"
        if needs is None or (path_args and any(v is None for v in path_args.values())):
            self._cell(route, label, Verdict.UNTESTED, "not sent: an earlier step produced nothing to use", None, None)
            return None
        url = self.base_url + operation["path"].format(**(path_args or {}))
        spent = self._spent(route, body)
        if spent:
            self._cell(route, label, Verdict.UNTESTED, spent, None, None)
            return None
        ex = self._send(operation["method"], url, body, files)
        if operation["method"] == "DELETE":
            self._deleted.add(url)
        result = self.settings.judging.rules.judge(ex, expect or Expect.for_request(operation, body))
        if same_bytes is not None and result.verdict is Verdict.SUPPORTED and ex.content != same_bytes:
            finding = Finding("same_bytes", Severity.NONCONFORMING, f"the content is not the uploaded file: {len(ex.content)} bytes, {len(same_bytes)} uploaded",
                              provenance=Provenance.UPSTREAM, rule="upstream OpenAI: downloadFile returns the stored file as uploaded")
            result.findings.append(finding)
            if finding.decides(result.strict):
                result.verdict, result.reason = Verdict.NONCONFORMING, f"HTTP {ex.status}, {finding.message}"
        if effect is not None and result.verdict is Verdict.SUPPORTED:
            result = with_effect(effect, body, ex, result)
        self._cell(route, label, result.verdict, result.reason, ex, result)
        # a 2xx JSON object feeds the next steps even when it breaks a rule: each step is judged on its own
        answered = ex.status is not None and 200 <= ex.status < 300 and isinstance(ex.parsed, dict)
        return ex.parsed if answered and result.verdict is not Verdict.BROKEN else None

    def refused(self, label: str, operation: dict, path_args: dict | None = None, *, body: Any = None, rule: Finding = GONE_RULE, needs: Any = True) -> None:
        """A step the server must refuse (a deleted resource, an unknown input): judged as a rejection."""
        route = f"{operation['method']} {operation['path']}"
        if needs is None or (path_args and any(v is None for v in path_args.values())):
            self._cell(route, label, Verdict.UNTESTED, "not sent: an earlier step produced nothing to use", None, None)
            return
        url = self.base_url + operation["path"].format(**(path_args or {}))
        ex = self._send(operation["method"], url, body, None)
        result = self.settings.judging.rules.judge_rejection(ex, rule)
        self._cell(route, label, result.verdict, result.reason, ex, result)

    def poll(self, label: str, operation: dict, path_args: dict, *, expect: Expect | None = None, field: str = "status") -> Any:
        """GET until `field` is terminal or the wait runs out; one cell for the whole poll."""
        route = f"{operation['method']} {operation['path']}"
        if any(v is None for v in path_args.values()):
            self._cell(route, label, Verdict.UNTESTED, "not sent: an earlier step produced nothing to poll", None, None)
            return None
        url = self.base_url + operation["path"].format(**path_args)
        attempts = poll_attempts(self.settings.poll_timeout, self.settings.poll_interval)
        seen, worst = [], None  # worst: the first non-conforming answer, which decides a completed poll
        for attempt in range(attempts):
            ex = self._send("GET", url, None, None)
            result = self.settings.judging.rules.judge(ex, expect or Expect.for_request(operation, None))
            if result.verdict not in (Verdict.SUPPORTED, Verdict.NONCONFORMING):
                self._cell(route, label, result.verdict, f"poll {attempt + 1}: {result.reason}", ex, result)
                return None
            if result.verdict is Verdict.NONCONFORMING and worst is None:
                worst = (ex, result, attempt + 1)  # judged, and followed on: its status still says when the job ends
            status = ex.parsed.get(field) if isinstance(ex.parsed, dict) else None
            seen.append(str(status))
            if status in TERMINAL:
                if status == "completed":
                    if worst is not None:
                        bad_ex, bad, at = worst
                        self._cell(route, label, Verdict.NONCONFORMING, f"poll {at}: {bad.reason} (reached completed after {attempt + 1} poll(s))", bad_ex, bad)
                    else:
                        self._cell(route, label, Verdict.SUPPORTED, f"reached completed after {attempt + 1} poll(s): {' -> '.join(dict.fromkeys(seen))}", ex, result)
                else:
                    detail = ex.parsed.get("last_error") or ex.parsed.get("error") or ex.parsed.get("errors") or ""
                    reason = f"ended {status} after {attempt + 1} poll(s) {detail}".strip()
                    self._cell(route, label, Verdict.BROKEN, reason, ex, _failed(result, reason, "a job that ends failed, cancelled or expired did not do its work"))
                return ex.parsed
            if attempt + 1 < attempts:
                self.settings.sleep(self.settings.poll_interval)
        reason = f"no terminal status within {self.settings.poll_timeout:g} s ({len(seen)} polls: {' -> '.join(dict.fromkeys(seen))})"
        self._cell(route, label, Verdict.BROKEN, reason, ex, _failed(result, reason, "a job reaches a terminal status within --poll-timeout"))
        return None

    def cleanup(self, label: str, operation: dict, path_args: dict) -> None:
        """Delete what a step created when the lifecycle closes, whatever happened in between (unless an
        explicit delete step already did)."""
        if all(v is not None for v in path_args.values()):
            self._cleanups.append((label, operation, path_args))

    def close(self) -> None:
        for label, operation, path_args in reversed(self._cleanups):
            if self.base_url + operation["path"].format(**path_args) not in self._deleted:
                self.step(label, operation, path_args)
        self._cleanups.clear()

    def _spent(self, route: str, body: Any) -> str | None:
        """Why this step must not be sent (a budget is spent), asked before every step."""
        return self.settings.judging.refusal(route, body.get("model") if isinstance(body, dict) else self.model, 1)

    def _send(self, method: str, url: str, body: Any, files: dict | None):
        judging = self.settings.judging
        return send(self.client, method, url, body, files=files, timeout=judging.timeout)

    def _cell(self, route: str, label: str, verdict: Verdict, reason: str, ex, result) -> None:
        parameter = f"{self.prefix}{label}"
        if result is None:
            self.cells.append(Cell.untested(self.target, self.model, route, parameter, reason, kind=self.kind))
        else:
            self.cells.append(Cell.judged(self.target, self.model, route, parameter, replace(result, verdict=verdict, reason=reason), ex, kind=self.kind))


def _failed(result, reason: str, rule: str):
    """The poll's last (conforming) answer, with the failure that decided the cell as its first finding."""
    finding = Finding("poll", Severity.BROKEN, reason, provenance=Provenance.HTTP, rule=rule)
    return replace(result, verdict=Verdict.BROKEN, reason=reason, findings=[finding, *result.findings])


def poll_attempts(poll_timeout: float, poll_interval: float) -> int:
    return max(1, int(poll_timeout / poll_interval) + 1)
