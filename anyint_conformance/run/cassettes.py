"""A run's cassettes (cassettes/<target>/): opened in the run's mode, saved, what this run recorded, the
targets' manifests, and when a replayed cell was observed. The format and lookup are wire/recording.py's.

Resume instead of re-spend: a recording that stopped (Ctrl-C, a CI timeout, the budget), started again with
the same command, sends only what is not recorded yet.
  --record-mode=once     a cassette on disk replays (VCR.py's meaning); one whose test did not finish (its
                         INCOMPLETE line) is continued: its recorded requests replay, the rest is recorded.
  --record-mode=rewrite  the run notes in <target>/.rewrite-session.json which cassettes it has re-recorded
                         (and with which request-shaping options); a rewrite started again with the same
                         options keeps those, continues the unfinished ones and re-records the rest. A rewrite
                         that runs to its end removes the note.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from anyint_conformance import __version__
from anyint_conformance.model.paths import shown, write_atomic
from anyint_conformance.run.context import RunContext
from anyint_conformance.run.targets import Target
from anyint_conformance.wire.recording import Cassette, read_manifest, write_manifest


SESSION = ".rewrite-session.json"
SHAPING = ("seed", "examples", "token_cap", "tool_token_cap", "trials", "expensive_examples", "poll_timeout")  # options that shape requests


def _read_session(folder: Path) -> dict | None:
    try:
        note = json.loads((folder / SESSION).read_text())
        return note if isinstance(note, dict) and {"options", "done", "partial", "started_at"} <= set(note) else None
    except (OSError, ValueError):
        return None


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
        self._sessions: dict[Path, dict] = {}  # rewrite: per target folder, what this re-recording (or the one it resumes) saved
        self._kept: dict[str, int] = {}  # rewrite: per target, cassettes the resumed re-recording had finished
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
            session, name = self._session(path)
            with self._lock:
                kept = name in session["done"] or name in session["partial"]  # by the re-recording this run resumes
                fresh = path not in self._rewritten and not kept
                self._rewritten.add(path)
            mode = "once" if name in session["done"] else "new_episodes"  # re-recorded before the interruption: kept
        cassette = Cassette(path, mode, self.ctx.secrets, cache_dir=cfg.cassette_dir / ".cache" if mode == "none" else None, fresh=fresh)
        if mode == "once" and cassette.incomplete:
            cassette.mode = "new_episodes"  # its test did not finish recording: continue it
        return cassette

    def close(self, cassette: Cassette | None, target: str, incomplete: str | None = None) -> None:
        """Save what the test recorded; `incomplete`: why the test did not finish (the cassette says so, and
        a resumed recording continues it)."""
        if cassette is None or cassette.mode == "none" or (not cassette.dirty and incomplete == cassette.incomplete):
            return
        if not cassette.dirty and cassette.incomplete is None:
            return  # replayed whole and then stopped: nothing was recorded, the cassette stays as it was
        cassette.save(incomplete)
        base = self.ctx.target_dir(target).resolve()
        name = cassette.path.resolve().relative_to(base).as_posix()
        with self._lock:
            self.recorded.setdefault(target, set()).add(name)
        if self.ctx.cfg.recording and self.ctx.cfg.record_mode == "rewrite":
            self._note(cassette.path, name, done=incomplete is None)

    # -- a rewrite's session note, for a resume ---------------------------------------------------------

    def _session(self, path: Path) -> tuple[dict, str]:
        folder = self._folder_of(path)
        with self._lock:
            if folder not in self._sessions:
                options = {k: getattr(self.ctx.cfg, k) for k in SHAPING}
                note = _read_session(folder)
                if note is None or note.get("options") != options:
                    note = {"started_at": self.ctx.cfg.started_at, "options": options, "done": [], "partial": []}
                self._sessions[folder] = {**note, "done": set(note["done"]), "partial": set(note["partial"])}
                self._kept[folder.name] = len(note["done"])
            return self._sessions[folder], path.resolve().relative_to(folder.resolve()).as_posix()

    def _note(self, path: Path, name: str, done: bool) -> None:
        session, _ = self._session(path)
        folder = self._folder_of(path)
        with self._lock:
            (session["done"] if done else session["partial"]).add(name)
            (session["partial"] if done else session["done"]).discard(name)
            write_atomic(folder / SESSION, json.dumps({**session, "done": sorted(session["done"]), "partial": sorted(session["partial"])}, indent=1))

    def _folder_of(self, path: Path) -> Path:
        base = self.ctx.cfg.cassette_dir.resolve()
        return base / path.resolve().relative_to(base).parts[0]

    def resumed(self) -> dict[str, int]:
        """{target: cassettes kept from the interrupted re-recording this run resumed}."""
        return {name: n for name, n in self._kept.items() if n}

    def finish(self, complete: bool) -> list[str]:
        """The end of a run: a rewrite that ran to its end drops its session notes; one that did not says how to resume."""
        if not (self.ctx.cfg.recording and self.ctx.cfg.record_mode == "rewrite"):
            return ["anyint-conformance: to resume the recording, run the same command again (recorded cassettes replay, unfinished ones continue)"] \
                if self.ctx.cfg.recording and not complete else []
        if complete:
            for folder in self._sessions:
                (folder / SESSION).unlink(missing_ok=True)
            return []
        return ["anyint-conformance: to resume the re-recording, run the same command again: the cassettes it re-recorded are kept "
                f"({', '.join(f'{f.name}/{SESSION}' for f in self._sessions)}), unfinished ones continue, the rest is re-recorded"]

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
