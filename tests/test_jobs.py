"""JobService: presses, stale claims and crash windows, against the fake AKOOL and a real store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import create_autospec

import pytest

from bot.akool import AkoolAPIError, AkoolClient, AkoolError
from bot.create_api import CreateApiChooser, ImageOrder
from bot.errors import UserFacingError
from bot.job_loop import JobLoop
from bot.jobs import STALE_CLAIM, JobService, Origin, PressEnd, PressOutcome
from bot.secret import Secret
from bot.store import ButtonPress, CreateOptions, JobStatus, JobStore
from bot.store.sqlite import SqliteJobStore
from tests.clock import Clock
from tests.fakes.akool import FakeAkool, Fault, FaultKind
from tests.store.conftest import openers


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

    job = await service.imagine(Origin(1, 10, 20), ImageOrder("fox"))
    fake_akool.inject(FaultKind.CODE, code=1003)
    with pytest.raises(AkoolAPIError, match="AKOOL answered code 1003: injected fault") as caught:
        await service.imagine(Origin(1, 10, 20), ImageOrder("fox"))

    assert caught.value.code == 1003
    assert job.akool_id in fake_akool.jobs
    assert await store.lost_create_intents(started_before=clock.now + 1) == []


async def test_a_stopping_service_refuses_new_jobs(service, fake_akool):
    from bot.errors import UserFacingError

    await service.drain(grace=1)

    with pytest.raises(UserFacingError, match="restarting"):
        await service.imagine(Origin(1, 10, 20), ImageOrder("fox"))
    assert fake_akool.calls["createbyprompt"] == 0


# A press made while another is still at AKOOL: how the first one ended


def other_process(store: JobStore, akool: Any, clock: Clock, press_wait: float) -> JobService:
    """A second bot process's service: its own memory, the same database and AKOOL."""
    loop = create_autospec(JobLoop, instance=True)
    loop.next_poll_in.return_value = 5.0
    return JobService(
        store=store, akool=akool, loop=loop, webhook_url=None, clock=clock, press_wait=press_wait
    )


class Rereads:
    """Stands in for ``store.get_press`` and counts the reads, for a test to wait on."""

    def __init__(self, store: JobStore) -> None:
        self._original = store.get_press
        self.count = 0
        self._changed = asyncio.Event()
        store.get_press = self  # type: ignore[method-assign]

    async def __call__(self, parent_akool_id: str, button: str) -> ButtonPress | None:
        self.count += 1
        self._changed.set()
        return await self._original(parent_akool_id, button)

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while self.count < count:
                self._changed.clear()
                await self._changed.wait()


class HeldPresses:
    """The AKOOL client, with every ``press_button`` held until the test lets it through."""

    def __init__(self, akool: AkoolClient) -> None:
        self._akool = akool
        self.arrived = asyncio.Event()
        self.go = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._akool, name)

    async def press_button(self, *args: Any, **kwargs: Any) -> Any:
        self.arrived.set()
        await self.go.wait()
        return await self._akool.press_button(*args, **kwargs)


@pytest.fixture
def patient_akool(http, fake_akool) -> AkoolClient:
    """A client that waits long enough for a press the fake holds until the test lets it go."""
    return AkoolClient(http, Secret(fake_akool.api_key), fake_akool.base_url, timeout=10.0)


@pytest.fixture(params=["sqlite", "postgres"])
async def processes(
    request, tmp_path, patient_akool, clock
) -> AsyncIterator[tuple[JobService, ...]]:
    """Two bot processes' services on one database: the same rows, separate memories."""
    async with openers(request.param, tmp_path) as open_store:
        stores = [await open_store(), await open_store()]
        yield tuple(other_process(s, patient_akool, clock, press_wait=10.0) for s in stores)


