"""Stateful routes (files, assistants, threads and runs, batches, videos): one cell per step.

A lifecycle creates resources, uses them and deletes them. Each step is judged on its own (a model
may create a run but never finish it), a step whose input was never produced is `untested` with the
reason, created resources are deleted even when a later step fails (an explicit delete step counts),
and polling is bounded by a configurable wait (replay passes a no-op sleep, so it never waits).

Every step's body passes the run's cost narrowing (the transport's token cap); the plan's dry runs
(run/plan.py) take every step, so its request bounds count lifecycles from the steps themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Callable

import httpx

from anyint_conformance.contract.schemas import violations
from anyint_conformance.judging.cells import Judging, with_effect
from anyint_conformance.judging.checks import Expect, tool_calls_of
from anyint_conformance.judging.effects import Seen, chat_text
from anyint_conformance.model.verdicts import Cell, Finding, Provenance, Severity, Verdict
from anyint_conformance.wire.transport import send

TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete", "requires_action"}
GONE_RULE = Finding("gone", Severity.NONCONFORMING, "a deleted resource is gone", provenance=Provenance.INTEGRITY,
                    rule="integrity: a resource the delete step answered deleted is gone (a retrieve of it is refused)")
# Lifecycle integrity rules: what an answer must agree with (the request, an earlier step, itself)
AGREES = "integrity: the answer names what the request asked for or an earlier step created"
LISTED = "integrity: a listing contains the resource an earlier step created"
SAME_BYTES = "integrity: the content downloaded is the file uploaded, byte for byte"
DELETED = "integrity: a delete that succeeds answers deleted: true for the id it was asked to delete"


def _get(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def agreement(ex, agrees: dict) -> list[Finding]:
    """Fields of a 2xx JSON answer that contradict what they must be (a value, or a tuple of allowed
    values); a field the answer leaves out is the schema's and the SDK's to judge, not a contradiction."""
    body = ex.parsed if isinstance(ex.parsed, dict) else None
    if body is None:
        return []
    for name, wanted in agrees.items():
        got = _get(body, name)
        if got is None:
            continue
        if got not in wanted if isinstance(wanted, tuple) else got != wanted:
            shown = " or ".join(map(repr, wanted)) if isinstance(wanted, tuple) else repr(wanted)
            return [Finding("agrees", Severity.NONCONFORMING, f"{name} is {got!r}, expected {shown}", f"$.{name}", Provenance.INTEGRITY, AGREES)]
    return []


def listed(ex, item_id: str) -> list[Finding]:
    """A listing's first page names the created id (unless it says there are more pages)."""
    body = ex.parsed if isinstance(ex.parsed, dict) else None
    data = body.get("data") if body else None
    if not isinstance(data, list):
        return []
    ids = [d.get("id") for d in data if isinstance(d, dict)]
    if item_id not in ids and not body.get("has_more"):
        return [Finding("listed", Severity.NONCONFORMING, f"the listing of {len(ids)} item(s) does not contain {item_id!r}, created by an earlier step",
                        "$.data", Provenance.INTEGRITY, LISTED)]
    return []


