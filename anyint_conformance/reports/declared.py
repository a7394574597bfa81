"""Declared vs observed: what a gateway says of each model, confronted with what the model did.

Reporting floor: reads cell dicts and raw declarations only. A declaration is the model's raw entry in
GET /models (LiteLLM's `mode`, OpenRouter-style `supported_parameters` and `architecture`, a
`capabilities` map) or a user's catalogue file (model -> routes / parameters). Only keys recognised here
are mapped to route families and parameters; every other key is shown as it is, never guessed.

A contradiction is a finding on the report and a note on the cell that contradicts it:
  declared, not observed: "declares mode: embedding, yet embeddings was unsupported (404)"
  observed, not declared: "declares mode: embedding, yet chat answered 200 and conforming" (a `mode`
                          names the one thing a model is for; explicit `false` capabilities likewise)
"""

from __future__ import annotations

from pathlib import Path

import yaml

from anyint_conformance.model.families import FAMILIES, TARGET_WIDE, family_verdict

# LiteLLM's model_info.mode -> the families it declares
MODES = {
    "chat": ("chat", "chat stream"),
    "completion": (),
    "embedding": ("embeddings",),
    "image_generation": ("images",),
    "video_generation": ("videos",),
    "audio_speech": ("speech",),
    "audio_transcription": ("transcriptions", "translations"),
    "moderation": ("moderations",),
    "responses": ("chat", "chat stream"),
}
# capability names (a `capabilities` map or list) -> families, or parameters (prefixed "param:")
CAPABILITIES = {
    "chat": ("chat", "chat stream"), "completion": ("chat",), "chat_completion": ("chat", "chat stream"),
    "embeddings": ("embeddings",), "embedding": ("embeddings",), "image_generation": ("images",), "images": ("images",),
    "audio_speech": ("speech",), "tts": ("speech",), "transcription": ("transcriptions",), "audio_transcription": ("transcriptions",),
    "moderation": ("moderations",), "moderations": ("moderations",), "video_generation": ("videos",), "videos": ("videos",),
    "streaming": ("chat stream",), "function_calling": ("param:tools",), "tools": ("param:tools",), "tool_calling": ("param:tools",),
}
# supported_parameters entries -> the parameter cells that observe them
PARAMETERS = {
    "tools": ("tools+tool_choice", "tools+tool_choice (stream)"), "tool_choice": ("tools+tool_choice", "tool_choice=required", "tool_choice=none"),
    "max_tokens": ("max_tokens",), "stop": ("stop", "stop (string)"), "temperature": ("temperature",), "top_p": ("top_p",),
    "presence_penalty": ("presence_penalty",), "frequency_penalty": ("frequency_penalty",), "user": ("user",),
    "dimensions": ("dimensions",), "encoding_format": ("encoding_format",),
}
STANDARD_KEYS = {"id", "object", "created", "owned_by", "root", "parent", "permission", "permissions"}
HOLDS = ("supported", "unverified")  # the route or parameter worked (an unverified parameter was accepted)
FAILS = ("unsupported", "broken", "non-conforming", "ignored")


def interpret(entry: dict) -> dict:
    """A raw declaration -> {families: {name: bool}, parameters: [...], exclusive: bool, recognised: {...}, unknown: {...}}.
    `families` maps a declared family to True (declared) or False (declared absent)."""
    families: dict[str, bool] = {}
    parameters: list[str] = []
    recognised, unknown, exclusive = {}, {}, False
    for key, value in entry.items():
        if key in STANDARD_KEYS:
            continue
        if key == "mode" and isinstance(value, str) and value in MODES:
            families.update({f: True for f in MODES[value]})
            exclusive = True  # a mode is the one thing the model is for
            recognised[key] = value
        elif key == "supported_parameters" and isinstance(value, list):
            parameters += [p for p in value if isinstance(p, str)]
            recognised[key] = value
        elif key == "capabilities" and isinstance(value, (dict, list)):
            items = value.items() if isinstance(value, dict) else ((name, True) for name in value)
            for name, on in items:
                if str(name) not in CAPABILITIES:  # a capability this version does not map: shown as it is
                    unknown[f"{key}.{name}"] = on
                for target in CAPABILITIES.get(str(name), ()):
                    if target.startswith("param:"):
                        if on:
                            parameters.append(target[len("param:"):])
                    else:
                        families[target] = bool(on)
            mapped = {k: v for k, v in value.items() if str(k) in CAPABILITIES} if isinstance(value, dict) else [n for n in value if str(n) in CAPABILITIES]
            if mapped:
                recognised[key] = mapped
        elif key == "architecture" and isinstance(value, dict):
            outputs = value.get("output_modalities") or str(value.get("modality", "")).partition("->")[2].split("+")
            if "text" in outputs:
                families.setdefault("chat", True)
            if "image" in outputs:
                families.setdefault("images", True)
            if "embeddings" in outputs:
                families.setdefault("embeddings", True)
            recognised[key] = value
        elif key in ("routes", "families") and isinstance(value, list):  # a catalogue file's own words
            families.update({str(f): True for f in value if str(f) in FAMILIES})
            exclusive = exclusive or bool(entry.get("exclusive"))
            recognised[key] = value
        elif key == "parameters" and isinstance(value, list):
            parameters += [str(p) for p in value]
            recognised[key] = value
        elif key != "exclusive":
            unknown[key] = value
    return {"families": families, "parameters": sorted(set(parameters)), "exclusive": exclusive, "recognised": recognised, "unknown": unknown}


