"""Stateful routes (files, assistants, threads and runs, batches, videos): one cell per step.

A lifecycle creates resources, uses them and deletes them. Each step is judged on its own (a model
may create a run but never finish it), a step whose input was never produced is `untested` with the
reason, created resources are deleted even when a later step fails, and polling is bounded by a
configurable wait (replay passes a no-op sleep, so it never waits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import httpx

from anyint_conformance.cells import Cell
from anyint_conformance.checks import Expect, Verdict, assess
from anyint_conformance.transport import RetryPolicy, send

TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete", "requires_action"}


@dataclass
class Settings:
    timeout: float
    retry: RetryPolicy
    sleep: Callable[[float], None]
    poll_timeout: float  # seconds a poll may wait for a terminal status
    poll_interval: float


class Lifecycle:
    def __init__(self, client: httpx.Client, base_url: str, target: str, model: str | None, settings: Settings):
        self.client, self.base_url, self.target, self.model, self.settings = client, base_url.rstrip("/"), target, model, settings
        self.cells: list[Cell] = []
        self._cleanups: list[tuple[str, dict, dict, Expect]] = []

    def step(
        self,
        label: str,
        operation: dict,
        path_args: dict | None = None,
        *,
        body: Any = None,
        files: dict | None = None,
        expect: Expect = Expect(),
        needs: Any = True,
    ) -> Any:
        """One request as its own cell; returns the parsed body when supported, else None.

        `needs` is what this step depends on (e.g. an id from an earlier step); when it is None the
        step is not sent and its cell is untested."""
        route = f"{operation['method']} {operation['path']}"
        if needs is None or (path_args and any(v is None for v in path_args.values())):
            self._cell(route, label, Verdict.UNTESTED, "not sent: an earlier step produced nothing to use", None, None)
            return None
        url = self.base_url + operation["path"].format(**(path_args or {}))
        ex = send(self.client, operation["method"], url, body, files=files, timeout=self.settings.timeout, retry=self.settings.retry)
        result = assess(ex, expect)
        self._cell(route, label, result.verdict, result.reason, ex, result)
        return ex.parsed if result.verdict is Verdict.SUPPORTED else None

    def poll(self, label: str, operation: dict, path_args: dict, *, expect: Expect, field: str = "status") -> Any:
        """GET until `field` is terminal or the wait runs out; one cell for the whole poll."""
        route = f"{operation['method']} {operation['path']}"
        if any(v is None for v in path_args.values()):
            self._cell(route, label, Verdict.UNTESTED, "not sent: an earlier step produced nothing to poll", None, None)
            return None
        url = self.base_url + operation["path"].format(**path_args)
        attempts = max(1, int(self.settings.poll_timeout / self.settings.poll_interval) + 1)
        seen = []
        for attempt in range(attempts):
            ex = send(self.client, "GET", url, timeout=self.settings.timeout, retry=self.settings.retry)
            result = assess(ex, expect)
            if result.verdict is not Verdict.SUPPORTED:
                self._cell(route, label, result.verdict, f"poll {attempt + 1}: {result.reason}", ex, result)
                return None
            status = ex.parsed.get(field) if isinstance(ex.parsed, dict) else None
            seen.append(str(status))
            if status in TERMINAL:
                if status == "completed":
                    self._cell(route, label, Verdict.SUPPORTED, f"reached completed after {attempt + 1} poll(s)", ex, result)
                else:
                    detail = ex.parsed.get("last_error") or ex.parsed.get("error") or ""
                    self._cell(route, label, Verdict.BROKEN, f"ended {status} after {attempt + 1} poll(s) {detail}".strip(), ex, result)
                return ex.parsed
            if attempt + 1 < attempts:
                self.settings.sleep(self.settings.poll_interval)
        reason = f"no terminal status within {self.settings.poll_timeout:g} s ({len(seen)} polls: {' -> '.join(dict.fromkeys(seen))})"
        self._cell(route, label, Verdict.BROKEN, reason, ex, result)
        return None

    def cleanup(self, label: str, operation: dict, path_args: dict, expect: Expect = Expect()) -> None:
        """Delete what a step created, when the lifecycle closes, whatever happened in between."""
        if all(v is not None for v in path_args.values()):
            self._cleanups.append((label, operation, path_args, expect))

    def close(self) -> None:
        for label, operation, path_args, expect in reversed(self._cleanups):
            self.step(label, operation, path_args, expect=expect)
        self._cleanups.clear()

    def _cell(self, route: str, label: str, verdict: Verdict, reason: str, ex, result) -> None:
        violation = result.first_violation if result else None
        self.cells.append(
            Cell(
                target=self.target,
                model=self.model,
                route=route,
                parameter=f"lifecycle: {label}",
                verdict=verdict.value,
                reason=reason,
                status=ex.status if ex else None,
                violation=violation.to_dict() if violation else None,
                warnings=[f.to_dict() for f in result.warnings] if result else [],
                notes=[f.to_dict() for f in result.notes] if result else [],
                request={"method": ex.method, "url": ex.url, "body": ex.body} if ex else None,
                exchanges=ex.attempts if ex else 0,
                kind="lifecycle",
            )
        )

