"""The page's own Python example (official `openai` SDK with base_url), run as a conformance cell.

It answers a user's plainest question: does the documented client code work against this target?
The only change to the documented snippet is `max_tokens` (the run's token cap, as every body gets)
and no SDK retries (each retry would be a paid request and would hide the first answer).
"""

from __future__ import annotations

import httpx
import httpx2
import openai

from anyint_conformance.judging.checks import Assessment, Rules
from anyint_conformance.model.verdicts import Finding, Provenance, Severity, Verdict
from anyint_conformance.wire.transport import INTERACTION, Exchange

PARAMETER = "openai-python example"
RULE = "000_c0a4473b350488b6.txt / Python example (the official openai SDK, base_url set to the gateway)"
MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Explain AnyInt in one sentence."},
]


def run_documented_example(base_url: str, api_key: str | None, model: str, timeout: float, max_tokens: int, transport: httpx.BaseTransport,
                           rules: Rules) -> tuple[Assessment, Exchange]:
    """The verdict of the documented loop (as it would print) and the exchange it made. `transport`: the
    run's transport stack (recording, replay, policies), under the SDK's own httpx client."""
    client = openai.OpenAI(base_url=base_url, api_key=api_key or "no-key", max_retries=0, timeout=timeout,
                           http_client=openai.DefaultHttpxClient(transport=_Bridge(transport)))
    request = {"model": model, "stream": True, "messages": MESSAGES, "max_tokens": max_tokens}
    ex = Exchange("POST", base_url.rstrip("/") + "/chat/completions", request, stream=True)
    text, chunks = [], 0

    def result(verdict: Verdict, reason: str, *findings: Finding) -> tuple[Assessment, Exchange]:
        return Assessment(verdict, reason, list(findings), rules.strict), ex

    try:
        response = client.chat.completions.create(**request)
        ex.status, ex.interaction = 200, response.response.request.extensions.get(INTERACTION)
        for chunk in response:
            chunks += 1
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta:
                text.append(delta)
    except openai.APIStatusError as exc:
        ex.status, ex.interaction = exc.status_code, exc.response.request.extensions.get(INTERACTION)
        verdict = Verdict.UNSUPPORTED if exc.status_code < 500 else Verdict.BROKEN
        if exc.status_code in (401, 403, 429):
            verdict = Verdict.UNTESTED
        reason = f"the SDK raised {type(exc).__name__} (HTTP {exc.status_code}): {str(exc.message)[:300]}"
        if verdict is Verdict.BROKEN:
            return result(verdict, reason, Finding("status", Severity.BROKEN, reason, provenance=Provenance.HTTP, rule="a 5xx is a server error, never a correct answer"))
        return result(verdict, reason)
    except (openai.APIConnectionError, openai.APITimeoutError) as exc:
        cause = exc.__cause__
        if cause is not None and not isinstance(cause, (httpx.HTTPError, OSError)):
            # not the network: the layer under httpx (a replay without a recording) speaks for itself
            raise cause from None
        ex.status, ex.interaction = None, None
        reason = f"the SDK raised {type(exc).__name__}: {exc}"
        return result(Verdict.BROKEN, reason, Finding("transport_complete", Severity.BROKEN, reason, provenance=Provenance.HTTP, rule="a complete HTTP answer"))
    except (openai.OpenAIError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        # the SDK could not read what the server sent: the documented loop crashes for a user too
        ex.status, ex.interaction = 200, None
        reason = f"the documented loop crashed: {type(exc).__name__}: {exc}"
        return result(Verdict.BROKEN, reason, Finding("sdk_example", Severity.BROKEN, reason, provenance=Provenance.SDK, rule=RULE))
    finally:
        client.close()
    if chunks == 0:
        ex.interaction = None
        reason = "the stream yielded no chunk"
        return result(Verdict.NONCONFORMING, reason, Finding("sdk_example", Severity.NONCONFORMING, reason, rule=f'{RULE}; "With stream: true, the route returns SSE chunks"'))
    found = [] if text else [Finding("sdk_text", Severity.WARNING, "no chunk carried delta.content: the example prints nothing")]
    return result(Verdict.SUPPORTED, f"{chunks} chunks, printed {len(''.join(text))} characters", *found)


class _Bridge(httpx2.BaseTransport):
    """The SDK speaks httpx2 (its own httpx fork); the run's transports speak httpx: carry each request
    across and the answer back (already decoded, so without its encoding headers)."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner

    def handle_request(self, request):
        sent = httpx.Request(request.method, str(request.url), headers=list(request.headers.multi_items()), content=request.read(),
                             extensions={"timeout": request.extensions.get("timeout", {})})
        answer = self.inner.handle_request(sent)
        content = answer.read()
        headers = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        request.extensions[INTERACTION] = sent.extensions.get(INTERACTION)
        return httpx2.Response(answer.status_code, headers=headers, content=content, request=request)

    def close(self) -> None:
        pass
