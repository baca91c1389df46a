"""The real AKOOL client against the fake AKOOL: endpoints, errors, retry and no-retry rules."""

from __future__ import annotations

import asyncio
from unittest.mock import create_autospec

import aiohttp
import pytest
from aiohttp import web

from bot.akool import (
    AkoolAPIError,
    AkoolClient,
    AkoolError,
    AkoolTransportError,
    AkoolUncertainCreateError,
    ImageStatus,
)
from bot.budget import PriorityBudget, RequestKind
from bot.secret import Secret
from tests.fakes.akool import FakeAkool, Fault, FaultKind, Timeline


async def test_create_image_sends_prompt_scale_and_key(akool: AkoolClient, fake_akool: FakeAkool):
    job = await akool.create_image("a red fox", "16:9", source_image="https://x.test/s.png")

    assert len(job.id) == 24
    assert job.status is ImageStatus.QUEUED or job.status is ImageStatus.COMPLETED
    assert job.credits == 2
    (request,) = fake_akool.requests_to("createbyprompt")
    assert request.headers["x-api-key"] == fake_akool.api_key
    assert "Authorization" not in request.headers
    assert request.body == {
        "prompt": "a red fox",
        "scale": "16:9",
        "source_image": "https://x.test/s.png",
    }


async def test_create_image_passes_webhook_url_in_v3_casing(akool: AkoolClient, fake_akool):
    await akool.create_image("a fox", webhook_url="https://bot.example/akool/webhook")

    (request,) = fake_akool.requests_to("createbyprompt")
    assert request.body["webhookUrl"] == "https://bot.example/akool/webhook"


async def test_get_result_follows_the_timeline(akool: AkoolClient, fake_akool: FakeAkool):
    fake_akool.timeline = Timeline(hold=True)
    created = await akool.create_image("a fox")

    processing = await akool.get_result(created.id)
    fake_akool.finish(created.id)
    done = await akool.get_result(created.id)

    assert processing.status is ImageStatus.PROCESSING
    assert processing.image_url is None
    assert done.status is ImageStatus.COMPLETED
    assert done.image_url == fake_akool.image_url(created.id)
    assert done.upscaled_urls == tuple(fake_akool.image_url(created.id, n) for n in range(1, 5))
    assert done.buttons == ("U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4")
    assert done.used_buttons == ()
    assert fake_akool.requests_to("infobymodelid")[0].query == {"image_model_id": created.id}


async def test_press_button_starts_a_child_and_uses_the_button(akool: AkoolClient, fake_akool):
    parent = fake_akool.add_job()

    child = await akool.press_button(parent.id, "U2")
    after = await akool.get_result(parent.id)

    assert child.id != parent.id
    assert child.parent_id == parent.id
    assert child.button == "U2"
    assert "U2" not in after.buttons
    assert after.used_buttons == ("U2",)
    (request,) = fake_akool.requests_to("createbybutton")
    assert request.body == {"_id": parent.id, "button": "U2"}


async def test_pressing_a_used_button_is_an_api_error_and_not_retried(akool, fake_akool):
    parent = fake_akool.add_job()
    await akool.press_button(parent.id, "V3")

    with pytest.raises(AkoolAPIError) as caught:
        await akool.press_button(parent.id, "V3")

    assert caught.value.code == 1011
    assert not caught.value.retryable
    assert "already been used" in caught.value.user_message
    assert fake_akool.calls["createbybutton"] == 2


async def test_get_credit(akool: AkoolClient, fake_akool: FakeAkool):
    fake_akool.balance = 123.5

    credit = await akool.get_credit()

    assert credit.balance == 123.5


async def test_unknown_job_is_code_1008(akool: AkoolClient, fake_akool: FakeAkool):
    with pytest.raises(AkoolAPIError) as caught:
        await akool.get_result("0" * 24)

    assert caught.value.code == 1008
    assert caught.value.http_status == 200
    assert fake_akool.calls["infobymodelid"] == 1  # a definite answer is not retried


