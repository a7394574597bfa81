"""POST /embeddings: the route per model, then its documented optional parameters one at a time, each
observed against the probe without it."""

import pytest

from anyint_conformance.suite import operation, parameter_cell, route_cell

EMBEDDINGS = operation("/embeddings")
PROBE = {"input": "AnyInt routes one application through multiple model families."}

PARAMETERS = {
    "encoding_format": ({**PROBE, "encoding_format": "base64"}, "base64_encoding", PROBE),
    "dimensions": ({**PROBE, "dimensions": 8}, "dimensions_honoured", PROBE),
    "array input": ({"input": ["Hello there.", "General Kenobi."]}, "distinct_vectors", None),
    "user": ({**PROBE, "user": "user_123"}, None, None),
}


@pytest.mark.route("embeddings")
def test_embeddings(conformance):
    conformance.check(route_cell(EMBEDDINGS, PROBE))


@pytest.mark.route("embeddings")
@pytest.mark.parametrize("parameter", list(PARAMETERS))
def test_embeddings_parameter(conformance, parameter):
    probe, effect, control = PARAMETERS[parameter]
    conformance.check(parameter_cell(EMBEDDINGS, probe, parameter, effect, control=control))
