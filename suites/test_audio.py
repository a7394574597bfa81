"""Audio: speech returns audio bytes of the asked format; transcriptions and translations take a real
spoken clip (suites/media/hello.wav, 0.7 s made with espeak-ng) as multipart and answer in the asked format."""

from pathlib import Path

import pytest

from anyint_conformance.suite import operation, parameter_cell, route_cell

SPEECH = operation("/audio/speech")
CLIP = {"file": ("hello.wav", (Path(__file__).parent / "media" / "hello.wav").read_bytes(), "audio/wav")}
SPEECH_PROBE = {"input": "Hello there.", "voice": "alloy"}


@pytest.mark.route("audio")
def test_speech(conformance):
    conformance.check(route_cell(SPEECH, SPEECH_PROBE))


@pytest.mark.route("audio")
@pytest.mark.parametrize("parameter, value, effect", [("response_format", "wav", "audio_in_asked_format"), ("speed", 1.5, None)])
def test_speech_parameter(conformance, parameter, value, effect):
    conformance.check(parameter_cell(SPEECH, {**SPEECH_PROBE, parameter: value}, parameter, effect, control=SPEECH_PROBE if effect else None))


@pytest.mark.route("audio")
@pytest.mark.parametrize("path", ["/audio/transcriptions", "/audio/translations"], ids=["transcriptions", "translations"])
def test_transcription(conformance, path):
    conformance.check(route_cell(operation(path), {"response_format": "json"}, files=CLIP, pinned={"response_format": "json"}))


@pytest.mark.route("audio")
@pytest.mark.parametrize("path", ["/audio/transcriptions", "/audio/translations"], ids=["transcriptions", "translations"])
@pytest.mark.parametrize("response_format", ["text", "verbose_json"])
def test_transcription_format(conformance, path, response_format):
    probe = {"response_format": response_format}
    conformance.check(parameter_cell(operation(path), probe, f"response_format={response_format}", "transcript_in_asked_format", files=CLIP,
                                     control={"response_format": "json"}))
