"""A run's cassettes (cassettes/<target>/): opened in the run's mode, saved, what this run recorded, the
targets' manifests, and when a replayed cell was observed. The format and lookup are wire/recording.py's.
"""

from __future__ import annotations

import threading
from pathlib import Path

from anyint_conformance import __version__
from anyint_conformance.model.paths import shown
from anyint_conformance.run.context import RunContext
from anyint_conformance.run.targets import Target
from anyint_conformance.wire.recording import Cassette, read_manifest, write_manifest


def rerecord_hint(target: Target, nodeid: str | None = None, record_mode: str = "rewrite") -> str:
    what = f"'{nodeid}' " if nodeid else "suites "
    key = f"{target.key_env}=... " if target.key_env else ""
    return f"{key}pytest {what}--target {target.name} --record-mode={record_mode} (the target must be running)"


class Cassettes:
    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.recorded: dict[str, set[str]] = {}  # target -> cassettes this run wrote (relative to its folder)
        self._rewritten: set[Path] = set()
        self._manifests: dict[str, dict] = {}
        self._lock = threading.Lock()

    def open(self, path: Path, replay: bool = False) -> Cassette | None:
        """The cassette at `path` in this run's mode (None when live without recording). --record-mode
        rewrite starts a cassette empty the first time this run opens it; the recording on disk is replaced
        only when the new one is saved (atomically), so an interrupted re-recording loses no cassette."""
        cfg = self.ctx.cfg
        if cfg.live and not cfg.recording and not replay:
            return None
        mode = "none" if (replay or not cfg.recording) else cfg.record_mode
        fresh = False
        if mode == "rewrite":
            with self._lock:
                fresh = path not in self._rewritten
                self._rewritten.add(path)
            mode = "new_episodes"
        return Cassette(path, mode, self.ctx.secrets, cache_dir=cfg.cassette_dir / ".cache" if mode == "none" else None, fresh=fresh)

    def close(self, cassette: Cassette | None, target: str) -> None:
        if cassette is None or not cassette.dirty:
            return
        cassette.save()
        base = self.ctx.target_dir(target).resolve()
        with self._lock:
            self.recorded.setdefault(target, set()).add(cassette.path.resolve().relative_to(base).as_posix())

    def observed_at(self, target: str, cassette: str | None) -> str:
        """When a cell was observed: live, the run's start; replayed, when its cassette was recorded."""
        cfg = self.ctx.cfg
        if cfg.live:
            return cfg.started_at
        with self._lock:
            if target not in self._manifests:
                try:
                    self._manifests[target] = read_manifest(self.ctx.target_dir(target))
                except ValueError:
                    self._manifests[target] = {}
        info = self._manifests[target]
        relative = None
        if cassette:
            base = shown(self.ctx.target_dir(target)) + "/"  # cells cite cassettes as shown(): compare the same way
            relative = cassette[len(base):] if cassette.startswith(base) else None
        return (info.get("recordings") or {}).get(relative) or info.get("recorded_at") or cfg.started_at

    def write_manifests(self, touched: list[str]) -> dict[str, dict]:
        """Each touched target's description for the matrix (recording: the manifest is written first)."""
        cfg, infos = self.ctx.cfg, {}
        for target in self.ctx.targets:
            if target.name not in touched:
                continue
            folder = self.ctx.target_dir(target.name)
            if cfg.recording:
                written = sorted(self.recorded.get(target.name, ()))
                write_manifest(folder, target.name, target.base_url, target.describes, __version__, cfg.started_at, written)
            info = {"base_url": target.base_url, "describes": target.describes}
            if cfg.recording or not cfg.live:
                try:
                    manifest = read_manifest(folder)
                    info.update({k: manifest[k] for k in ("describes", "recorded_at", "recorded_with") if k in manifest})
                except ValueError:
                    pass
            infos[target.name] = info
        return infos
