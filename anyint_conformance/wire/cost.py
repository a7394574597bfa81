"""Cost classes and spend: what a request to a route costs, by a user's price table (no pytest here).

A 16-token chat costs a fraction of a cent; an image, a speech clip or a video can cost dollars. Every
route belongs to a class; the expensive classes send the probe only unless a run opts in to their
examples (--expensive-examples). With a price table (--prices FILE) the plan estimates the spend and
--budget AMOUNT stops sending before the estimate would pass it (the rest of the run is untested).

Price table (YAML), first matching row wins; `class` and `model` are shell patterns:
    currency: USD
    prices:
      - {class: images, model: "*", per_request: 0.04}
      - {class: chat, model: "gpt-4o*", per_1k_tokens: 0.01}
      - {class: "*", model: "*", per_request: 0}
A per-1k-token price is applied to max_tokens plus PROMPT_TOKENS (the suite's prompts are a few words).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import httpx
import yaml

# route path prefix -> class (the longest prefix wins)
CLASSES = {
    "/chat/completions": "chat",
    "/embeddings": "embeddings",
    "/moderations": "moderations",
    "/images": "images",
    "/audio/speech": "speech",
    "/audio/transcriptions": "transcription",
    "/audio/translations": "transcription",
    "/videos": "video",
    "/files": "files/batches",
    "/batches": "files/batches",
    "/assistants": "assistants/threads",
    "/threads": "assistants/threads",
    "/models": "models",
}
EXPENSIVE = ("images", "speech", "video")
# classes whose POST makes a model work (what a price applies to); creating a file or a thread costs nothing
WORKING = ("chat", "embeddings", "moderations", "images", "speech", "transcription", "video")
PROMPT_TOKENS = 50


def route_class(path: str) -> str:
    """The cost class of a route path (a full URL path works too: the longest matching suffix of a prefix)."""
    best = None
    for prefix, name in CLASSES.items():
        at = path.find(prefix)
        if at >= 0 and (best is None or len(prefix) > len(best[0])):
            best = (prefix, name)
    return best[1] if best else "other"


class PriceError(ValueError):
    """A price table that cannot be used; the message names the file and the row."""


@dataclass(frozen=True)
class Prices:
    rows: tuple[dict, ...]
    currency: str = "USD"

    @classmethod
    def load(cls, path: str | Path) -> "Prices":
        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise PriceError(f"{path}: cannot read the price table: {' '.join(str(exc).split())}") from None
        rows = data.get("prices") if isinstance(data, dict) else None
        if not isinstance(rows, list) or not rows:
            raise PriceError(f"{path}: a price table needs `prices:`, a list of {{class, model, per_request | per_1k_tokens}}")
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or not ({"per_request", "per_1k_tokens"} & set(row)):
                raise PriceError(f"{path}: prices[{i}] needs per_request or per_1k_tokens")
            for key in ("per_request", "per_1k_tokens"):
                if key in row and not (isinstance(row[key], (int, float)) and row[key] >= 0):
                    raise PriceError(f"{path}: prices[{i}].{key} must be a number >= 0, not {row[key]!r}")
        return cls(tuple(rows), str(data.get("currency", "USD")))

    def per_request(self, klass: str, model: str | None, max_tokens: int | None) -> float:
        """The estimated price of one request of this class to this model (0 when no row matches)."""
        for row in self.rows:
            if fnmatch(klass, str(row.get("class", "*"))) and fnmatch(str(model or ""), str(row.get("model", "*"))):
                price = float(row.get("per_request", 0))
                if "per_1k_tokens" in row:
                    price += float(row["per_1k_tokens"]) * ((max_tokens or 0) + PROMPT_TOKENS) / 1000
                return price
        return 0.0


def paid(method: str, path: str) -> bool:
    """Does this request make a model work (and so cost)? A batch and a run do too."""
    return method == "POST" and (route_class(path) in WORKING or path.rstrip("/").endswith(("/batches", "/runs")))


def request_price(prices: Prices | None, path: str, body: Any, token_cap: int) -> float:
    """What one request is estimated to cost: by its route's class, its model and its max_tokens."""
    if prices is None:
        return 0.0
    model = body.get("model") if isinstance(body, dict) else None
    tokens = body.get("max_tokens") if isinstance(body, dict) and isinstance(body.get("max_tokens"), int) else token_cap
    return prices.per_request(route_class(path), model, tokens)


def request_pricer(prices: Prices, token_cap: int):
    """The meter's price of one request as sent (its JSON body read for the model and max_tokens)."""

    def price(request: "httpx.Request") -> float:
        try:
            body = json.loads(request.content) if request.headers.get("content-type", "").startswith("application/json") else None
        except (ValueError, httpx.RequestNotRead):
            body = None
        return request_price(prices, request.url.path, body, token_cap)

    return price


class Budget:
    """What a run may still send: --max-requests and --budget (a spend estimated with --prices) against the
    meter that counts every request sent. Asked before every cell and lifecycle step; `cut` tells the run
    it did not run to its end."""

    def __init__(self, meter, prices: Prices | None = None, max_requests: int = 0, spend: float = 0.0, token_cap: int = 16):
        self.meter, self.prices, self.max_requests, self.spend, self.token_cap = meter, prices, max_requests, spend, token_cap
        self.cut = False

    def refusal(self, route: str, model: str | None, requests: int) -> str | None:
        """Why the next cell (sending up to `requests` to `route`) must not be sent, or None."""
        why = None
        if self.max_requests and self.meter.requests + requests > self.max_requests:  # never past it: the whole cell fits, or none of it goes
            why = (f"request budget exhausted ({self.meter.requests} of --max-requests {self.max_requests} sent; this cell sends up to {requests})")
        elif self.spend and self.prices is not None:
            amount = requests * self.prices.per_request(route_class(route.split(" ", 1)[-1]), model, self.token_cap)
            if self.meter.spent + amount > self.spend + 1e-12:
                currency = self.prices.currency
                why = (f"spend budget: this cell (up to {requests} priced requests, about {amount:.4f} {currency}) would pass --budget {self.spend:g} "
                       f"({self.meter.spent:.4f} {currency} estimated so far)")
        self.cut = self.cut or why is not None
        return why