def deleted_as_asked(ex, url: str) -> list[Finding]:
    body = ex.parsed if isinstance(ex.parsed, dict) else None
    if body is None:
        return []
    if body.get("deleted") is False:
        return [Finding("deleted", Severity.NONCONFORMING, "the delete answered 2xx with deleted: false", "$.deleted", Provenance.INTEGRITY, DELETED)]
    asked = url.rstrip("/").rsplit("/", 1)[-1]
    if isinstance(body.get("id"), str) and body["id"] != asked:
        return [Finding("deleted", Severity.NONCONFORMING, f"the delete of {asked!r} answered for {body['id']!r}", "$.id", Provenance.INTEGRITY, DELETED)]
    return []


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
        control: Any = None,
        marks: tuple[str, ...] = (),
        same_bytes: bytes | None = None,
        agrees: dict | None = None,
        lists: str | None = None,
        check: Callable[[Any], list[Finding]] | None = None,
    ) -> Any:
        """One request as its own cell; returns the parsed body when supported, else None.

        `needs` is what this step depends on (e.g. an id from an earlier step); when it is None the
        step is not sent and its cell is untested. `effect`: a parameter's documented effect that must
        be observed (effects.EFFECTS), against the answer to `control` where the effect needs one (the
        same request without it, or carrying another fact; `marks`: the word each answer should name).
        Integrity, each deciding: `same_bytes` (the body must be exactly these bytes), `agrees` (answer
        fields that must equal what was asked or created), `lists` (an id the listing must contain),
        `check` (a further rule on the exchange); a DELETE must answer deleted: true for its own id."""
        route = f"{operation['method']} {operation['path']}"
        if needs is None or (path_args and any(v is None for v in path_args.values())):
            self._cell(route, label, Verdict.UNTESTED, "not sent: an earlier step produced nothing to use", None, None)
            return None
        url = self.base_url + operation["path"].format(**(path_args or {}))
        spent = self._spent(route, body, 2 if effect is not None and control is not None else 1)
        if spent:
            self._cell(route, label, Verdict.UNTESTED, spent, None, None)
            return None
        ex = self._send(operation["method"], url, body, files)
        if operation["method"] == "DELETE":
            self._deleted.add(url)
        result = self.settings.judging.rules.judge(ex, expect or Expect.for_request(operation, body))
        if result.verdict is Verdict.SUPPORTED:
            found = []
            if same_bytes is not None and ex.content != same_bytes:
                found.append(Finding("same_bytes", Severity.NONCONFORMING, f"the content is not the uploaded file: {len(ex.content)} bytes, {len(same_bytes)} uploaded",
                                     provenance=Provenance.INTEGRITY, rule=SAME_BYTES))
            found += agreement(ex, agrees or {}) + (listed(ex, lists) if lists else []) + (check(ex) if check else [])
            found += deleted_as_asked(ex, url) if operation["method"] == "DELETE" else []
            if found:
                result = replace(result, verdict=Verdict.NONCONFORMING, reason=f"HTTP {ex.status}, {found[0].message}", findings=[*found, *result.findings])
        controls = []
        if effect is not None and result.verdict is Verdict.SUPPORTED:
            controls = [[self._send(operation["method"], url, control, files)]] if control is not None else []
            result = with_effect(effect, body, result, Seen([ex], controls, marks))
        self._cell(route, label, result.verdict, result.reason, ex, result, exchanges=ex.attempts + sum(c.attempts for got in controls for c in got))
        # a 2xx JSON object (or a stream, assembled) feeds the next steps even when it breaks a rule: each step is judged on its own
        answered = ex.status is not None and 200 <= ex.status < 300 and (isinstance(ex.parsed, dict) or bool(ex.events))
        if not answered or result.verdict is Verdict.BROKEN:
            return None
        return assembled(ex) if ex.events else ex.parsed

    def refused(self, label: str, operation: dict, path_args: dict | None = None, *, body: Any = None, rule: Finding = GONE_RULE, needs: Any = True) -> None:
        """A step the server must refuse (a deleted resource, an unknown input): judged as a rejection."""
        route = f"{operation['method']} {operation['path']}"
        if needs is None or (path_args and any(v is None for v in path_args.values())):
            self._cell(route, label, Verdict.UNTESTED, "not sent: an earlier step produced nothing to use", None, None)
            return
        url = self.base_url + operation["path"].format(**(path_args or {}))
        ex = self._send(operation["method"], url, body, None)
        result = self.settings.judging.rules.judge_rejection(ex, rule)
        if result.verdict is Verdict.ACCEPTED and rule.provenance is Provenance.INTEGRITY:
            # answered as if the earlier step had not happened: the answer contradicts it
            finding = Finding(rule.check, Severity.NONCONFORMING, f"HTTP {ex.status}: {rule.message}, yet it was answered as if not", provenance=rule.provenance, rule=rule.rule)
            result = replace(result, verdict=Verdict.NONCONFORMING, reason=finding.message, findings=[finding, *result.findings[1:]])
        self._cell(route, label, result.verdict, result.reason, ex, result)

    def poll(self, label: str, operation: dict, path_args: dict, *, expect: Expect | None = None, field: str = "status",
             agrees: dict | None = None, completed: Callable[[dict], list[Finding]] | None = None) -> Any:
        """GET until `field` is terminal or the wait runs out; one cell for the whole poll. `agrees`: fields
        every answer must agree on (its id); `completed`: what a completed job's answer must hold."""
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
            contradiction = agreement(ex, agrees or {})
            if contradiction and worst is None:
                result = replace(result, verdict=Verdict.NONCONFORMING, reason=f"HTTP {ex.status}, {contradiction[0].message}", findings=[*contradiction, *result.findings])
                worst = (ex, result, attempt + 1)
            status = ex.parsed.get(field) if isinstance(ex.parsed, dict) else None
            seen.append(str(status))
            if status in TERMINAL:
                missing = completed(ex.parsed) if status == "completed" and completed else []
                if missing and worst is None:
                    worst = (ex, replace(result, verdict=Verdict.NONCONFORMING, reason=f"HTTP {ex.status}, {missing[0].message}", findings=[*missing, *result.findings]), attempt + 1)
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

    def _spent(self, route: str, body: Any, requests: int = 1) -> str | None:
        """Why this step (its request, and its control's) must not be sent (a budget is spent), asked before every step."""
        return self.settings.judging.refusal(route, body.get("model") if isinstance(body, dict) else self.model, requests)

    def _send(self, method: str, url: str, body: Any, files: dict | None):
        judging = self.settings.judging
        streamed = isinstance(body, dict) and body.get("stream") is True  # read as server-sent events, as every streamed answer is
        return send(self.client, method, url, body, files=files, timeout=judging.timeout, stream=streamed)

    def _cell(self, route: str, label: str, verdict: Verdict, reason: str, ex, result, exchanges: int | None = None) -> None:
        parameter = f"{self.prefix}{label}"
        if result is None:
            self.cells.append(Cell.untested(self.target, self.model, route, parameter, reason, kind=self.kind))
        else:
            self.cells.append(Cell.judged(self.target, self.model, route, parameter, replace(result, verdict=verdict, reason=reason), ex, kind=self.kind, exchanges=exchanges))