def load_file(path: str | Path) -> dict[str, dict]:
    """A catalogue export: {model: {routes: [...], parameters: [...], exclusive: bool}} or {target: {model: ...}}."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the declarations file: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(f"{path}: a declarations file maps a model (or a target, then a model) to {{routes: [...], parameters: [...]}}")
    return data


def confront(cells: list[dict], declared: dict[str, dict[str, dict]]) -> list[dict]:
    """Contradictions between `declared` ({target: {model: raw entry}}) and the observed cells."""
    findings = []
    for target, models in sorted(declared.items()):
        for model, entry in sorted(models.items()):
            meaning = interpret(entry)
            source = ", ".join(f"{k}: {v}" for k, v in meaning["recognised"].items()) or None
            # a cell decided by a security finding says nothing of what the model can do: it is no contradiction
            mine = [c for c in cells if c["target"] == target and c["model"] == model and not c.get("security")]
            if not mine or source is None:
                continue
            for family in FAMILIES:
                if family in TARGET_WIDE:
                    continue
                verdict = family_verdict([c for c in mine if c.get("family") == family])
                if verdict is None or verdict.value == "untested":
                    continue
                said = meaning["families"].get(family)
                if said is True and verdict.value in FAILS:
                    findings.append(_finding(target, model, family, source, verdict.value, f"declares {source}, yet {family} was {verdict.value}"))
                elif (said is False or (said is None and meaning["exclusive"])) and verdict.value in HOLDS:
                    findings.append(_finding(target, model, family, source, verdict.value, f"declares {source}, yet {family} answered 200 and conforming"))
            for parameter in meaning["parameters"]:
                for column in PARAMETERS.get(parameter, ()):
                    cell = next((c for c in mine if c.get("kind") == "parameter" and c["parameter"] == column), None)
                    if cell is not None and cell["verdict"] in FAILS:
                        findings.append(_finding(target, model, column, f"supported_parameters: [{parameter}]", cell["verdict"],
                                                 f"declares supported_parameters: [{parameter}], yet {column} was {cell['verdict']}", parameter=column))
    return findings


def unknown_keys(declared: dict[str, dict[str, dict]]) -> list[dict]:
    """The declared keys this version does not map, one entry per model: shown as they are, never guessed."""
    out = []
    for target, models in sorted(declared.items()):
        for model, entry in sorted(models.items()):
            unknown = interpret(entry)["unknown"]
            if unknown:
                text = ", ".join(f"{k}: {v}" for k, v in sorted(unknown.items()))[:300]
                out.append({"target": target, "model": model, "family": None, "declared": text, "observed": None,
                            "message": f"declares {text} (not mapped by this version: shown, not interpreted)"})
    return out


def note_cells(cells: list[dict], findings: list[dict]) -> None:
    """Put each contradiction on the cells it is about (a note: it decides no verdict)."""
    for finding in findings:
        for cell in cells:
            if cell["target"] != finding["target"] or cell["model"] != finding["model"]:
                continue
            about = cell.get("family") == finding.get("family") and cell.get("kind") in ("route", "lifecycle") if not finding.get("parameter") else cell["parameter"] == finding["parameter"]
            if about and not any(n.get("check") == "declared_vs_observed" and n["message"] == finding["message"] for n in cell["notes"]):
                cell["notes"] = [*cell["notes"], {"check": "declared_vs_observed", "severity": "note", "message": finding["message"], "path": None,
                                                  "provenance": "declared", "rule": finding["declared"]}]


def _finding(target: str, model: str, family: str, declared: str, observed: str, message: str, parameter: str | None = None) -> dict:
    out = {"target": target, "model": model, "family": family, "declared": declared, "observed": observed, "message": message}
    if parameter:
        out["parameter"] = parameter
    return out
