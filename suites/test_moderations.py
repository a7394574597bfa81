"""POST /moderations: results per input."""

import pytest

from anyint_conformance.suite import operation, route_cell


@pytest.mark.route("moderations")
def test_moderations(conformance):
    conformance.check(route_cell(operation("/moderations"), {"input": "Hello there."}))
