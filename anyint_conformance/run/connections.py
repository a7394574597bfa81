"""How a run reaches its targets: one connection pool per target and the transport stack around whatever
answers (a cassette, a live connection, or the plan's imaginary target).

    policies (cap ▸ retry ▸ meter ▸ pace) ▸ CassetteTransport (replay / record) ▸ Shared pool (live)

Client libraries reach the same stack through the run's one loopback server (replay/server.py).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable, ContextManager

import httpx

from anyint_conformance import __version__
from anyint_conformance.run.context import RunContext
from anyint_conformance.replay.server import ReplayServer, Session
from anyint_conformance.run.targets import Target
from anyint_conformance.wire.recording import Cassette, CassetteTransport
from anyint_conformance.wire.transport import Meter, policies, rate_limiter, ssl_context


class Connections:
    def __init__(self, ctx: RunContext, meter: Meter, answering: Callable[[Target], httpx.BaseTransport] | None = None):
        self.ctx, self.meter = ctx, meter
        self._answering = answering  # a plan's imaginary server instead of the network
        self._pools: dict[str, httpx.BaseTransport] = {}
        self._limiters: dict[str, object] = {}
        self._lock = threading.Lock()
        self._loopback = ReplayServer()  # started by the first client library that needs it

    @property
    def reach_network(self) -> bool:
        """Whether an unrecorded request may go out (live, recording, or the plan's imaginary target)."""
        return self.ctx.live or self._answering is not None

    def client(self, target: Target, cassette: Cassette | None, bare: bool = False) -> httpx.Client:
        """A client for one test: the run's policies around its cassette (or the live connection); `bare`
        leaves the credentials out (auth cells set their own)."""
        headers = {"User-Agent": f"anyint-conformance/{__version__}", **({} if bare else target.auth_headers())}
        return httpx.Client(headers=headers, transport=self.transport(target, cassette), follow_redirects=False, timeout=self.ctx.cfg.request_timeout)

    def transport(self, target: Target, cassette: Cassette | None) -> httpx.BaseTransport:
        cfg = self.ctx.cfg
        connection = Shared(self._pool(target)) if self.reach_network else None
        answering = CassetteTransport(cassette, connection) if cassette is not None else connection
        return policies(answering, retries=cfg.retries, sleep=self.sleep, meter=self.meter, token_cap=cfg.token_cap,
                        tool_token_cap=cfg.tool_token_cap, limiter=self._limiter(target), name=target.name)

    def loopback(self, target: Target, cassette: Cassette | None) -> ContextManager[Session]:
        """An address on the run's loopback server for one test's client library, answered by this test's
        transport (its cassette, or the target) with the target's credentials added on the way out."""
        return self._loopback.session(self.transport(target, cassette), target.base_url, target.auth_headers(), self.ctx.cfg.request_timeout)

    def sleep(self, seconds: float) -> None:
        """Waits between retries and polls; replay answers from recordings, so it never waits."""
        if self.ctx.live and self._answering is None:
            time.sleep(seconds)

    def _pool(self, target: Target) -> httpx.BaseTransport:
        with self._lock:
            if target.name not in self._pools:
                if self._answering is not None:
                    self._pools[target.name] = self._answering(target)
                else:  # one pool per target, shared by every thread (httpx's pool is thread-safe)
                    n = max(10, 2 * self.ctx.cfg.concurrency)
                    self._pools[target.name] = httpx.HTTPTransport(verify=ssl_context(), limits=httpx.Limits(max_connections=n, max_keepalive_connections=n))
            return self._pools[target.name]

    def _limiter(self, target: Target):
        """--rps per target: one limiter shared by this process's threads; xdist workers split the rate."""
        if self.ctx.cfg.rps <= 0 or not self.ctx.live:
            return None
        with self._lock:
            if target.name not in self._limiters:
                workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
                self._limiters[target.name] = rate_limiter(self.ctx.cfg.rps / workers)
            return self._limiters[target.name]

    def close(self) -> None:
        self._loopback.close()
        for pool in self._pools.values():
            pool.close()


class Shared(httpx.BaseTransport):
    """A target's connection pool as one test's client sees it: closing the client leaves the pool open
    for the other threads (Connections closes it at the end of the run)."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:
        pass
