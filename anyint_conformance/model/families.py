"""Route families: the columns of the answer-first summary ("which endpoints does each model support").

Ground floor: reads cell dicts only. A cell's `family` is set when it is made (the suite's route
marker, refined by path); `family_verdict` folds a family's route and lifecycle cells into one verdict.
"""

from __future__ import annotations

from anyint_conformance.model.verdicts import Verdict, worst

FAMILIES = (
    "chat",
    "chat stream",
    "embeddings",
    "images",
    "speech",
    "transcriptions",
    "translations",
    "moderations",
    "files",
    "assistants",
    "threads & runs",
    "batches",
    "videos",
    "models",
)
# families whose cells belong to the target, not to a model (no model in the request)
TARGET_WIDE = ("files", "batches", "models")
# the kinds of cell that say whether a route works (parameters, negative and auth cells have their own sections)
SUMMARY_KINDS = ("route", "lifecycle")

# suite route marker -> family (audio is split by path; chat by the stream variant)
_BY_MARKER = {
    "chat": "chat",
    "embeddings": "embeddings",
    "images": "images",
    "moderations": "moderations",
    "files": "files",
    "assistants": "assistants",
    "threads": "threads & runs",
    "batches": "batches",
    "videos": "videos",
    "models": "models",
}
_AUDIO = {"/audio/speech": "speech", "/audio/transcriptions": "transcriptions", "/audio/translations": "translations"}


# route path -> family, for cells that carry none (version-1 matrices): the longest matching prefix
_BY_PATH = (
    ("/chat/completions", "chat"), ("/embeddings", "embeddings"), ("/images", "images"), ("/audio/speech", "speech"),
    ("/audio/transcriptions", "transcriptions"), ("/audio/translations", "translations"), ("/moderations", "moderations"),
    ("/files", "files"), ("/assistants", "assistants"), ("/threads", "threads & runs"), ("/batches", "batches"),
    ("/videos", "videos"), ("/models", "models"),
)


def _streamed(parameter: str | None) -> bool:
    """A chat cell of the "chat stream" family: the stream variant, or the page's (streaming) SDK example."""
    return bool(parameter) and (parameter == "stream" or parameter.startswith("openai-python"))


def family_of(marker: str | None, route: str, parameter: str | None) -> str | None:
    """The family of a cell made by a suite marked `route(marker)`; None for cells outside every family."""
    if marker == "audio":
        return _AUDIO.get(route.split(" ", 1)[-1])
    if marker == "chat" and _streamed(parameter):
        return "chat stream"
    if marker == "negative" or marker == "auth":
        path = route.split(" ", 1)[-1]
        return _AUDIO.get(path) or {"/chat/completions": "chat", "/embeddings": "embeddings", "/images/generations": "images",
                                    "/moderations": "moderations", "/models": "models"}.get(path)
    return _BY_MARKER.get(marker or "")


def family_of_cell(cell: dict) -> str | None:
    """A cell's family as the matrix has it; a cell without one (a version-1 matrix) has it read off its path."""
    if "family" in cell:
        return cell["family"]
    path = cell["route"].split(" ", 1)[-1]
    found = next((f for prefix, f in _BY_PATH if path == prefix or path.startswith(prefix + "/")), None)
    return "chat stream" if found == "chat" and _streamed(cell.get("parameter")) else found


def family_verdict(cells: list[dict]) -> Verdict | None:
    """One verdict for a family: the worst among its route and lifecycle cells that ran; `untested` when
    none ran; None when the family has no such cell at all."""
    judged = [c for c in cells if c.get("kind", "route") in SUMMARY_KINDS]
    if not judged:
        return None
    # a lifecycle step that must be refused (a deleted file is gone) counts as working when it was refused,
    # or accepted where only upstream OpenAI refuses: the family's question is "does it work?"
    working = {Verdict.REJECTED.value: Verdict.SUPPORTED.value, Verdict.LENIENT.value: Verdict.SUPPORTED.value}
    ran = [working.get(c["verdict"], c["verdict"]) for c in judged if c["verdict"] != Verdict.UNTESTED.value]
    return worst(ran) if ran else Verdict.UNTESTED
