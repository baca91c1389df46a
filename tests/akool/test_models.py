"""Parsing AKOOL's answers: tolerant of missing and extra fields, strict only about ``_id``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.akool import AkoolResponseError, Credit, ImageBatch, ImageJob, ImageStatus

# The completed example from AKOOL's "Get Image Result" page.
DOCS_COMPLETED = {
    "faceswap_quality": 2,
    "deduction_credit": 2,
    "buttons": ["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4"],
    "used_buttons": [],
    "upscaled_urls": [],
    "_id": "662a10df4197b3af58532e89",
    "create_time": 1714032863272,
    "uid": 378337,
    "type": 3,
    "image_status": 3,
    "image": "https://d.cloudfront.net/1714032892336-x.png",
}


def test_docs_example_parses():
    job = ImageJob.from_data(DOCS_COMPLETED)

    assert job.id == "662a10df4197b3af58532e89"
    assert job.status is ImageStatus.COMPLETED
    assert job.image_url == "https://d.cloudfront.net/1714032892336-x.png"
    assert job.buttons == ("U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4")
    assert job.credits == 2
    assert job.created_at == datetime(2024, 4, 25, 8, 14, 23, 272000, tzinfo=UTC)


def test_button_answer_parses_parent_and_button():
    job = ImageJob.from_data(
        {
            "_id": "6508292f16e5ba407d47d21b",
            "image_content_model_id": "6508288416e5ba407d47d13f",
            "op_button": "U2",
            "image_status": 1,
        }
    )

    assert job.parent_id == "6508288416e5ba407d47d13f"
    assert job.button == "U2"
    assert job.status is ImageStatus.QUEUED


@pytest.mark.parametrize(
    ("data", "field", "expected"),
    [
        ({"_id": "a"}, "status", ImageStatus.QUEUED),
        ({"_id": "a", "image_status": 9}, "status", ImageStatus.UNKNOWN),
        ({"_id": "a", "image_status": "2"}, "status", ImageStatus.PROCESSING),
        ({"_id": "a", "image_status": None}, "status", ImageStatus.UNKNOWN),
        ({"_id": "a", "buttons": None}, "buttons", ()),
        ({"_id": "a", "buttons": "U1"}, "buttons", ()),
        ({"_id": "a", "buttons": ["U1", 5, "", "V1"]}, "buttons", ("U1", "V1")),
        ({"_id": "a", "display_buttons": ["U1"]}, "buttons", ("U1",)),
        ({"_id": "a", "deduction_credit": "2"}, "credits", None),
        ({"_id": "a", "deduction_credit": 2.0}, "credits", 2),
        ({"_id": "a", "deduction_credit": True}, "credits", None),
        ({"_id": "a", "create_time": -5}, "created_at", None),
        ({"_id": "a", "create_time": 10**20}, "created_at", None),
        ({"_id": "a", "external_img": "https://e/x.png"}, "image_url", "https://e/x.png"),
        ({"_id": "a", "image": ""}, "image_url", None),
        ({"_id": "a", "unknown_new_field": {"x": 1}}, "id", "a"),
    ],
)
def test_tolerant_parsing(data, field, expected):
    assert getattr(ImageJob.from_data(data), field) == expected


@pytest.mark.parametrize("data", [None, [], "x", {"image_status": 3}, {"_id": ""}, {"_id": 5}])
def test_missing_id_is_a_response_error(data):
    with pytest.raises(AkoolResponseError, match=r"expected an object in data|has no _id"):
        ImageJob.from_data(data)


@pytest.mark.parametrize(
    ("data", "expected"), [({"credit": 5}, 5.0), ({"credit": 2.5, "extra": 1}, 2.5)]
)
def test_credit(data, expected):
    assert Credit.from_data(data).balance == expected


@pytest.mark.parametrize("data", [None, {}, {"credit": "5"}, {"credit": True}])
def test_credit_without_a_number_is_a_response_error(data):
    with pytest.raises(AkoolResponseError, match="credit answer has no numeric credit field"):
        Credit.from_data(data)


@pytest.mark.parametrize(
    ("status", "finished"),
    [
        (ImageStatus.QUEUED, False),
        (ImageStatus.PROCESSING, False),
        (ImageStatus.COMPLETED, True),
        (ImageStatus.FAILED, True),
        (ImageStatus.UNKNOWN, False),
    ],
)
def test_finished(status, finished):
    assert status.finished is finished


# The v4 createBySourcePrompt example from AKOOL's docs (reference section 1.2).
DOCS_V4 = {
    "_id": "6650a1b2c3d4e5f6a7b8c9d0",
    "uid": 378337,
    "team_id": "team_123456",
    "create_time": 1716859314633,
    "prompt": "A majestic mountain",
    "origin_prompt": "A majestic mountain",
    "source_image": "",
    "image_status": 1,
    "image_sub_status": 1,
    "deduction_credit": 1,
    "model_name": "wavespeed-ai/flux-krea-dev-lora",
    "provider": "wavespeed-ai",
    "type": 4,
    "from": 4,
    "sub_type": 40001,
    "file_name": "ImageGenerator_1716859314633.png",
}


def test_docs_v4_example_parses_as_a_batch_of_one():
    batch = ImageBatch.from_data(DOCS_V4, asked=1)

    (image,) = batch.images
    assert image.id == "6650a1b2c3d4e5f6a7b8c9d0"
    assert image.status is ImageStatus.QUEUED
    assert image.credits == 1
    assert image.model_name == "wavespeed-ai/flux-krea-dev-lora"
    assert image.api_from == 4
    assert image.source_image is None  # "" means text to image
    assert batch.credits == 1


def test_a_batch_array_keeps_order_and_sums_credits():
    data = [dict(DOCS_V4, _id=f"{n:024x}") for n in range(4)]

    batch = ImageBatch.from_data(data, asked=4)

    assert batch.ids == tuple(f"{n:024x}" for n in range(4))
    assert batch.credits == 4


def test_a_batch_credit_is_unknown_when_an_image_does_not_say():
    batch = ImageBatch.from_data([{"_id": "a", "deduction_credit": 1}, {"_id": "b"}], asked=2)

    assert batch.credits is None


def test_a_batch_of_other_size_than_asked_is_kept_and_logged(caplog):
    batch = ImageBatch.from_data([{"_id": "a"}, {"_id": "b"}], asked=4)

    assert batch.ids == ("a", "b")
    assert "started 2 image(s) where 4 were asked for" in caplog.text


def test_v3_answers_have_no_v4_fields():
    job = ImageJob.from_data(DOCS_COMPLETED)

    assert job.model_name is None
    assert job.api_from is None


V4_DONE = dict(DOCS_V4, image_status=3, image="https://d.cloudfront.net/x.png")


@pytest.mark.parametrize(
    ("data", "v4"),
    [
        (V4_DONE, True),
        # Either mark alone: the answer is undocumented for a v4 image, so neither is relied on.
        ({k: v for k, v in V4_DONE.items() if k != "model_name"}, True),
        ({k: v for k, v in V4_DONE.items() if k != "from"}, True),
        (dict(V4_DONE, buttons=[], used_buttons=[], upscaled_urls=[]), True),
        (DOCS_COMPLETED, False),
        # A v3 upscale (a single image, no buttons) and an answer with no mark at all: v3.
        ({"_id": "a", "image_status": 3, "image": "https://x/y.png", "from": 1}, False),
        ({"_id": "a", "image_status": 3}, False),
        # Whatever it says of itself, a job offering U/V buttons is a grid.
        (dict(V4_DONE, buttons=["U1", "V1"]), False),
        (dict(V4_DONE, upscaled_urls=["https://x/1.png"]), False),
    ],
)
def test_which_api_made_a_job(data, v4):
    assert ImageJob.from_data(data).made_by_v4 is v4