async def test_wrong_api_key_is_1101_and_never_in_the_error(http, fake_akool: FakeAkool):
    client = AkoolClient(http, Secret("wrong-key-xyz"), fake_akool.base_url, attempts=1)

    with pytest.raises(AkoolAPIError) as caught:
        await client.get_credit()

    assert caught.value.code == 1101
    assert caught.value.operator_facing
    assert "wrong-key-xyz" not in repr(caught.value) + str(caught.value)
    assert "wrong-key-xyz" not in repr(client)


async def test_missing_api_key_is_1102(http, fake_akool: FakeAkool):
    client = AkoolClient(http, Secret(""), fake_akool.base_url, attempts=1)

    with pytest.raises(AkoolAPIError) as caught:
        await client.get_credit()

    assert caught.value.code == 1102


@pytest.mark.parametrize(
    "kind",
    [
        FaultKind.HTTP_500,
        FaultKind.HTTP_429,
        FaultKind.TIMEOUT,
        FaultKind.NOT_JSON,
        FaultKind.RESET,
    ],
)
async def test_reads_retry_transport_failures(akool: AkoolClient, fake_akool, kind: FaultKind):
    job = fake_akool.add_job()
    fake_akool.inject(kind, times=2)

    result = await akool.get_result(job.id)

    assert result.status is ImageStatus.COMPLETED
    assert fake_akool.calls["infobymodelid"] == 3


@pytest.mark.parametrize("code", [1005, 1108])
async def test_reads_retry_retryable_codes(akool: AkoolClient, fake_akool, code: int):
    fake_akool.inject(FaultKind.CODE, code=code, times=2)

    credit = await akool.get_credit()

    assert credit.balance == fake_akool.balance
    assert fake_akool.calls["quota"] == 3


async def test_reads_give_up_after_the_bounded_attempts(akool: AkoolClient, fake_akool):
    fake_akool.inject(FaultKind.HTTP_500, times=10)

    with pytest.raises(AkoolTransportError) as caught:
        await akool.get_credit()

    assert caught.value.retryable
    assert caught.value.http_status == 500
    assert fake_akool.calls["quota"] == 3


@pytest.mark.parametrize(
    ("code", "retryable"),
    [(1003, False), (1006, False), (1104, False), (1200, False), (1005, True), (1108, True)],
)
async def test_api_error_carries_code_msg_and_retryability(akool, fake_akool, code, retryable):
    fake_akool.inject(FaultKind.CODE, code=code, times=5)

    with pytest.raises(AkoolAPIError) as caught:
        await akool.get_credit()

    assert caught.value.code == code
    assert caught.value.msg == "injected fault"
    assert caught.value.retryable is retryable
    assert fake_akool.calls["quota"] == (3 if retryable else 1)


@pytest.mark.parametrize(
    "kind", [FaultKind.HTTP_500, FaultKind.TIMEOUT, FaultKind.NOT_JSON, FaultKind.RESET]
)
async def test_create_is_not_retried_once_it_may_have_reached_akool(akool, fake_akool, kind):
    fake_akool.inject(Fault(kind, after=True))

    with pytest.raises(AkoolUncertainCreateError) as caught:
        await akool.create_image("a fox")

    assert fake_akool.calls["createbyprompt"] == 1
    assert len(fake_akool.jobs) == 1  # the fake did create it: a retry would have paid twice
    assert not caught.value.retryable
    assert "may or may not have been created" in caught.value.user_message


async def test_press_is_not_retried_after_a_timeout(akool, fake_akool):
    parent = fake_akool.add_job()
    fake_akool.inject(Fault(FaultKind.TIMEOUT, after=True))

    with pytest.raises(AkoolUncertainCreateError):
        await akool.press_button(parent.id, "U1")

    assert fake_akool.calls["createbybutton"] == 1


@pytest.mark.parametrize(
    "fault", [Fault(FaultKind.HTTP_429), Fault(FaultKind.CODE, code=1005)], ids=["429", "1005"]
)
async def test_create_retries_when_akool_throttled_it(akool, fake_akool, fault):
    fake_akool.inject(fault, times=2)

    job = await akool.create_image("a fox")

    assert fake_akool.calls["createbyprompt"] == 3
    assert list(fake_akool.jobs) == [job.id]