def _failed(result, reason: str, rule: str):
    """The poll's last (conforming) answer, with the failure that decided the cell as its first finding."""
    finding = Finding("poll", Severity.BROKEN, reason, provenance=Provenance.HTTP, rule=rule)
    return replace(result, verdict=Verdict.BROKEN, reason=reason, findings=[finding, *result.findings])


def poll_attempts(poll_timeout: float, poll_interval: float) -> int:
    return max(1, int(poll_timeout / poll_interval) + 1)


def assembled(ex) -> dict:
    """A streamed chat answer as one completion, the way the SDK's stream state assembles it (content
    concatenated, tool calls by index): what a client sends back in the next turn."""
    calls = [{"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in tool_calls_of(ex)]
    message = {"role": "assistant", "content": chat_text(ex) or None, **({"tool_calls": calls} if calls else {})}
    return {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}


# -- what a batch promises (its suite passes these as `check` and `completed`) ----------------------------

BATCH_RULE = "integrity: a completed batch's output file answers every line of its input file, by custom_id, with what the endpoint answers"


def batch_completed(lines: int) -> Callable[[dict], list[Finding]]:
    """A completed batch names its output file and counts the input's lines as done."""
    def check(answer: dict) -> list[Finding]:
        if not answer.get("output_file_id"):
            return [Finding("batch_output", Severity.NONCONFORMING, "the batch completed without an output_file_id", "$.output_file_id", Provenance.INTEGRITY, BATCH_RULE)]
        counts = answer.get("request_counts") if isinstance(answer.get("request_counts"), dict) else {}
        if isinstance(counts.get("total"), int) and counts["total"] != lines:
            return [Finding("batch_output", Severity.NONCONFORMING, f"request_counts.total is {counts['total']}, the input file has {lines} line(s)",
                            "$.request_counts.total", Provenance.INTEGRITY, BATCH_RULE)]
        return []
    return check


def batch_output(custom_ids: list[str], response_schema: str | None = None) -> Callable:
    """The output file: one JSON line per input line, each naming an input custom_id, with a response
    (status_code and body; a 2xx body is what the endpoint answers, `response_schema`) or an error."""
    def check(ex) -> list[Finding]:
        lines = [line for line in ex.content.decode("utf-8", "replace").splitlines() if line.strip()]
        seen = []
        for i, line in enumerate(lines):
            try:
                item = json.loads(line)
            except ValueError:
                return [Finding("batch_output", Severity.NONCONFORMING, f"output line {i + 1} is not JSON: {line[:60]!r}", f"$lines[{i}]", Provenance.INTEGRITY, BATCH_RULE)]
            seen.append(item.get("custom_id") if isinstance(item, dict) else None)
            response = item.get("response") if isinstance(item, dict) else None
            if not isinstance(response, dict) and not (isinstance(item, dict) and item.get("error")):
                return [Finding("batch_output", Severity.NONCONFORMING, f"output line {i + 1} has neither a response nor an error", f"$lines[{i}]", Provenance.INTEGRITY, BATCH_RULE)]
            code = response.get("status_code") if isinstance(response, dict) else None
            if response_schema and isinstance(code, int) and 200 <= code < 300:
                found = violations(response_schema, response.get("body"))
                if found:
                    return [Finding("batch_output", Severity.NONCONFORMING, f"output line {i + 1}: the response body breaks {response_schema}: {found[0].message}",
                                    f"$lines[{i}].response.body", Provenance.INTEGRITY, BATCH_RULE)]
        if sorted(map(str, seen)) != sorted(custom_ids):
            return [Finding("batch_output", Severity.NONCONFORMING, f"the output answers custom_ids {seen}, the input asked {custom_ids}", "$lines",
                            Provenance.INTEGRITY, BATCH_RULE)]
        return []
    return check
