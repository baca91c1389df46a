"""Choosing the create API: the real client against the fake AKOOL, the real SQLite store.

``auto`` sends grids to v3 until v3 create answers that it is gone, then notes it in the store,
logs one WARNING and starts that same job through v4, paying once; every later job, in this
process, another one, or after a restart, goes to v4 without asking v3 again.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.akool import (
    AkoolAPIError,
    AkoolClient,
    AkoolCreateApiGone,
    AkoolError,
    ImageBatch,
    ImageJob,
)
from bot.create_api import CreateApiChooser, ImageOrder
from bot.secret import Secret
from bot.store.sqlite import SqliteJobStore
from tests.fakes.akool import FakeAkool, V3Off

SWITCH_LOG = "AKOOL answered that v3 create is gone"


def switch_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "bot.create_api" and r.levelno == logging.WARNING and SWITCH_LOG in r.message
    ]


async def test_auto_makes_grids_through_v3_while_it_works(akool, fake_akool, store):
    chooser = CreateApiChooser(akool, store, "auto")

    created = await chooser.create(ImageOrder("a fox", "16:9"))

    assert isinstance(created, ImageJob)
    assert fake_akool.jobs[created.id].kind == "grid"
    assert fake_akool.calls["createbyprompt"] == 1
    assert fake_akool.calls["createBySourcePrompt"] == 0
    assert await chooser.api() == "v3"
    assert not await store.v3_create_gone()


@pytest.mark.parametrize("shape", list(V3Off), ids=lambda s: s.value)
async def test_auto_switches_to_v4_for_good_and_pays_once(
    akool, fake_akool: FakeAkool, store, caplog, shape: V3Off
):
    fake_akool.switch_off_v3(shape)
    chooser = CreateApiChooser(akool, store, "auto")

    created = await chooser.create(
        ImageOrder(
            "a fox",
            "3:2",
            source_image="https://cdn.example/src.png",
            webhook_url="https://bot.example/akool/webhook",
        )
    )

    assert isinstance(created, ImageBatch)
    assert len(created.ids) == 4
    assert fake_akool.calls["createbyprompt"] == 1
    assert fake_akool.calls["createBySourcePrompt"] == 1
    assert fake_akool.balance == 1000.0 - 4  # the four v4 images, nothing for the failed v3 call
    (sent,) = fake_akool.requests_to("createBySourcePrompt")
    assert sent.body == {
        "prompt": "a fox",
        "scale": "3:2",
        "source_images": ["https://cdn.example/src.png"],
        "resolution": "4k",
        "batch_quantity": 4,
        "webhookurl": "https://bot.example/akool/webhook",
    }
    assert await store.v3_create_gone()
    assert len(switch_warnings(caplog)) == 1


async def test_a_wrong_base_url_answering_404_to_both_switches_nothing(
    http, fake_akool: FakeAkool, store, caplog
):
    # An AKOOL_BASE_URL that is wrong answers 404 to v3 and v4 alike: that is not v3 retired.
    wrong = AkoolClient(http, Secret(fake_akool.api_key), f"{fake_akool.base_url}/wrong")
    chooser = CreateApiChooser(wrong, store, "auto")

    with pytest.raises(AkoolError):
        await chooser.create(ImageOrder("a fox"))

    assert not await store.v3_create_gone()
    assert await chooser.api() == "v3"
    assert switch_warnings(caplog) == []
    created = await CreateApiChooser(akool_at(http, fake_akool), store, "auto").create(
        ImageOrder("once the address is fixed")
    )
    assert isinstance(created, ImageJob)  # still a v3 grid


def akool_at(http, fake_akool: FakeAkool) -> AkoolClient:
    return AkoolClient(http, Secret(fake_akool.api_key), fake_akool.base_url)


async def test_after_the_switch_v3_is_never_asked_again(akool, fake_akool, store, caplog):
    fake_akool.switch_off_v3(V3Off.HTTP_410)
    chooser = CreateApiChooser(akool, store, "auto")
    await chooser.create(ImageOrder("first"))

    again = await chooser.create(ImageOrder("second"))

    assert isinstance(again, ImageBatch)
    assert fake_akool.calls["createbyprompt"] == 1
    assert fake_akool.calls["createBySourcePrompt"] == 2
    assert len(switch_warnings(caplog)) == 1


async def test_a_restart_remembers_the_switch(akool, fake_akool, db_path: Path, caplog):
    fake_akool.switch_off_v3(V3Off.HTTP_404)
    async with await SqliteJobStore.open(db_path) as before:
        await CreateApiChooser(akool, before, "auto").create(ImageOrder("first"))

    async with await SqliteJobStore.open(db_path) as after:
        chooser = CreateApiChooser(akool, after, "auto")
        assert await chooser.api() == "v4"
        created = await chooser.create(ImageOrder("after the restart"))

    assert isinstance(created, ImageBatch)
    assert fake_akool.calls["createbyprompt"] == 1
    assert len(switch_warnings(caplog)) == 1


async def test_another_process_learns_it_from_the_store(akool, fake_akool, db_path: Path, caplog):
    fake_akool.switch_off_v3(V3Off.MESSAGE)
    async with (
        await SqliteJobStore.open(db_path) as one,
        await SqliteJobStore.open(db_path) as two,
    ):
        first = CreateApiChooser(akool, one, "auto")
        second = CreateApiChooser(akool, two, "auto")
        assert await second.api() == "v3"

        await first.create(ImageOrder("noticed here"))

        assert await second.api() == "v4"
        await second.create(ImageOrder("known there"))

    assert fake_akool.calls["createbyprompt"] == 1
    assert fake_akool.calls["createBySourcePrompt"] == 2
    assert len(switch_warnings(caplog)) == 1


async def test_processes_meeting_the_gone_answer_together_warn_once(
    akool, fake_akool, db_path: Path, caplog
):
    fake_akool.switch_off_v3(V3Off.HTTP_410)
    async with (
        await SqliteJobStore.open(db_path) as one,
        await SqliteJobStore.open(db_path) as two,
    ):
        choosers = [CreateApiChooser(akool, s, "auto") for s in (one, two, one, two)]

        created = await asyncio.gather(
            *(c.create(ImageOrder(f"job {n}")) for n, c in enumerate(choosers))
        )

    assert all(isinstance(c, ImageBatch) for c in created)
    assert fake_akool.calls["createBySourcePrompt"] == 4  # each job once through v4
    assert fake_akool.balance == 1000.0 - 4 * 4
    assert len(switch_warnings(caplog)) == 1


async def test_v3_forced_raises_the_gone_error_and_switches_nothing(akool, fake_akool, store):
    fake_akool.switch_off_v3(V3Off.HTTP_404)
    chooser = CreateApiChooser(akool, store, "v3")

    with pytest.raises(AkoolCreateApiGone):
        await chooser.create(ImageOrder("a fox"))

    assert fake_akool.calls["createBySourcePrompt"] == 0
    assert not await store.v3_create_gone()
    assert await chooser.api() == "v3"


async def test_v4_forced_never_asks_v3(akool, fake_akool, store):
    chooser = CreateApiChooser(akool, store, "v4", batch_quantity=2, resolution="1080p")

    created = await chooser.create(ImageOrder("a fox"))

    assert isinstance(created, ImageBatch)
    assert len(created.ids) == 2
    assert fake_akool.calls["createbyprompt"] == 0
    (sent,) = fake_akool.requests_to("createBySourcePrompt")
    assert sent.body["resolution"] == "1080p"
    assert not await store.v3_create_gone()


@pytest.mark.parametrize(("prompt", "balance", "code"), [("   ", 1000.0, 1003), ("fox", 1, 1104)])
async def test_an_ordinary_v3_error_is_raised_and_switches_nothing(
    akool: AkoolClient, fake_akool, store, caplog, prompt, balance, code
):
    fake_akool.balance = balance
    chooser = CreateApiChooser(akool, store, "auto")

    with pytest.raises(AkoolAPIError) as caught:
        await chooser.create(ImageOrder(prompt))

    assert caught.value.code == code
    assert fake_akool.calls["createBySourcePrompt"] == 0
    assert not await store.v3_create_gone()
    assert switch_warnings(caplog) == []
    assert fake_akool.balance == balance


async def test_a_v4_failure_after_the_switch_is_raised_and_the_switch_kept(
    akool, fake_akool, store
):
    fake_akool.switch_off_v3(V3Off.HTTP_404)
    fake_akool.balance = 3  # enough for a v3 grid, not for four v4 images
    chooser = CreateApiChooser(akool, store, "auto")

    with pytest.raises(AkoolAPIError) as caught:
        await chooser.create(ImageOrder("a fox"))

    assert caught.value.code == 1104
    assert await store.v3_create_gone()
    assert fake_akool.balance == 3


def test_an_unknown_mode_is_refused(akool, store):
    with pytest.raises(ValueError, match="unknown create API"):
        CreateApiChooser(akool, store, "v5")


async def test_an_order_says_how_many_v4_images_it_is_before_anything_is_asked(
    akool, fake_akool, store
):
    auto = CreateApiChooser(akool, store, "auto")
    v4 = CreateApiChooser(akool, store, "v4", batch_quantity=2)

    grid = await auto.images(ImageOrder("a fox"))
    three = await auto.images(ImageOrder("a fox", count=3))
    fixed = await v4.images(ImageOrder("a fox"))
    await store.note_v3_create_gone(now=0.0)
    switched = await auto.images(ImageOrder("a fox"))

    assert grid is None  # a v3 grid: its cost is a grid's, not images'
    assert (three, fixed, switched) == (3, 2, 4)
    assert fake_akool.calls["createbyprompt"] == fake_akool.calls["createBySourcePrompt"] == 0
