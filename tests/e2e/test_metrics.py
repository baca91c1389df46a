"""``GET /metrics`` end to end: real jobs against the fakes, then the numbers checked against what
happened (parsed with prometheus_client's own text parser), and the bearer token."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Mapping

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.akool import ImageStatus
from bot.metrics import CONTENT_TYPE
from bot.secret import Secret
from tests.e2e.conftest import World
from tests.fakes.akool import Fault, FaultKind, Timeline

Labels = frozenset[tuple[str, str]]
Samples = dict[tuple[str, Labels], float]

FAST = Timeline(processing_after=0.05, finished_after=0.15)
AKOOL_ENDPOINTS = ("createbyprompt", "createbybutton", "infobymodelid", "quota")
KINDS = ("imagine", "track", "button")


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 when the series does not exist (a counter never incremented)."""
    return samples.get((f"akool_bot_{name}", frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(
        v for (n, ls), v in samples.items() if n == f"akool_bot_{name}" and wanted <= set(ls)
    )


async def scrape(world: World, headers: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{world.http_base}/metrics", headers=headers) as response,
    ):
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def metrics_once(
    world: World, ready: Callable[[Samples], bool], timeout: float = 5.0
) -> Samples:
    """Scrape until ``ready`` holds of the numbers (a post is recorded just after Discord has
    it), or fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        while True:
            status, _, text = await scrape(world)
            assert status == 200
            samples = parse(text)
            if ready(samples):
                return samples
            await asyncio.sleep(0.02)


async def test_the_numbers_match_what_happened(hooked: World):
    world = hooked
    akool = world.akool
    akool.timelines_by_prompt.update(
        {
            "held": Timeline(hold=True),
            "fine": FAST,
            "doomed": dataclasses.replace(FAST, outcome=ImageStatus.FAILED),
        }
    )
    async with world.running():
        # One job still at AKOOL: counted as unfinished, and the gateway is up.
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "held"}
        )
        await ix.wait_original_edit(lambda m: "job `" in m.content)
        (held,) = akool.jobs
        during = await metrics_once(world, lambda s: True)
        assert value(during, "jobs_unfinished", kind="imagine", status="queued") == 1
        assert total(during, "jobs_unfinished") == 1
        assert value(during, "gateway_connected") == 1
        assert value(during, "jobs_created_total", kind="imagine") == 1

        # AKOOL stumbles twice on the confirming status request, then answers.
        akool.inject(Fault(FaultKind.HTTP_500, endpoint="infobymodelid"))
        akool.inject(Fault(FaultKind.CODE, code=1005, endpoint="infobymodelid"))
        akool.finish(held)
        await world.wait_for_post(world.is_post_of(held), timeout=10.0)

        # A success with a grid, a press on it, and a failure.
        await world.discord.slash_command(world.bob, world.channel, "imagine", {"prompt": "fine"})
        grid = await world.wait_for_post(
            lambda m: world.is_post(m) and m.nonce != held and bool(m.components)
        )
        fine = str(grid.nonce)
        press = await world.discord.click(world.bob, grid, f"akool:v1:{fine}:U1")
        await press.wait_response()
        await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "doomed"}
        )
        await world.wait_for_post(lambda m: "Upscale U1" in m.content)
        await akool.wait_until(
            lambda: any(fake.prompt == "doomed" for fake in akool.jobs.values()), timeout=10.0
        )
        (child,) = [j for j, fake in akool.jobs.items() if fake.button == "U1"]
        (doomed,) = [j for j, fake in akool.jobs.items() if fake.prompt == "doomed"]
        await world.wait_for_post(world.is_post_of(child))
        failure = await world.wait_for_post(world.is_post_of(doomed))
        assert "failed" in failure.content.lower()

        # A callback that is not AKOOL's: its signature does not match.
        forged = akool.webhook_body(akool.webhook_payload(doomed))
        forged["signature"] = "0" * 40
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{world.http_base}/akool/webhook", json=forged) as refused,
        ):
            assert refused.status == 401

        after = await metrics_once(world, lambda s: total(s, "jobs_delivered_total") == 4)
        status, content_type, _ = await scrape(world)
        callbacks = [
            response
            for interaction in world.discord.interactions.values()
            for response in interaction.responses[:1]
        ]

    assert (status, content_type) == (200, CONTENT_TYPE)
    # Jobs: three /imagine, one press; the failure is not counted as finished.
    assert value(after, "jobs_created_total", kind="imagine") == 3
    assert value(after, "jobs_created_total", kind="button") == 1
    assert value(after, "jobs_finished_total", kind="imagine") == 2
    assert value(after, "jobs_finished_total", kind="button") == 1
    assert value(after, "jobs_failed_total", kind="imagine") == 1
    assert total(after, "jobs_failed_total") == 1
    assert value(after, "jobs_delivered_total", kind="imagine") == 3
    assert value(after, "jobs_delivered_total", kind="button") == 1
    assert total(after, "jobs_undeliverable_total") == 0
    for kind in KINDS:
        for job_status in ("queued", "processing", "completed", "failed"):
            assert value(after, "jobs_unfinished", kind=kind, status=job_status) == 0

    # AKOOL requests: what the fake saw, by endpoint and outcome.
    assert value(after, "akool_requests_total", endpoint="createbyprompt", outcome="1000") == 3
    assert value(after, "akool_requests_total", endpoint="createbybutton", outcome="1000") == 1
    assert value(after, "akool_requests_total", endpoint="infobymodelid", outcome="http_500") == 1
    assert value(after, "akool_requests_total", endpoint="infobymodelid", outcome="1005") == 1
    assert (
        total(after, "akool_requests_total", endpoint="infobymodelid")
        == akool.calls["infobymodelid"]
    )
    for endpoint in AKOOL_ENDPOINTS:
        sent = total(after, "akool_requests_total", endpoint=endpoint)
        assert sent == akool.calls[endpoint], endpoint
        assert value(after, "akool_request_seconds_count", endpoint=endpoint) == sent
    requests = sum(akool.calls[e] for e in AKOOL_ENDPOINTS)
    # Every request waited for the shared budget, and is counted by its kind as well: here the
    # creates, the press and the callbacks' confirming polls are urgent.
    assert value(after, "budget_wait_seconds_count", budget="akool") == requests
    by_kind = {
        kind: value(after, "budget_wait_seconds_count", budget=f"akool/{kind}")
        for kind in ("urgent", "polls", "lookups")
    }
    assert sum(by_kind.values()) == requests
    assert by_kind["urgent"] >= 4 + len(akool.webhooks_sent)

    # Callbacks: every one AKOOL sent was accepted; the forged one was refused as such.
    assert value(after, "webhooks_total", verdict="accepted") == len(akool.webhooks_sent) == 4
    assert value(after, "webhooks_total", verdict="bad_signature") == 1
    assert total(after, "webhooks_total") == 5

    # Every job's end was announced by a callback: each notice and post is dated from it.
    assert value(after, "job_notice_delay_seconds_count", source="webhook") == 4
    assert value(after, "job_post_delay_seconds_count", source="webhook") == 4
    assert value(after, "job_notice_delay_seconds_count", source="poll") == 0
    # The held job's confirmation waited out two retries: its notice took longest of all.
    notices = value(after, "job_notice_delay_seconds_sum", source="webhook")
    posts = value(after, "job_post_delay_seconds_sum", source="webhook")
    assert 0 < notices <= posts < 30

    # Interactions: one first response each, timed from the id's timestamp, as Discord saw it.
    # Three /imagine and one press.
    assert len(callbacks) == 4
    answered = value(after, "interaction_first_response_seconds_count")
    assert answered == 4
    measured = value(after, "interaction_first_response_seconds_sum")
    seen_by_discord = sum(c.elapsed for c in callbacks)
    assert seen_by_discord - 0.01 * answered <= measured <= seen_by_discord + 1.0
    assert value(after, "interaction_first_response_seconds_bucket", le="3.0") == 4
    assert value(after, "interaction_responses_expired_total") == 0


async def test_a_response_discord_refuses_as_too_late_is_counted(world: World):
    # Every answer arrives after the fake Discord's deadline, which it then refuses (404).
    world.discord.interaction_response_deadline = 0.0
    async with world.running():
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "late"}
        )
        samples = await metrics_once(
            world, lambda s: value(s, "interaction_responses_expired_total") > 0
        )

    assert not ix.responses
    assert value(samples, "interaction_responses_expired_total") == 1
    assert value(samples, "interaction_first_response_seconds_count") == 0


async def test_polled_jobs_are_dated_from_the_last_poll(world: World):
    """Without callbacks, a job's end is dated from the last answer that said it was unfinished:
    the delay is at most a poll interval or so, never the job's whole life."""
    world.akool.timeline = Timeline(processing_after=0.05, finished_after=0.6)
    async with world.running():
        started = time.monotonic()
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "p"}
        )
        await ix.wait_original_edit(lambda m: "job `" in m.content)
        (job_id,) = world.akool.jobs
        await world.wait_for_post(world.is_post_of(job_id))
        samples = await metrics_once(world, lambda s: total(s, "jobs_delivered_total") == 1)
        lifetime = time.monotonic() - started

    assert value(samples, "job_notice_delay_seconds_count", source="poll") == 1
    assert value(samples, "job_post_delay_seconds_count", source="poll") == 1
    assert value(samples, "job_notice_delay_seconds_count", source="webhook") == 0
    notice = value(samples, "job_notice_delay_seconds_sum", source="poll")
    post = value(samples, "job_post_delay_seconds_sum", source="poll")
    # Polled every 0.05 s or so while it ran for 0.6 s: dated from the last poll, not from its
    # creation.
    assert 0 <= notice <= post < lifetime / 2
    assert value(samples, "webhooks_total", verdict="accepted") == 0


