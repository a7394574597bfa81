"""The page's own Python example (official `openai` SDK with base_url), run as a conformance cell.

It answers a user's plainest question: does the documented client code work against this target?
The only change to the documented snippet is `max_tokens` (the run's token cap, as every body gets)
and no SDK retries (each retry would be a paid request and would hide the first answer).
"""

from __future__ import annotations

import httpx
import openai

from anyint_conformance.transport import ssl_context
from anyint_conformance.verdicts import Finding, Provenance, Severity, Verdict

PARAMETER = "openai-python example"
RULE = "000_c0a4473b350488b6.txt / Python example (the official openai SDK, base_url set to the gateway)"
MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Explain AnyInt in one sentence."},
]


def run_documented_example(base_url: str, api_key: str | None, model: str, timeout: float, token_cap: int) -> dict:
    """Verdict, reason, status and the streamed text, as the documented loop would print it."""
    client = openai.OpenAI(base_url=base_url, api_key=api_key or "no-key", max_retries=0, timeout=timeout,
                           http_client=openai.DefaultHttpxClient(verify=ssl_context()))  # the SDK's defaults, one shared SSL context
    request = {"model": model, "stream": True, "messages": MESSAGES, "max_tokens": token_cap}
    text, chunks = [], 0
    try:
        response = client.chat.completions.create(**request)
        for chunk in response:
            chunks += 1
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta:
                text.append(delta)
    except openai.APIStatusError as exc:
        verdict = Verdict.UNSUPPORTED if exc.status_code < 500 else Verdict.BROKEN
        if exc.status_code in (401, 403, 429):
            verdict = Verdict.UNTESTED
        reason = f"the SDK raised {type(exc).__name__} (HTTP {exc.status_code}): {str(exc.message)[:300]}"
        why = Finding("status", Severity.BROKEN, reason, provenance=Provenance.HTTP, rule="a 5xx is a server error, never a correct answer") if verdict is Verdict.BROKEN else None
        return _result(verdict, reason, exc.status_code, request, why)
    except (openai.APIConnectionError, openai.APITimeoutError) as exc:
        cause = exc.__cause__
        if cause is not None and not isinstance(cause, (httpx.HTTPError, OSError)):
            # not the network: the layer under httpx (e.g. a replay without a recording) speaks for itself
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
    result = _result(Verdict.SUPPORTED, f"{chunks} chunks, printed {len(''.join(text))} characters", 200, request)
    if not text:
        result["warnings"] = [{"check": "sdk_text", "severity": "warning", "message": "no chunk carried delta.content: the example prints nothing", "path": None}]
    return result


def _result(verdict: Verdict, reason: str, status: int | None, request: dict, violation: Finding | None = None) -> dict:
    return {"verdict": verdict.value, "reason": reason, "status": status, "request": request, "warnings": [],
            "violation": violation.to_dict() if violation else None}
