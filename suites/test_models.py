"""GET /models (the Models API the page says to fetch model IDs from), per target: the list's shape,
judged on the discovery answer itself (cassettes/<target>/models.yaml), so it costs no extra request."""

import pytest


@pytest.mark.route("models")
@pytest.mark.per_target
def test_model_list(conformance):
    conformance.check_model_list()