async def test_create_gives_a_code_error_without_retry(akool, fake_akool):
    with pytest.raises(AkoolAPIError) as caught:
        await akool.create_image("a fox", scale="5:1")

    assert caught.value.code == 1003
    assert fake_akool.calls["createbyprompt"] == 1


async def test_create_retries_when_the_connection_never_opened(http, fake_akool: FakeAkool):
    # Nothing listens on the fake's port once it is closed: the request cannot have been seen.
    port = fake_akool.port
    await fake_akool.close()
    client = AkoolClient(
        http, Secret("k"), f"http://127.0.0.1:{port}", attempts=2, backoff_initial=0.01
    )

    with pytest.raises(AkoolTransportError) as caught:
        await client.create_image("a fox")

    assert not isinstance(caught.value, AkoolUncertainCreateError)
    assert caught.value.retryable
    assert isinstance(caught.value, AkoolError)


async def test_success_is_the_code_whatever_the_http_status(serve, http):
    # A proxy that rewrites status codes must not turn AKOOL's answer into a failure.
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"code": 1000, "msg": "OK", "data": {"credit": 7}}, status=500)

    app = web.Application()
    app.router.add_get("/api/open/v3/faceswap/quota/info", handler)
    client = AkoolClient(http, Secret("k"), await serve(app))

    assert (await client.get_credit()).balance == 7


async def test_bearer_token_from_get_token_is_accepted_by_the_fake(http, fake_akool: FakeAkool):
    # The client uses x-api-key; the fake also speaks the legacy token flow, as AKOOL does.
    async with http.post(
        f"{fake_akool.base_url}/api/open/v3/getToken",
        json={"clientId": fake_akool.client_id, "clientSecret": fake_akool.api_key},
    ) as response:
        token = (await response.json())["token"]
    async with http.get(
        f"{fake_akool.base_url}/api/open/v3/faceswap/quota/info",
        headers={"Authorization": f"Bearer {token}", "x-api-key": "ignored"},
    ) as response:
        body = await response.json()

    assert body["code"] == 1000


async def test_result_image_is_served_as_png(akool, fake_akool, http: aiohttp.ClientSession):
    job = fake_akool.add_job()
    result = await akool.get_result(job.id)
    assert result.image_url is not None

    async with http.get(result.image_url) as response:
        data = await response.read()

    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert data == fake_akool.png(job.id)


async def test_a_large_answer_is_read_whole(akool: AkoolClient, fake_akool: FakeAkool):
    # Far larger than one network read: the body must be read to its end, not to the first chunk.
    job = fake_akool.add_job(prompt="fox " * 100_000)

    result = await akool.get_result(job.id)

    assert result.prompt == "fox " * 100_000


async def test_the_request_budget_spreads_requests_out(http, fake_akool: FakeAkool):
    from bot.budget import request_budget

    client = AkoolClient(
        http, Secret(fake_akool.api_key), fake_akool.base_url, budget=request_budget(20)
    )

    await asyncio.gather(*(client.get_credit() for _ in range(50)))

    times = sorted(r.at for r in fake_akool.requests_to("quota"))
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert len(times) == 50
    assert busiest <= 25  # 20 a second, plus the bucket's burst of 4
    assert times[-1] - times[0] >= 2.0  # 50 requests at 20 a second


@pytest.mark.parametrize(
    ("call", "kind"),
    [
        (lambda c, job: c.create_image("a fox"), RequestKind.URGENT),
        (lambda c, job: c.press_button(job, "U1"), RequestKind.URGENT),
        (lambda c, job: c.get_result(job), RequestKind.POLL),
        (lambda c, job: c.get_result(job, kind=RequestKind.URGENT), RequestKind.URGENT),
        (lambda c, job: c.get_credit(), RequestKind.LOOKUP),
    ],
)
async def test_each_request_says_what_it_is_for(http, fake_akool: FakeAkool, call, kind):
    budget = create_autospec(PriorityBudget, instance=True)
    client = AkoolClient(http, Secret(fake_akool.api_key), fake_akool.base_url, budget=budget)
    grid = fake_akool.add_job()

    await call(client, grid.id)

    budget.acquire.assert_awaited_once_with(kind)