async def test_a_press_that_another_process_fails_is_reported_freed(processes, fake_akool):
    here, elsewhere = processes
    parent = await grid(here, fake_akool)
    answer = asyncio.Event()
    fake_akool.inject(Fault(FaultKind.CODE, code=1108, endpoint="createbybutton", until=answer))
    first = asyncio.create_task(here.press(parent, "U2", 111))
    await fake_akool.wait_for_calls("createbybutton", 1)
    lost = await elsewhere.press(parent, "U2", 222)
    assert lost.winner is not None
    rereads = Rereads(elsewhere.store)
    outcome = asyncio.create_task(elsewhere.press_outcome(lost.winner))
    await rereads.wait_for(3)  # still waiting, re-reading the store
    assert not outcome.done()
    answer.set()
    with pytest.raises(AkoolError, match="1108"):
        await first

    ended = await asyncio.wait_for(outcome, 5)
    again = await elsewhere.press(parent, "U2", 222)

    assert ended == PressOutcome(PressEnd.FREED)
    assert again.child is not None
    assert fake_akool.calls["createbybutton"] == 2


async def test_a_press_that_another_process_starts_is_reported_with_its_job(processes, fake_akool):
    here, elsewhere = processes
    parent = await grid(here, fake_akool)
    held = HeldPresses(here.akool)
    here.akool = held
    first = asyncio.create_task(here.press(parent, "V1", 111))
    await asyncio.wait_for(held.arrived.wait(), 5)
    lost = await elsewhere.press(parent, "V1", 222)
    assert lost.winner is not None
    rereads = Rereads(elsewhere.store)
    outcome = asyncio.create_task(elsewhere.press_outcome(lost.winner))
    await rereads.wait_for(3)
    assert not outcome.done()
    held.go.set()
    started = await first

    ended = await asyncio.wait_for(outcome, 5)

    assert started.child is not None
    assert ended.end is PressEnd.STARTED
    assert ended.child is not None
    assert ended.child.akool_id == started.child.akool_id
    assert fake_akool.calls["createbybutton"] == 1


async def test_a_press_in_this_process_is_reported_with_akools_reason(
    store, patient_akool, clock, fake_akool
):
    service = other_process(store, patient_akool, clock, press_wait=10.0)
    parent = await grid(service, fake_akool)
    answer = asyncio.Event()
    fake_akool.inject(Fault(FaultKind.CODE, code=1108, endpoint="createbybutton", until=answer))
    first = asyncio.create_task(service.press(parent, "V3", 111))
    await fake_akool.wait_for_calls("createbybutton", 1)
    lost = await service.press(parent, "V3", 222)
    assert lost.winner is not None
    outcome = asyncio.create_task(service.press_outcome(lost.winner))
    answer.set()
    with pytest.raises(AkoolError, match="1108") as raised:
        await first

    ended = await asyncio.wait_for(outcome, 5)

    assert ended.end is PressEnd.FREED
    assert ended.error is raised.value


@pytest.mark.parametrize(
    ("used_at_akool", "end"), [(False, PressEnd.UNKNOWN), (True, PressEnd.SPENT)]
)
async def test_a_press_that_never_settles_is_reported_once_the_wait_is_over(
    store, akool, clock, fake_akool, used_at_akool, end
):
    service = other_process(store, akool, clock, press_wait=0.2)
    parent = await grid(service, fake_akool)
    # Another process claimed U4 and has said nothing since.
    await store.claim_press(parent.akool_id, "U4", 111, now=clock.now)
    if used_at_akool:
        fake_akool.jobs[parent.akool_id].buttons.remove("U4")
        fake_akool.jobs[parent.akool_id].used_buttons.append("U4")
    press = await store.get_press(parent.akool_id, "U4")
    assert press is not None

    waited = await asyncio.wait_for(service.press_outcome(press), 5)
    clock.now += 1  # the claim is now older than a press can take: no waiting at all
    rereads = Rereads(store)
    late = await asyncio.wait_for(service.press_outcome(press), 5)

    assert waited == late == PressOutcome(end)
    assert rereads.count == 1
    assert fake_akool.calls["createbybutton"] == 0


async def test_a_press_refused_while_stopping_gives_the_button_back(service, store, fake_akool):
    parent = await grid(service, fake_akool)
    await service.drain(grace=1)

    with pytest.raises(UserFacingError, match="restarting"):
        await service.press(parent, "U1", 111)

    assert await store.get_press(parent.akool_id, "U1") is None
    assert fake_akool.calls["createbybutton"] == 0


