"""pytest plugin used only by benchmarks/bench.py (`-p _playcount` with benchmarks/ on PYTHONPATH).

Counts what VCR.py actually plays during a replay: every `Cassette.play_response` call (repeats
included) and the distinct recorded interactions it used, per cassette file. Written as JSON to
$ANYINT_BENCH_COUNTS when pytest unconfigures. Wraps VCR.py's own method; changes no behaviour.
"""

from __future__ import annotations

import collections
import json
import os

from vcr.cassette import Cassette

_played: collections.Counter = collections.Counter()  # cassette path -> responses played
_distinct: dict[str, set] = collections.defaultdict(set)  # cassette path -> indexes played
_original = Cassette.play_response


def _counting_play_response(self, request):
    response = _original(self, request)
    path = str(self._path)
    _played[path] += 1
    _distinct[path].update(i for i, n in self.play_counts.items() if n)
    return response


Cassette.play_response = _counting_play_response


def pytest_unconfigure(config):
    out = os.environ.get("ANYINT_BENCH_COUNTS")
    if not out:
        return
    data = {path: {"played": n, "distinct": len(_distinct[path])} for path, n in _played.items()}
    with open(out, "w") as fh:
        json.dump(data, fh)
