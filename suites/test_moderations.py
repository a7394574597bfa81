"""POST /moderations: results per input."""

import pytest

from anyint_conformance.cells import CellSpec
from anyint_conformance.checks import Expect
from anyint_conformance.suite import operation, overlay


@pytest.mark.route("moderations")
@pytest.mark.generates
def test_moderations(conformance):
    spec = CellSpec(operation=operation("/moderations"), probe={"input": "Hello there."}, overlay=overlay("moderations.request"),
                    expect=Expect(response_schema="moderations.response"))
    conformance.check(spec)
