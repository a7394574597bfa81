"""POST /images/generations: tiny requests (smallest size, one image); data[] carries url or b64_json. The
"when supported" parameters are observed against the probe without them."""

import pytest

from anyint_conformance.suite import operation, parameter_cell, route_cell

IMAGES = operation("/images/generations")
PROBE = {"prompt": "A red circle.", "size": "256x256", "n": 1}

PARAMETERS = {
    "size": ({**PROBE, "size": "512x512"}, None, None),  # a URL cannot show the size
    "n": ({**PROBE, "n": 2}, "n_images", PROBE),
    "response_format": ({**PROBE, "response_format": "b64_json"}, "images_in_asked_format", PROBE),
    "user": ({**PROBE, "user": "user_123"}, None, None),
}


@pytest.mark.route("images")
def test_images(conformance):
    conformance.check(route_cell(IMAGES, PROBE))


@pytest.mark.route("images")
@pytest.mark.parametrize("parameter", list(PARAMETERS))
def test_images_parameter(conformance, parameter):
    probe, effect, control = PARAMETERS[parameter]
    conformance.check(parameter_cell(IMAGES, probe, parameter, effect, control=control))
