"""The transport policies, each alone over an httpx.MockTransport: retry, meter, pace."""

import time

import httpx

from anyint_conformance.wire.transport import ATTEMPTS, Meter, MeteredTransport, PacedTransport, RetryTransport, rate_limiter


def answers(*statuses, retry_after="0"):
    queue = list(statuses)

    def handler(request):
        status = queue.pop(0) if queue else 200
        return httpx.Response(status, headers={"retry-after": retry_after} if status == 429 else {}, json={"ok": status == 200})

    return httpx.MockTransport(handler)


def test_retry_honours_retry_after_and_counts_attempts():
    waits = []
    with httpx.Client(transport=RetryTransport(answers(429, 429), retries=2, sleep=waits.append)) as client:
        response = client.get("http://t/x")
    assert response.status_code == 200 and response.extensions[ATTEMPTS] == 3 and waits == [0.0, 0.0]


def test_retry_gives_up_within_its_bound_and_on_a_long_retry_after():
    with httpx.Client(transport=RetryTransport(answers(429, 429, 429), retries=1, sleep=lambda s: None)) as client:
        response = client.get("http://t/x")
    assert response.status_code == 429 and response.extensions[ATTEMPTS] == 2
    with httpx.Client(transport=RetryTransport(answers(429, retry_after="3600"), retries=2, sleep=lambda s: None)) as client:
        assert client.get("http://t/x").status_code == 429  # an hour's wait is not waited for


def test_the_meter_counts_every_request_and_its_price():
    meter = Meter(price=lambda request: 0.5 if request.method == "POST" else 0.0)
    with httpx.Client(transport=RetryTransport(MeteredTransport(answers(429), meter), sleep=lambda s: None)) as client:
        client.post("http://t/x", json={})  # a retried 429: two requests sent, both priced
        client.get("http://t/y")
    assert meter.requests == 3 and meter.spent == 1.0


def test_pacing_spaces_requests_to_the_rate():
    with httpx.Client(transport=PacedTransport(answers(), rate_limiter(10), "t")) as client:
        started = time.monotonic()
        for _ in range(15):
            client.get("http://t/x")
    assert time.monotonic() - started >= 0.4  # 15 requests at 10 per second cannot take less than half a second
