"""The official `openai` SDK as a second oracle: can its own type for this answer parse the body?

Each response schema names its SDK type (`x-sdk`, from the tables). A body the SDK's pydantic model
rejects is non-conforming whatever our schemas say: a client built on the SDK cannot use it. The SDK
version is pinned in requirements.lock, and its types are imported only when first needed.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import struct
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=None)
def _sdk_class(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def sdk_version() -> str:
    return importlib.import_module("openai").__version__


def decode_float32(text: str) -> list[float]:
    """A base64 embedding as the SDK decodes it: little-endian float32 values. ValueError when it cannot be."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not base64 ({exc})") from None
    if not raw or len(raw) % 4:
        raise ValueError(f"{len(raw)} bytes is not a whole number of float32 values")
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def _prepared(type_name: str, body: Any) -> Any:
    """The body as the SDK hands it to its type: base64 embeddings decoded to floats (as embeddings.create does)."""
    if type_name.endswith("CreateEmbeddingResponse") and isinstance(body, dict) and isinstance(body.get("data"), list):
        data = []
        for item in body["data"]:
            if isinstance(item, dict) and isinstance(item.get("embedding"), str):
                try:
                    item = {**item, "embedding": decode_float32(item["embedding"])}
                except ValueError:
                    pass  # left as a string: the SDK type rejects it, and base64_embeddings says why
            data.append(item)
        body = {**body, "data": data}
    return body


def parse_error(type_name: str, body: Any) -> str | None:
    """Why the SDK type `type_name` (a dotted path; `X[]`: `data` is a list of X) cannot parse `body`, or None."""
    import pydantic

    listed = type_name.endswith("[]")
    cls = _sdk_class(type_name.removesuffix("[]"))
    body = _prepared(type_name, body)
    try:
        if listed:
            items = body.get("data") if isinstance(body, dict) else None
            if not isinstance(items, list):
                return f"expected an object with a `data` list of {cls.__name__}"
            for i, item in enumerate(items):
                try:
                    cls.model_validate(item)
                except pydantic.ValidationError as exc:
                    return f"data.{i}: {_first(exc)}"
            return None
        cls.model_validate(body)
    except pydantic.ValidationError as exc:
        return _first(exc)
    return None


def _first(exc) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]) or "(body)"
    extra = f" ({len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    value = repr(error.get("input"))[:60]
    return f"{where}: {error['msg']} (got {value}){extra}"