async def test_a_commands_intent_stays_until_its_answer_is_recorded(service, store, clock):
    origin = Origin(1, 10, 20)
    intent = await service.begin_create(origin, "fox", limits=None, reply=None)
    (before,) = await store.lost_create_intents(started_before=clock.now + 1)

    job = await service.imagine(origin, ImageOrder("fox"), intent=intent)
    (stored,) = await store.lost_create_intents(started_before=clock.now + 1)
    await service.answered(intent, job, 4242)

    assert before.akool_called_at is None  # not asked yet: nothing started
    assert (stored.id, stored.akool_id, stored.akool_called_at) == (intent, job.akool_id, clock.now)
    assert await store.lost_create_intents(started_before=clock.now + 1) == []
    answered = await store.get_job(job.akool_id)
    assert answered is not None
    assert answered.status_message_id == 4242


async def test_a_refused_create_leaves_an_intent_saying_nothing_started(
    service, store, fake_akool, clock
):
    origin = Origin(1, 10, 20)
    intent = await service.begin_create(origin, "fox", limits=None, reply=None)
    fake_akool.inject(FaultKind.CODE, code=1003)
    with pytest.raises(AkoolError, match="1003"):
        await service.imagine(origin, ImageOrder("fox"), intent=intent)

    # Until the command shows the refusal, a crash would leave this: AKOOL made nothing.
    (lost,) = await store.lost_create_intents(started_before=clock.now + 1)
    assert (lost.id, lost.akool_called_at, lost.akool_id) == (intent, None, None)


async def test_a_command_given_up_on_never_reaches_akool(service, store, fake_akool):
    origin = Origin(1, 10, 20)
    intent = await service.begin_create(origin, "fox", limits=None, reply=None)
    # Reported lost (the member was told nothing started) before AKOOL was asked.
    await store.drop_create_intent(intent)

    with pytest.raises(UserFacingError, match="nothing was started"):
        await service.imagine(origin, ImageOrder("fox"), intent=intent)
    assert fake_akool.calls["createbyprompt"] == 0


# A press written down before it is acknowledged, and its loss answered after a crash


def lost_press_loop(store: JobStore, akool: AkoolClient, notifier: Any, clock: Clock) -> JobLoop:
    return JobLoop(
        store=store,
        akool=akool,
        notifier=notifier,
        poll_interval=5.0,
        job_timeout=600.0,
        concurrency=2,
        create_grace=10.0,
        clock=clock,
    )


async def test_a_press_is_written_down_before_it_is_acknowledged(service, store, fake_akool):
    from bot.store import InteractionReply, ReplyBy

    parent = await grid(service, fake_akool)
    reply = InteractionReply(777, Secret("press-token"), ReplyBy.FOLLOWUP)
    seen: list[tuple[Any, ...]] = []

    async def acknowledge() -> None:
        (intent,) = await store.lost_create_intents(started_before=service._clock() + 1)
        seen.append((intent.claim, intent.reply, intent.akool_called_at))
        seen.append((await store.get_press(parent.akool_id, "U1"),))

    result = await service.press(parent, "U1", 111, reply=reply, acknowledge=acknowledge)
    assert result.child is not None
    assert result.intent is not None
    (kept,) = await store.lost_create_intents(started_before=service._clock() + 1)
    await service.answered(result.intent, result.child, 4242)

    (claim, answer_by, asked), (press,) = seen
    assert claim == press
    assert (claim.parent_akool_id, claim.button, claim.presser_id) == (parent.akool_id, "U1", 111)
    assert answer_by == reply
    assert asked is None  # acknowledged before AKOOL is asked
    # Until the announcement is recorded, a crash leaves the intent, naming the job.
    assert kept.akool_id == result.child.akool_id
    assert await store.lost_create_intents(started_before=service._clock() + 1) == []
    announced = await store.get_job(result.child.akool_id)
    assert announced is not None
    assert announced.status_message_id == 4242


