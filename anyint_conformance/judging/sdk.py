"""The page's own Python example (official `openai` SDK with base_url), run as a conformance cell.

It answers a user's plainest question: does the documented client code work against this target? The
only change to the documented snippet is `max_tokens` (the run's token cap, as every body gets) and no
SDK retries (each retry would be a paid request and would hide the first answer). The SDK's own request
goes over the run's transports (recorded, replayed, capped); its answer is judged like every other one
(`Rules.judge`: status, stream checks, the SDK oracle, the reflected-key check), and what the documented
loop itself raised or printed is a finding on top.
"""

from __future__ import annotations

import json

import httpx
import httpx2
import openai

from anyint_conformance.judging.checks import Assessment, Expect, Rules
from anyint_conformance.model.verdicts import Finding, Provenance, Severity
from anyint_conformance.wire.transport import INTERACTION, SENT_BODY, Exchange, describe_failure, parse_sse

PARAMETER = "openai-python example"
RULE = "000_c0a4473b350488b6.txt / Python example (the official openai SDK, base_url set to the gateway)"
Q_CHUNKS = '000_c0a4473b350488b6.txt / Response behavior: "With stream: true, the route returns SSE chunks"'
MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Explain AnyInt in one sentence."},
]


def run_documented_example(base_url: str, api_key: str | None, model: str, timeout: float, max_tokens: int, transport: httpx.BaseTransport,
                           rules: Rules, operation: dict) -> tuple[Assessment, Exchange]:
    """The documented loop, run through the SDK over `transport`; its answer judged by `rules`."""
    bridge = _Bridge(transport)
    client = openai.OpenAI(base_url=base_url, api_key=api_key or "no-key", max_retries=0, timeout=timeout,
                           http_client=openai.DefaultHttpxClient(transport=bridge))
    request = {"model": model, "stream": True, "messages": MESSAGES, "max_tokens": max_tokens}
    ex = Exchange("POST", base_url.rstrip("/") + "/chat/completions", request, stream=True)
    text, chunks, raised = [], 0, None
    try:
        for chunk in client.chat.completions.create(**request):
            chunks += 1
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta:
                text.append(delta)
    except openai.APIStatusError:
        pass  # a refusal or a server error: judged from the answer itself, as every answer is
    except (openai.APIConnectionError, openai.APITimeoutError) as exc:
        cause = exc.__cause__
        if cause is not None and not isinstance(cause, (httpx.HTTPError, OSError)):
            # not the network: the layer under httpx (a replay without a recording) speaks for itself
            raise cause from None
        ex.error_kind, ex.error = describe_failure(cause, timeout) if isinstance(cause, httpx.TransportError) else ("connection", f"{type(exc).__name__}: {exc}")
    except (openai.OpenAIError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        # the SDK could not read what the server sent: the documented loop crashes for a user too
        raised = Finding("sdk_example", Severity.BROKEN, f"the documented loop crashed: {type(exc).__name__}: {exc}", provenance=Provenance.SDK, rule=RULE)
    finally:
        client.close()
    if bridge.answer is not None:
        ex.status, ex.headers, ex.content, ex.body = bridge.answer
        ex.interaction = bridge.interaction
        if ex.content_type == "text/event-stream":
            ex.events = parse_sse(ex.content)
    found = [raised] if raised else []
    if ex.status is not None and 200 <= ex.status < 300 and not raised:
        if chunks == 0:
            found.append(Finding("sdk_example", Severity.NONCONFORMING, "the documented loop got no chunk", rule=f"{RULE}; {Q_CHUNKS}"))
        elif not text:
            found.append(Finding("sdk_text", Severity.WARNING, "no chunk carried delta.content: the documented loop prints nothing"))
    result = rules.judge(ex, Expect.for_request(operation, request), *found)
    if result.reason.startswith(f"HTTP {ex.status}, conforms"):
        result.reason = f"{chunks} chunks, the documented loop printed {len(''.join(text))} characters" + result.reason[len(f"HTTP {ex.status}, conforms"):]
    return result, ex


class _Bridge(httpx2.BaseTransport):
    """The SDK speaks httpx2 (its own httpx fork); the run's transports speak httpx: carry each request
    across and the answer back (already decoded, so without its encoding headers), keeping what came."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner
        self.answer: tuple | None = None  # status, headers, content, the request body as it went out
        self.interaction: int | None = None

    def handle_request(self, request):
        sent = httpx.Request(request.method, str(request.url), headers=list(request.headers.multi_items()), content=request.read(),
                             extensions={"timeout": request.extensions.get("timeout", {})})
        answer = self.inner.handle_request(sent)
        content = answer.read()
        headers = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        self.interaction = sent.extensions.get(INTERACTION)
        request.extensions[INTERACTION] = self.interaction
        body = sent.extensions.get(SENT_BODY)
        if body is None:
            try:
                body = json.loads(sent.content)
            except ValueError:
                body = None
        self.answer = (answer.status_code, {k.lower(): v for k, v in headers}, content, body)
        return httpx2.Response(answer.status_code, headers=headers, content=content, request=request)

    def close(self) -> None:
        pass
