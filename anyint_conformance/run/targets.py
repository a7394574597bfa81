"""Target profiles (targets.yaml) and model discovery."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from anyint_conformance.model.paths import TARGETS_FILE

DEFAULT_TARGET = "anyint"


class TargetError(ValueError):
    """A profile or option that cannot describe a target."""


@dataclass(frozen=True)
class Target:
    name: str
    base_url: str
    auth: str = "bearer"
    key_env: str | None = None
    models: tuple[str, ...] | None = None  # None: discover with GET /models
    describes: str = ""
    probe_model: str | None = None  # the model per-target cells (auth) use; default: the first discovered
    notes: tuple = ()  # (route, what answered it): said on every cell of that route (e.g. an adapter's doing)

    @property
    def key(self) -> str | None:
        return os.environ.get(self.key_env) if self.key_env else None

    def auth_headers(self) -> dict[str, str]:
        if self.auth == "none":
            return {}
        key = self.key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


def load_profiles(path: Path = TARGETS_FILE) -> dict[str, Target]:
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise TargetError(f"cannot read target profiles {path}: {exc}") from None
    return {name: _target(name, spec, str(path)) for name, spec in raw.items()}


def _target(name: str, spec: dict, where: str) -> Target:
    if not isinstance(spec, dict) or "base_url" not in spec:
        raise TargetError(f"{where}: profile {name!r} needs a base_url")
    auth = spec.get("auth", "bearer")
    if auth not in ("bearer", "none"):
        raise TargetError(f"{where}: profile {name!r}: auth must be 'bearer' or 'none', not {auth!r}")
    models = spec.get("models", "discover")
    if models != "discover" and not (isinstance(models, list) and all(isinstance(m, str) for m in models)):
        raise TargetError(f"{where}: profile {name!r}: models must be 'discover' or a list of ids")
    return Target(
        name=name,
        base_url=spec["base_url"],
        auth=auth,
        key_env=spec.get("key_env"),
        models=None if models == "discover" else tuple(models),
        describes=spec.get("describes", ""),
        probe_model=spec.get("probe_model"),
        notes=tuple((str(k), str(v)) for k, v in (spec.get("notes") or {}).items()),
    )


def adhoc_target(base_url: str, key_env: str | None, name: str | None) -> Target:
    """A target from --base-url: any OpenAI-compatible prefix a user points at."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TargetError(f"--base-url must be an http(s) URL such as https://host/v1, not {base_url!r}")
    default_name = (parts.hostname or "custom").replace(".", "-") + (f"-{parts.port}" if parts.port else "")
    return Target(name=name or default_name, base_url=base_url, key_env=key_env, auth="bearer" if key_env else "none")


def model_ids(payload) -> tuple[list[str], dict[str, dict]]:
    """The model ids a GET /models body lists, and each model's raw entry (what the target declares of it).
    Lenient on purpose: the GET /models cell judges the shape; discovery only needs the string ids."""
    data = payload.get("data") if isinstance(payload, dict) else None
    entries = {item["id"]: item for item in data or [] if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]}
    return sorted(entries), entries


def secrets_of(profiles: dict[str, Target]) -> list[str]:
    """Every key value reachable through a profile: scrubbed from cassettes, reports and messages."""
    values = {t.key for t in profiles.values() if t.key}
    return sorted((v for v in values if len(v) >= 4), key=len, reverse=True)
