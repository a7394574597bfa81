"""A pytest plugin that stops a run the ways users' runs stop (loaded with -p tests.stoppers).

ANYINT_TEST_STOP picks the way, ANYINT_TEST_STOP_AFTER after how many suite tests:
  interrupt  Ctrl-C inside a test (KeyboardInterrupt, as pytest sees a SIGINT)
  request    Ctrl-C in the middle of a test: at its N-th request sent (ANYINT_TEST_STOP_AFTER counts requests)
  crash      pytest's own machinery fails (an internal error)
  worker     an xdist worker process dies (os._exit)
"""

import os

import httpx

_done = 0
_send = httpx.Client.send


def pytest_configure(config):
    global _done
    _done = 0  # a run in the same process as an earlier one counts afresh
    if os.environ.get("ANYINT_TEST_STOP") == "request":
        def send(self, request, **kwargs):
            if _due():
                raise KeyboardInterrupt
            return _send(self, request, **kwargs)
        httpx.Client.send = send


def pytest_unconfigure(config):
    httpx.Client.send = _send


def _due() -> bool:
    global _done
    _done += 1
    return _done > int(os.environ.get("ANYINT_TEST_STOP_AFTER", "5"))


def pytest_runtest_call(item):
    way = os.environ.get("ANYINT_TEST_STOP")
    if "conformance" not in getattr(item, "fixturenames", ()) or way not in ("interrupt", "worker") or not _due():
        return
    if way == "interrupt":
        raise KeyboardInterrupt
    if os.environ.get("PYTEST_XDIST_WORKER") == "gw0":
        os._exit(1)


def pytest_runtest_logreport(report):
    if os.environ.get("ANYINT_TEST_STOP") == "crash" and report.when == "call" and _due():
        raise RuntimeError("a plugin of the user's crashed")
