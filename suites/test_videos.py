"""Videos per model: create with the smallest settings, poll to a terminal state, fetch the content, list,
delete; each step agrees with what came before (the seconds and size asked, the id created)."""

import pytest

from anyint_conformance.suite import operation

ASKED = {"prompt": "A red ball.", "seconds": "4", "size": "720x1280"}


@pytest.mark.route("videos")
def test_video_lifecycle(conformance):
    with conformance.lifecycle() as life:
        video = life.step("create", operation("/videos"), body={"model": conformance.model, **ASKED}, agrees={"seconds": "4", "size": "720x1280"})
        video_id = (video or {}).get("id")
        life.cleanup("delete", operation("/videos/{video_id}", "DELETE"), {"video_id": video_id})
        life.poll("poll to terminal state", operation("/videos/{video_id}", "GET"), {"video_id": video_id}, agrees={"id": video_id})
        life.step("content", operation("/videos/{video_id}/content", "GET"), {"video_id": video_id})
        life.step("list", operation("/videos", "GET"), lists=video_id)
        life.step("delete", operation("/videos/{video_id}", "DELETE"), {"video_id": video_id})
