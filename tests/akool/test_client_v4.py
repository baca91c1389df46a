"""The real AKOOL client against the fake AKOOL on loopback: v4 ``createBySourcePrompt``.

Every field on the wire, both answer shapes, per-image polling through ``infobymodelid``, 1 credit
per image, one encrypted callback per image, AKOOL-style refusals of bad fields, and the create
rules (never resent once it may have reached AKOOL) that v3 creates follow.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.akool import (
    AkoolAPIError,
    AkoolClient,
    AkoolResponseError,
    AkoolUncertainCreateError,
    ImageStatus,
    SourcePromptRequest,
)
from bot.secret import Secret
from bot.webhook import WebhookVerifier
from tests.fakes.akool import (
    CREDITS_PER_V4_IMAGE,
    ENDPOINTS,
    V4_IMAGE_MODEL,
    V4_TEXT_MODEL,
    FakeAkool,
    Fault,
    FaultKind,
    Timeline,
)

SOURCE = "https://cdn.example/source.png"


async def test_every_field_reaches_akool_in_its_spelling(akool: AkoolClient, fake_akool):
    request = SourcePromptRequest(
        "a red fox",
        source_images=(SOURCE,),
        scale="Original",
        resolution="1080p",
        batch_quantity=2,
        similar=0.8,
        negative_prompt="text, watermark",
        webhook_url="https://bot.example/akool/webhook",
        model_name=V4_IMAGE_MODEL,
    )

    await akool.create_from_source_prompt(request)

    (sent,) = fake_akool.requests_to("createBySourcePrompt")
    assert sent.method == "POST"
    assert sent.headers["x-api-key"] == fake_akool.api_key
    assert sent.body == {
        "prompt": "a red fox",
        "source_images": [SOURCE],
        "scale": "Original",
        "resolution": "1080p",
        "batch_quantity": 2,
        "similar": 0.8,
        "negative_prompt": "text, watermark",
        "webhookurl": "https://bot.example/akool/webhook",
        "model_name": V4_IMAGE_MODEL,
    }
    made = list(fake_akool.jobs.values())
    assert [j.kind for j in made] == ["image", "image"]
    assert all(j.source_image == SOURCE and j.scale == "Original" for j in made)
    assert all(j.resolution == "1080p" and j.similar == 0.8 for j in made)
    assert all(j.negative_prompt == "text, watermark" for j in made)
    assert all(j.webhook_url == "https://bot.example/akool/webhook" for j in made)


async def test_one_image_is_answered_as_one_object_and_read(akool: AkoolClient, fake_akool):
    batch = await akool.create_from_source_prompt(SourcePromptRequest("a fox"))

    (image,) = batch.images
    assert len(image.id) == 24
    assert image.id in fake_akool.jobs
    assert image.credits == CREDITS_PER_V4_IMAGE
    assert image.model_name == V4_TEXT_MODEL
    assert image.api_from == 4
    assert image.prompt == "a fox"


async def test_one_image_answered_as_an_array_is_read_too(akool: AkoolClient, fake_akool):
    fake_akool.v4_single_as_array = True

    batch = await akool.create_from_source_prompt(SourcePromptRequest("a fox"))

    assert batch.ids == tuple(fake_akool.jobs)
    assert len(batch.ids) == 1


@pytest.mark.parametrize("count", [2, 3, 4])
async def test_a_batch_is_an_array_with_one_id_per_image(akool, fake_akool, count: int):
    batch = await akool.create_from_source_prompt(
        SourcePromptRequest("a fox", batch_quantity=count)
    )

    assert len(set(batch.ids)) == count
    assert batch.ids == tuple(fake_akool.jobs)
    assert all(fake_akool.jobs[i].batch == list(batch.ids) for i in batch.ids)


async def test_each_image_is_polled_on_its_own(akool: AkoolClient, fake_akool: FakeAkool):
    fake_akool.next_timelines.extend(
        [Timeline(hold=True), Timeline(hold=True), Timeline(hold=True)]
    )
    batch = await akool.create_from_source_prompt(SourcePromptRequest("a fox", batch_quantity=3))
    first, second, third = batch.ids

    fake_akool.finish(second)
    fake_akool.finish(third, ImageStatus.FAILED)
    results = [await akool.get_result(image_id) for image_id in batch.ids]

    assert [r.id for r in results] == [first, second, third]
    assert [r.status for r in results] == [
        ImageStatus.PROCESSING,
        ImageStatus.COMPLETED,
        ImageStatus.FAILED,
    ]
    assert results[0].image_url is None
    assert results[1].image_url == fake_akool.image_url(second)
    assert results[2].image_url is None
    # A v4 image is one image: no candidates and no U/V buttons.
    assert results[1].upscaled_urls == ()
    assert results[1].buttons == ()
    assert all(r.api_from == 4 and r.model_name == V4_TEXT_MODEL for r in results)
    polled = [r.query for r in fake_akool.requests_to("infobymodelid")]
    assert polled == [{"image_model_id": image_id} for image_id in batch.ids]


async def test_a_finished_image_downloads_as_its_own_png(akool, fake_akool, http):
    batch = await akool.create_from_source_prompt(SourcePromptRequest("fox", batch_quantity=2))
    results = [await akool.get_result(image_id) for image_id in batch.ids]

    downloads = []
    for result in results:
        assert result.image_url is not None
        async with http.get(result.image_url) as response:
            downloads.append(await response.read())

    assert downloads == [fake_akool.png(image_id) for image_id in batch.ids]
    assert downloads[0] != downloads[1]


@pytest.mark.parametrize("count", [1, 4])
async def test_each_image_costs_one_credit(akool: AkoolClient, fake_akool, count: int):
    fake_akool.balance = 10

    batch = await akool.create_from_source_prompt(
        SourcePromptRequest("fox", batch_quantity=count, resolution="4k")
    )

    assert fake_akool.balance == 10 - count
    assert batch.credits == count
    assert [image.credits for image in batch.images] == [1] * count
    assert (await akool.get_credit()).balance == 10 - count


async def test_a_batch_the_balance_cannot_pay_for_starts_nothing(akool, fake_akool):
    fake_akool.balance = 3

    with pytest.raises(AkoolAPIError) as caught:
        await akool.create_from_source_prompt(SourcePromptRequest("fox", batch_quantity=4))

    assert caught.value.code == 1104
    assert caught.value.operator_facing
    assert fake_akool.jobs == {}
    assert fake_akool.balance == 3
    assert fake_akool.calls["createBySourcePrompt"] == 1


async def test_each_image_calls_back_encrypted_to_webhookurl(akool, fake_akool, serve):
    verifier = WebhookVerifier(Secret(fake_akool.client_id), Secret(fake_akool.api_key), max_age=60)
    events: asyncio.Queue[Any] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        await events.put(verifier.open(await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/akool/webhook", receive)
    hook = await serve(app) + "/akool/webhook"

    batch = await akool.create_from_source_prompt(
        SourcePromptRequest("fox", batch_quantity=3, webhook_url=hook)
    )
    async with asyncio.timeout(5):
        opened = [await events.get() for _ in batch.ids]

    assert sorted(e.job_id for e in opened) == sorted(batch.ids)
    assert all(e.status is ImageStatus.COMPLETED and e.kind == "image" for e in opened)
    assert {e.url for e in opened} == {fake_akool.image_url(i) for i in batch.ids}


async def test_v4_reads_only_lowercase_webhookurl(http, fake_akool: FakeAkool, serve):
    # The v3 spelling on the v4 endpoint: the fake, like the docs, knows only webhookurl.
    called = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        called.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    hook = await serve(app) + "/hook"

    body = await _post_v4(http, fake_akool, {"prompt": "fox", "webhookUrl": hook})

    assert body["code"] == 1000
    assert fake_akool.jobs[body["data"]["_id"]].webhook_url is None
    assert not called.is_set()
    assert fake_akool.webhooks_sent == []


@pytest.mark.parametrize(
    ("fields", "msg"),
    [
        ({"prompt": ""}, "prompt cannot be empty"),
        ({"prompt": None}, "prompt cannot be empty"),  # None: the field is left out
        ({"scale": "5:1"}, "validate error: scale"),
        ({"scale": "Original"}, "validate error: scale"),
        ({"resolution": "8k"}, "validate error: resolution"),
        ({"batch_quantity": 0}, "batch_quantity"),
        ({"batch_quantity": 5}, "batch_quantity"),
        ({"batch_quantity": "2"}, "batch_quantity"),
        ({"source_images": [SOURCE], "similar": 1.5}, "similar"),
        ({"source_images": [SOURCE], "similar": "high"}, "similar"),
        ({"source_images": SOURCE}, "source_images"),
        ({"negative_prompt": 3}, "negative_prompt"),
        ({"webhookurl": 3}, "webhookurl"),
        ({"model_name": "someone/else"}, "model_name"),
    ],
)
async def test_the_fake_refuses_bad_fields_as_akool_does(http, fake_akool, fields, msg):
    sent = {k: v for k, v in {"prompt": "fox", **fields}.items() if v is not None}

    body = await _post_v4(http, fake_akool, sent)

    assert body["code"] == 1003
    assert msg in body["msg"]
    assert fake_akool.jobs == {}
    assert fake_akool.balance == 1000.0


async def test_a_refused_field_is_an_api_error_through_the_client(akool, fake_akool):
    # The client checks what it can; the model list is AKOOL's to know.
    with pytest.raises(AkoolAPIError) as caught:
        await akool.create_from_source_prompt(SourcePromptRequest("fox", model_name="x/y"))

    assert caught.value.code == 1003
    assert not caught.value.retryable
    assert fake_akool.calls["createBySourcePrompt"] == 1


async def test_a_v4_image_offers_no_buttons(akool: AkoolClient, fake_akool: FakeAkool):
    batch = await akool.create_from_source_prompt(SourcePromptRequest("fox"))

    with pytest.raises(AkoolAPIError) as caught:
        await akool.press_button(batch.ids[0], "V1")

    assert caught.value.code == 1003


@pytest.mark.parametrize(
    "kind", [FaultKind.HTTP_500, FaultKind.TIMEOUT, FaultKind.NOT_JSON, FaultKind.RESET]
)
async def test_v4_create_is_not_resent_once_it_may_have_reached_akool(akool, fake_akool, kind):
    fake_akool.inject(Fault(kind, after=True))

    with pytest.raises(AkoolUncertainCreateError):
        await akool.create_from_source_prompt(SourcePromptRequest("fox", batch_quantity=4))

    assert fake_akool.calls["createBySourcePrompt"] == 1
    assert len(fake_akool.jobs) == 4  # the fake made and charged them: a resend pays twice
    assert fake_akool.balance == 1000.0 - 4


async def test_v4_create_is_resent_when_akool_throttled_it(akool, fake_akool):
    fake_akool.inject(FaultKind.HTTP_429, times=2)

    batch = await akool.create_from_source_prompt(SourcePromptRequest("fox", batch_quantity=2))

    assert fake_akool.calls["createBySourcePrompt"] == 3
    assert batch.ids == tuple(fake_akool.jobs)


@pytest.mark.parametrize(
    ("data", "ids"),
    [
        ([{"_id": "a"}, {"no": "id"}, {"_id": "b"}], ("a", "b")),
        ([{"_id": "a"}, {"_id": "a"}], ("a",)),
        ([{"_id": "a", "surprise": {"x": 1}}, "junk"], ("a",)),
    ],
)
async def test_an_odd_answer_keeps_every_image_it_can(serve, http, data, ids):
    # AKOOL charged for each image it started: one unreadable element must not lose the rest.
    client = await _client_answering(serve, http, {"code": 1000, "msg": "OK", "data": data})

    batch = await client.create_from_source_prompt(SourcePromptRequest("fox", batch_quantity=3))

    assert batch.ids == ids


@pytest.mark.parametrize("data", [None, [], "x", [{"no": "id"}], 7])
async def test_an_answer_without_any_image_is_a_response_error(serve, http, data):
    client = await _client_answering(serve, http, {"code": 1000, "msg": "OK", "data": data})

    with pytest.raises(AkoolResponseError):
        await client.create_from_source_prompt(SourcePromptRequest("fox"))


async def _post_v4(
    http: aiohttp.ClientSession, fake: FakeAkool, body: dict[str, Any]
) -> dict[str, Any]:
    """A raw v4 create, past the client's own checks, to see what the fake itself refuses."""
    async with http.post(
        fake.base_url + ENDPOINTS["createBySourcePrompt"][1],
        json=body,
        headers={"x-api-key": fake.api_key},
    ) as response:
        assert response.status == 200
        answer: dict[str, Any] = await response.json()
        return answer


async def _client_answering(serve, http, envelope: dict[str, Any]) -> AkoolClient:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(envelope)

    app = web.Application()
    app.router.add_post(ENDPOINTS["createBySourcePrompt"][1], handler)
    return AkoolClient(http, Secret("k"), await serve(app), attempts=1)
