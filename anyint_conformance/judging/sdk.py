"""The page's own Python example (official `openai` SDK with base_url), run as a conformance cell.

It answers a user's plainest question: does the documented client code work against this target?
The only change to the documented snippet is `max_tokens` (the run's token cap, as every body gets)
and no SDK retries (each retry would be a paid request and would hide the first answer).
"""

from __future__ import annotations

import httpx
import httpx2
import openai

from anyint_conformance.wire.transport import INTERACTION
from anyint_conformance.model.verdicts import Finding, Provenance, Severity, Verdict

PARAMETER = "openai-python example"
RULE = "000_c0a4473b350488b6.txt / Python example (the official openai SDK, base_url set to the gateway)"
MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Explain AnyInt in one sentence."},
]


def run_documented_example(base_url: str, api_key: str | None, model: str, timeout: float, token_cap: int, transport: httpx.BaseTransport) -> dict:
    """Verdict, reason, status and the streamed text, as the documented loop would print it. `transport`:
    the run's transport stack (recording, replay, policies), under the SDK's own httpx client."""
    client = openai.OpenAI(base_url=base_url, api_key=api_key or "no-key", max_retries=0, timeout=timeout,
                           http_client=openai.DefaultHttpxClient(transport=_Bridge(transport)))
    request = {"model": model, "stream": True, "messages": MESSAGES, "max_tokens": token_cap}
    text, chunks, interaction = [], 0, None
    try:
        response = client.chat.completions.create(**request)
        interaction = response.response.request.extensions.get(INTERACTION)
        for chunk in response:
            chunks += 1
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta:
                text.append(delta)
    except openai.APIStatusError as exc:
        interaction = exc.response.request.extensions.get(INTERACTION)
        verdict = Verdict.UNSUPPORTED if exc.status_code < 500 else Verdict.BROKEN
        if exc.status_code in (401, 403, 429):
            verdict = Verdict.UNTESTED
        reason = f"the SDK raised {type(exc).__name__} (HTTP {exc.status_code}): {str(exc.message)[:300]}"
        why = Finding("status", Severity.BROKEN, reason, provenance=Provenance.HTTP, rule="a 5xx is a server error, never a correct answer") if verdict is Verdict.BROKEN else None
        return {**_result(verdict, reason, exc.status_code, request, why), "interaction": interaction}
    except (openai.APIConnectionError, openai.APITimeoutError) as exc:
        cause = exc.__cause__
        if cause is not None and not isinstance(cause, (httpx.HTTPError, OSError)):
            # not the network: the layer under httpx (a replay without a recording) speaks for itself
            raise cause from None
        reason = f"the SDK raised {type(exc).__name__}: {exc}"
        return _result(Verdict.BROKEN, reason, None, request, Finding("transport_complete", Severity.BROKEN, reason, provenance=Provenance.HTTP, rule="a complete HTTP answer"))
    except (openai.OpenAIError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        # the SDK could not read what the server sent: the documented loop crashes for a user too
        reason = f"the documented loop crashed: {type(exc).__name__}: {exc}"
        return _result(Verdict.BROKEN, reason, 200, request, Finding("sdk_example", Severity.BROKEN, reason, provenance=Provenance.SDK, rule=RULE))
    finally:
        client.close()
    if chunks == 0:
        reason = "the stream yielded no chunk"
        return _result(Verdict.NONCONFORMING, reason, 200, request, Finding("sdk_example", Severity.NONCONFORMING, reason, rule=f'{RULE}; "With stream: true, the route returns SSE chunks"'))
    result = {**_result(Verdict.SUPPORTED, f"{chunks} chunks, printed {len(''.join(text))} characters", 200, request), "interaction": interaction}
    if not text:
        result["warnings"] = [{"check": "sdk_text", "severity": "warning", "message": "no chunk carried delta.content: the example prints nothing", "path": None}]
    return result


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


def _result(verdict: Verdict, reason: str, status: int | None, request: dict, violation: Finding | None = None) -> dict:
    return {"verdict": verdict.value, "reason": reason, "status": status, "request": request, "warnings": [],
            "violation": violation.to_dict() if violation else None}
