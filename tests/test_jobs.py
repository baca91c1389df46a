"""JobService: presses, stale claims and crash windows, against the fake AKOOL and a real store."""

from __future__ import annotations

from unittest.mock import create_autospec

import pytest

from bot.akool import AkoolAPIError, AkoolClient
from bot.job_loop import JobLoop
from bot.jobs import STALE_CLAIM, JobService, Origin
from bot.store import JobStatus
from bot.store.sqlite import SqliteJobStore
from tests.clock import Clock
from tests.fakes.akool import FakeAkool


@pytest.fixture
def service(store: SqliteJobStore, akool: AkoolClient, clock: Clock) -> JobService:
    loop = create_autospec(JobLoop, instance=True)
    loop.next_poll_in.return_value = 5.0
    return JobService(
        store=store,
        akool=akool,
        loop=loop,
        webhook_url=None,
        clock=clock,
    )


async def grid(service: JobService, fake_akool: FakeAkool):
    job = fake_akool.add_job()
    tracked, _ = await service.track(Origin(1, 10, 20), job.id)
    assert tracked.status is JobStatus.COMPLETED
    return tracked


async def test_a_claim_left_by_a_crash_is_released_once_stale(service, store, fake_akool, clock):
    parent = await grid(service, fake_akool)
    # The process claimed U1, then died before asking AKOOL.
    await store.claim_press(parent.akool_id, "U1", 111, now=clock.now)

    early = await service.press(parent, "U1", 222)
    clock.now += STALE_CLAIM + 1
    late = await service.press(parent, "U1", 222)

    assert early.child is None
    assert early.winner is not None
    assert early.winner.presser_id == 111
    assert late.child is not None
    assert late.child.requester_id == 222
    assert fake_akool.calls["createbybutton"] == 1


async def test_a_stale_claim_that_akool_did_use_stands(service, store, fake_akool, clock):
    parent = await grid(service, fake_akool)
    await store.claim_press(parent.akool_id, "V2", 111, now=clock.now)
    # The crash came after AKOOL used the button but before the bot learnt the child's id.
    fake_akool.jobs[parent.akool_id].buttons.remove("V2")
    fake_akool.jobs[parent.akool_id].used_buttons.append("V2")
    clock.now += STALE_CLAIM + 1

    result = await service.press(parent, "V2", 222)

    assert result.child is None
    assert result.winner is not None
    assert result.winner.presser_id == 111
    assert fake_akool.calls["createbybutton"] == 0


async def test_the_child_is_found_even_if_the_claim_never_named_it(service, store, fake_akool):
    parent = await grid(service, fake_akool)
    pressed = await service.press(parent, "U3", 111)
    assert pressed.child is not None
    # As if the process died between storing the child and naming it on the claim.
    await store._db.execute("UPDATE button_presses SET child_akool_id = NULL")

    press = await store.get_press(parent.akool_id, "U3")
    assert press is not None
    found = await service.press_child(press)

    assert found is not None
    assert found.akool_id == pressed.child.akool_id


async def test_a_press_marks_the_grid_button_used(service, store, fake_akool):
    parent = await grid(service, fake_akool)

    await service.press(parent, "V4", 111)
    stored = await store.get_job(parent.akool_id)

    assert stored is not None
    assert "V4" in stored.used_buttons
    assert "V4" not in stored.buttons
    assert stored.image_url == parent.image_url


async def test_track_records_the_first_answer(service, store, fake_akool):
    job = fake_akool.add_job(prompt="from the web app")

    tracked, created = await service.track(Origin(1, 10, 20), job.id)
    again, created_again = await service.track(Origin(2, 10, 30), job.id)

    assert created
    assert not created_again
    assert again.channel_id == 20
    assert tracked.prompt == "from the web app"
    assert tracked.image_url == fake_akool.image_url(job.id)
    assert tracked.due_at is not None


async def test_an_intent_lives_only_while_akool_is_asked(service, store, fake_akool, clock):
    from tests.fakes.akool import FaultKind

    job = await service.imagine(Origin(1, 10, 20), "fox", "1:1", None)
    fake_akool.inject(FaultKind.CODE, code=1003)
    with pytest.raises(AkoolAPIError, match="AKOOL answered code 1003: injected fault") as caught:
        await service.imagine(Origin(1, 10, 20), "fox", "1:1", None)

    assert caught.value.code == 1003
    assert job.akool_id in fake_akool.jobs
    assert await store.lost_create_intents(started_before=clock.now + 1) == []


async def test_a_stopping_service_refuses_new_jobs(service, fake_akool):
    from bot.errors import UserFacingError

    await service.drain(grace=1)

    with pytest.raises(UserFacingError, match="restarting"):
        await service.imagine(Origin(1, 10, 20), "fox", "1:1", None)
    assert fake_akool.calls["createbyprompt"] == 0
