"""POST /embeddings: the route per model, then its documented optional parameters one at a time."""

import pytest

from anyint_conformance.cells import CellSpec
from anyint_conformance.checks import Expect
from anyint_conformance.suite import operation, overlay, parameter_cell

EMBEDDINGS = operation("/embeddings")
PROBE = {"input": "AnyInt routes one application through multiple model families."}
EXPECT = Expect(response_schema="embeddings.response", extra=("one_vector_per_input",))

PARAMETERS = {
    "encoding_format": ({**PROBE, "encoding_format": "base64"}, "base64_encoding"),
    "dimensions": ({**PROBE, "dimensions": 8}, "dimensions_honoured"),
    "array input": ({"input": ["Hello there.", "General Kenobi."]}, None),  # one vector per input, in order
    "user": ({**PROBE, "user": "user_123"}, None),
}


@pytest.mark.route("embeddings")
@pytest.mark.generates
def test_embeddings(conformance):
    conformance.check(CellSpec(operation=EMBEDDINGS, probe=PROBE, overlay=overlay("embeddings.request"), expect=EXPECT))


@pytest.mark.route("embeddings")
@pytest.mark.parametrize("parameter", list(PARAMETERS))
def test_embeddings_parameter(conformance, parameter):
    probe, effect = PARAMETERS[parameter]
    conformance.check(parameter_cell(EMBEDDINGS, probe, parameter, EXPECT, effect))