async def test_a_press_over_a_limit_is_refused_before_it_is_acknowledged(
    service, store, fake_akool, clock
):
    from bot.policy import LimitReached
    from bot.store import Limits

    parent = await grid(service, fake_akool)
    # The member already has a create under way, and may have one at a time.
    await store.add_create_intent(111, parent.guild_id, 20, "fox", now=clock.now)
    acknowledged: list[bool] = []

    async def acknowledge() -> None:
        acknowledged.append(True)

    with pytest.raises(LimitReached):
        await service.press(
            parent,
            "V2",
            111,
            limits=Limits(active=1, daily=10, since=clock.now - 1),
            acknowledge=acknowledge,
        )

    assert acknowledged == []  # still in time for a private refusal
    assert await store.get_press(parent.akool_id, "V2") is None
    assert fake_akool.calls["createbybutton"] == 0


async def test_a_press_given_up_on_never_reaches_akool(service, store, fake_akool, clock):
    parent = await grid(service, fake_akool)

    async def acknowledge() -> None:
        # The job loop takes the press up as lost before AKOOL is asked.
        await store.claim_lost_intents(
            started_before=clock.now + 1, pressed_before=clock.now + 1, now=clock.now, hold=60
        )

    with pytest.raises(UserFacingError, match="nothing was started"):
        await service.press(parent, "U3", 111, acknowledge=acknowledge)

    assert fake_akool.calls["createbybutton"] == 0
    # The claim is the job loop's to give back, with its answer to the presser.
    press = await store.get_press(parent.akool_id, "U3")
    assert press is not None
    assert press.presser_id == 111


@pytest.mark.parametrize(
    ("asked", "used_at_akool", "button_used", "claim_stands"),
    [
        (False, False, False, False),  # never asked: given back, press again
        (True, False, False, False),  # asked, but AKOOL never used it: given back
        (True, True, True, True),  # AKOOL used it: the claim stands, told honestly
    ],
)
async def test_a_lost_press_gives_its_button_back_only_if_akool_never_used_it(
    service, store, akool, fake_akool, clock, asked, used_at_akool, button_used, claim_stands
):
    parent = await grid(service, fake_akool)
    claim = (await store.claim_press(parent.akool_id, "V4", 111, now=clock.now)).press
    await store.add_create_intent(
        111,
        parent.guild_id,
        parent.channel_id,
        f"V4 of {parent.akool_id}",
        now=clock.now,
        claim=claim,
        akool_called_at=clock.now if asked else None,
    )
    if used_at_akool:
        fake_akool.jobs[parent.akool_id].buttons.remove("V4")
        fake_akool.jobs[parent.akool_id].used_buttons.append("V4")
    from bot.notifier import Notifier

    notifier = create_autospec(Notifier, instance=True)
    loop = lost_press_loop(store, akool, notifier, clock)
    clock.now += 60

    await loop.tick()

    (call,) = notifier.report_lost_create.call_args_list
    assert call.args[0].claim == claim
    assert call.kwargs["button_used"] is button_used
    assert (await store.get_press(parent.akool_id, "V4") is not None) is claim_stands
    assert await store.lost_create_intents(started_before=clock.now) == []


@pytest.fixture(params=["sqlite", "postgres"])
async def two_stores(request, tmp_path) -> AsyncIterator[tuple[JobStore, JobStore]]:
    async with openers(request.param, tmp_path) as open_store:
        yield await open_store(), await open_store()


async def test_each_lost_command_is_answered_by_one_process_and_retried(two_stores, akool, clock):
    from collections import Counter

    from bot.notifier import Notifier, RetryLater

    here, elsewhere = two_stores
    for n in range(6):
        await here.add_create_intent(111, 10, 20, f"fox {n}", now=clock.now)
    answers: list[str] = []
    failed_once: set[str] = set()

    async def answer(intent: Any, job: Any = None, **_: Any) -> None:
        if intent.prompt == "fox 0" and not failed_once:
            failed_once.add(intent.prompt)
            raise RetryLater("Discord answered HTTP 503")
        answers.append(intent.prompt)

    loops = []
    for process_store in two_stores:
        notifier = create_autospec(Notifier, instance=True)
        notifier.report_lost_create.side_effect = answer
        loops.append(lost_press_loop(process_store, akool, notifier, clock))
    clock.now += 60

    # Both processes' loops look at once, twice: the failed answer waits a while.
    for _ in range(2):
        await asyncio.gather(*(loop.tick() for loop in loops))
    before_retry = Counter(answers)
    clock.now += 10
    await asyncio.gather(*(loop.tick() for loop in loops))

    assert before_retry == Counter(f"fox {n}" for n in range(1, 6))
    assert Counter(answers) == Counter(f"fox {n}" for n in range(6))
    assert await here.lost_create_intents(started_before=clock.now) == []
    assert await elsewhere.lost_create_intents(started_before=clock.now) == []


