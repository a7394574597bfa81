"""Audio: speech returns audio bytes of the asked format; transcriptions and translations take a real
spoken clip (suites/media/hello.wav, 0.7 s made with espeak-ng) as multipart and answer in the asked format."""

from pathlib import Path

import pytest

from anyint_conformance.cells import CellSpec
from anyint_conformance.checks import Expect
from anyint_conformance.suite import operation, overlay, parameter_cell

SPEECH = operation("/audio/speech")
CLIP = {"file": ("hello.wav", (Path(__file__).parent / "media" / "hello.wav").read_bytes(), "audio/wav")}
SPEECH_PROBE = {"input": "Hello there.", "voice": "alloy"}
AUDIO = Expect(body="binary")

# response_format -> what the answer must be
TRANSCRIPT_FORMATS = {
    "json": Expect(response_schema="audio.transcription"),
    "text": Expect(body="text"),
    "verbose_json": Expect(response_schema="audio.transcription.verbose"),
}


@pytest.mark.route("audio")
@pytest.mark.generates
def test_speech(conformance):
    conformance.check(CellSpec(operation=SPEECH, probe=SPEECH_PROBE, overlay=overlay("audio.speech.request"), expect=AUDIO))


@pytest.mark.route("audio")
@pytest.mark.parametrize("parameter, value", [("response_format", "wav"), ("speed", 1.5)])
def test_speech_parameter(conformance, parameter, value):
    probe = {**SPEECH_PROBE, parameter: value}
    conformance.check(parameter_cell(SPEECH, probe, parameter, AUDIO))


@pytest.mark.route("audio")
@pytest.mark.generates
@pytest.mark.parametrize("path", ["/audio/transcriptions", "/audio/translations"], ids=["transcriptions", "translations"])
def test_transcription(conformance, path):
    op = operation(path)
    spec = CellSpec(operation=op, probe={"response_format": "json"}, files=CLIP, overlay=overlay(op["request"]),
                    pinned={"response_format": "json"}, expect=TRANSCRIPT_FORMATS["json"])
    conformance.check(spec)


@pytest.mark.route("audio")
@pytest.mark.parametrize("path", ["/audio/transcriptions", "/audio/translations"], ids=["transcriptions", "translations"])
@pytest.mark.parametrize("response_format", ["text", "verbose_json"])
def test_transcription_format(conformance, path, response_format):
    probe = {"response_format": response_format}
    conformance.check(parameter_cell(operation(path), probe, f"response_format={response_format}", TRANSCRIPT_FORMATS[response_format], files=CLIP))
