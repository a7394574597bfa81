"""POST /images/generations: tiny requests (smallest size, one image); data[] carries url or b64_json as asked."""

import pytest

from anyint_conformance.cells import CellSpec
from anyint_conformance.checks import Expect
from anyint_conformance.suite import operation, overlay, parameter_cell

IMAGES = operation("/images/generations")
PROBE = {"prompt": "A red circle.", "size": "256x256", "n": 1}
EXPECT = Expect(response_schema="images.response", extra=("images_as_asked",))

PARAMETERS = {
    "size": ({**PROBE, "size": "512x512"}, None),
    "n": ({**PROBE, "n": 2}, "n_images"),
    "response_format": ({**PROBE, "response_format": "b64_json"}, None),  # images_as_asked checks b64_json
    "user": ({**PROBE, "user": "user_123"}, None),
}


@pytest.mark.route("images")
@pytest.mark.generates
def test_images(conformance):
    conformance.check(CellSpec(operation=IMAGES, probe=PROBE, overlay=overlay("images.request"), expect=EXPECT))


@pytest.mark.route("images")
@pytest.mark.parametrize("parameter", list(PARAMETERS))
def test_images_parameter(conformance, parameter):
    probe, effect = PARAMETERS[parameter]
    conformance.check(parameter_cell(IMAGES, probe, parameter, EXPECT, effect))