# Which create API a job goes through, and a v4 batch stored as one row per image


def with_creator(service: JobService, mode: str) -> JobService:
    service.creator = CreateApiChooser(service.akool, service.store, mode)
    return service


async def test_a_v4_batch_is_one_row_per_image_led_by_the_first(service, store, fake_akool, clock):
    with_creator(service, "v4")
    origin = Origin(1, 10, 20)
    intent = await service.begin_create(origin, "fox", limits=None, reply=None)

    order = ImageOrder("fox", "16:9", count=3, resolution="1080p", negative="no text")
    lead = await service.imagine(origin, order, intent=intent)

    batch = await store.batch(lead.akool_id)
    (request,) = fake_akool.requests_to("createBySourcePrompt")
    assert len(batch) == 3
    assert [job.batch_index for job in batch] == [0, 1, 2]
    assert batch[0] == lead
    assert {job.akool_id for job in batch} == set(fake_akool.jobs)
    assert {(job.api, job.batch_akool_id, job.scale, job.credits) for job in batch} == {
        ("v4", lead.akool_id, "16:9", 1)
    }
    assert lead.options == CreateOptions(count=3, resolution="1080p", negative="no text")
    # The intent is the lead's alone: the batch is one command's answer.
    (unanswered,) = await store.lost_create_intents(started_before=clock.now + 1)
    assert (unanswered.id, unanswered.akool_id) == (intent, lead.akool_id)
    assert (request.body["batch_quantity"], request.body["resolution"]) == (3, "1080p")
    assert fake_akool.calls["createbyprompt"] == 0


async def test_a_reroll_of_a_batch_repeats_its_options(service, store, fake_akool):
    with_creator(service, "v4")
    order = ImageOrder("fox", count=2, resolution="4k", negative="rain")
    lead = await service.imagine(Origin(1, 10, 20), order)

    again = await service.reroll(lead, 2)

    first, second = fake_akool.requests_to("createBySourcePrompt")
    assert first.body == second.body
    assert again.parent_akool_id == lead.akool_id
    assert again.options == lead.options
    assert [job.requester_id for job in await store.batch(again.akool_id)] == [2, 2]


async def test_auto_switches_to_v4_once_and_charges_once(service, store, fake_akool, caplog):
    from tests.fakes.akool import V3Off

    with_creator(service, "auto")
    fake_akool.switch_off_v3(V3Off.HTTP_410)
    balance = fake_akool.balance

    with caplog.at_level(logging.WARNING, logger="bot.create_api"):
        first = await service.imagine(Origin(1, 10, 20), ImageOrder("fox"))
        second = await service.imagine(Origin(1, 10, 20), ImageOrder("owl"))

    gone = [r for r in caplog.records if "v3 create is gone" in r.getMessage()]
    assert len(gone) == 1
    assert fake_akool.calls["createbyprompt"] == 1  # the second went straight to v4
    assert fake_akool.calls["createBySourcePrompt"] == 2
    assert (first.api, second.api) == ("v4", "v4")
    assert first.requester_id == 1
    assert balance - fake_akool.balance == 8  # four images each, nothing for the v3 refusal
    assert len(await store.batch(first.akool_id)) == 4


async def test_a_v4_order_with_v3_forced_is_refused_before_akool(service, fake_akool):
    with pytest.raises(UserFacingError, match="older create API"):
        await service.imagine(Origin(1, 10, 20), ImageOrder("fox", count=2))

    assert fake_akool.calls["createBySourcePrompt"] + fake_akool.calls["createbyprompt"] == 0
