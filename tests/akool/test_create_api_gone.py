"""v3 create switched off at the fake AKOOL: each "gone" answer is detected, no ordinary one is."""

from __future__ import annotations

import pytest
from aiohttp import web

from bot.akool import (
    AkoolAPIError,
    AkoolClient,
    AkoolCreateApiGone,
    AkoolError,
    AkoolUncertainCreateError,
    SourcePromptRequest,
)
from bot.secret import Secret
from tests.fakes.akool import ENDPOINTS, FakeAkool, Fault, FaultKind, V3Off


@pytest.mark.parametrize(
    ("shape", "http_status", "code"),
    [(V3Off.HTTP_404, 404, None), (V3Off.HTTP_410, 410, 410), (V3Off.MESSAGE, 200, 1003)],
    ids=["http-404", "http-410", "deprecated-message"],
)
async def test_each_gone_shape_is_detected(akool, fake_akool: FakeAkool, shape, http_status, code):
    fake_akool.switch_off_v3(shape)

    with pytest.raises(AkoolCreateApiGone) as caught:
        await akool.create_image("a fox", "16:9")

    assert caught.value.http_status == http_status
    assert caught.value.code == code
    assert not caught.value.retryable
    assert caught.value.operator_facing
    assert "retired" in caught.value.user_message
    assert fake_akool.calls["createbyprompt"] == 1  # not resent
    assert fake_akool.jobs == {}  # nothing made and nothing charged: v4 may take the job
    assert fake_akool.balance == 1000.0


@pytest.mark.parametrize(
    ("code", "msg"),
    [
        (1003, "This API has been deprecated. Please use the v4 API instead."),
        (1010, "The interface is no longer available"),
        (1009, "this interface is discontinued"),
        (9999, "please use createBySourcePrompt"),
        (404, "Not Found"),
        (410, "Gone"),
    ],
)
async def test_gone_messages_and_codes_are_detected(akool, fake_akool: FakeAkool, code, msg):
    fake_akool.switch_off_v3(V3Off.MESSAGE, code=code, msg=msg)

    with pytest.raises(AkoolCreateApiGone) as caught:
        await akool.create_image("a fox")

    assert caught.value.msg == msg
    assert fake_akool.calls["createbyprompt"] == 1


@pytest.mark.parametrize(
    ("status", "text", "gone"),
    [
        (400, "This endpoint has been deprecated, use the v4 API", True),
        (403, "<html><body>API no longer available</body></html>", True),
        (400, "Bad Request", False),
        (503, "<html><body>Service temporarily unavailable</body></html>", False),
    ],
)
async def test_a_page_that_is_not_an_envelope_is_read_for_the_words(
    serve, http, status, text, gone
):
    # A gateway in front of a retired endpoint may answer with its own page, not AKOOL's JSON.
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, text=text)

    app = web.Application()
    app.router.add_post(ENDPOINTS["createbyprompt"][1], handler)
    client = AkoolClient(http, Secret("k"), await serve(app), attempts=1)

    with pytest.raises(AkoolError) as caught:
        await client.create_image("a fox")

    assert isinstance(caught.value, AkoolCreateApiGone) is gone
    assert caught.value.http_status == status


async def test_v4_still_works_when_v3_is_off(akool: AkoolClient, fake_akool: FakeAkool):
    fake_akool.switch_off_v3(V3Off.HTTP_410)

    batch = await akool.create_from_source_prompt(SourcePromptRequest("a fox", batch_quantity=4))

    assert len(batch.ids) == 4
    assert fake_akool.balance == 1000.0 - 4


async def test_a_bad_prompt_is_not_gone(akool: AkoolClient, fake_akool: FakeAkool):
    with pytest.raises(AkoolAPIError) as caught:
        await akool.create_image("   ")

    assert type(caught.value) is AkoolAPIError
    assert caught.value.code == 1003


async def test_a_bad_scale_is_not_gone(akool: AkoolClient, fake_akool: FakeAkool):
    with pytest.raises(AkoolAPIError) as caught:
        await akool.create_image("a fox", scale="Original")  # v4 only

    assert type(caught.value) is AkoolAPIError


async def test_no_credits_is_not_gone(akool: AkoolClient, fake_akool: FakeAkool):
    fake_akool.balance = 1

    with pytest.raises(AkoolAPIError) as caught:
        await akool.create_image("a fox")

    assert type(caught.value) is AkoolAPIError
    assert caught.value.code == 1104


@pytest.mark.parametrize(
    "fault",
    [
        Fault(FaultKind.CODE, code=1108, msg="image generate error, please try again later"),
        Fault(FaultKind.CODE, code=1006, msg="Insufficient quota balance"),
        Fault(FaultKind.CODE, code=1101, msg="Invalid authorization or token expired"),
        Fault(FaultKind.CODE, code=1008, msg="Content does not exist", http_status=404),
        Fault(FaultKind.CODE, code=1108, msg="interface temporarily unavailable", http_status=503),
    ],
    ids=["1108", "1006", "1101", "1008-with-404", "unavailable-for-now"],
)
async def test_ordinary_codes_are_not_gone(akool, fake_akool: FakeAkool, fault: Fault):
    fake_akool.inject(fault, times=5)

    with pytest.raises(AkoolError) as caught:
        await akool.create_image("a fox")

    assert not isinstance(caught.value, AkoolCreateApiGone)
    assert caught.value.code == fault.code


@pytest.mark.parametrize("kind", [FaultKind.HTTP_500, FaultKind.NOT_JSON, FaultKind.TIMEOUT])
async def test_an_outage_is_not_gone(akool, fake_akool: FakeAkool, kind: FaultKind):
    fake_akool.inject(Fault(kind))

    with pytest.raises(AkoolUncertainCreateError):
        await akool.create_image("a fox")


async def test_throttling_to_the_end_is_not_gone(akool, fake_akool: FakeAkool):
    fake_akool.inject(FaultKind.HTTP_429, times=5)

    with pytest.raises(AkoolError) as caught:
        await akool.create_image("a fox")

    assert not isinstance(caught.value, AkoolCreateApiGone)
    assert fake_akool.calls["createbyprompt"] == 3


async def test_an_error_quoting_the_prompt_is_not_gone(akool, fake_akool: FakeAkool):
    prompt = "a deprecated robot; this API is no longer available"
    fake_akool.inject(Fault(FaultKind.CODE, code=1003, msg=f"sensitive words in: {prompt}"))

    with pytest.raises(AkoolAPIError) as caught:
        await akool.create_image(prompt)

    assert type(caught.value) is AkoolAPIError


async def test_a_button_answering_404_is_not_create_gone(akool, fake_akool: FakeAkool):
    # Only v3 create is watched for retirement; a press keeps its own error.
    parent = fake_akool.add_job()
    fake_akool.inject(Fault(FaultKind.CODE, code=404, msg="Not Found", http_status=404))

    with pytest.raises(AkoolAPIError) as caught:
        await akool.press_button(parent.id, "U1")

    assert type(caught.value) is AkoolAPIError