async def test_a_metrics_token_is_required_when_set(world: World):
    token = "metrics-token-distinctive-3c9a"
    async with world.running(metrics_token=Secret(token)):
        missing = await scrape(world)
        wrong = await scrape(world, {"Authorization": "Bearer not-the-token"})
        longer = await scrape(world, {"Authorization": f"Bearer {token}x"})
        bare = await scrape(world, {"Authorization": token})
        right = await scrape(world, {"Authorization": f"Bearer {token}"})

    for refused in (missing, wrong, longer, bare):
        status, _, text = refused
        assert status == 401
        assert "akool_bot" not in text
        assert token not in text
    status, content_type, text = right
    assert (status, content_type) == (200, CONTENT_TYPE)
    assert value(parse(text), "gateway_connected") == 1


async def test_two_bots_in_one_process_keep_their_numbers_apart(world: World):
    async with world.running():
        await world.discord.slash_command(world.alice, world.channel, "imagine", {"prompt": "a"})
        first = await metrics_once(world, lambda s: total(s, "jobs_delivered_total") == 1)
    async with world.running():
        second = await metrics_once(world, lambda s: True)

    assert value(first, "jobs_created_total", kind="imagine") == 1
    assert total(second, "jobs_created_total") == 0
    assert total(second, "jobs_delivered_total") == 0
