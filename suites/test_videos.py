"""Videos per model: create with the smallest settings, poll to a terminal state, fetch the content."""

import pytest

from anyint_conformance.checks import Expect
from anyint_conformance.suite import operation


@pytest.mark.route("videos")
@pytest.mark.requests(1, 2, polls=True)
def test_video_lifecycle(conformance):
    with conformance.lifecycle() as life:
        video = life.step("create", operation("/videos"), body={"model": conformance.model, "prompt": "A red ball.", "seconds": "4", "size": "720x1280"},
                          expect=Expect(response_schema="video"))
        video_id = (video or {}).get("id")
        life.poll("poll to terminal state", operation("/videos/{video_id}", "GET"), {"video_id": video_id}, expect=Expect(response_schema="video"))
        life.step("content", operation("/videos/{video_id}/content", "GET"), {"video_id": video_id}, expect=Expect(body="any"))
