"""anyint-conformance: contract tests and a per-model support matrix for AnyInt's OpenAI-compatible gateway."""

__version__ = "0.1.0"
