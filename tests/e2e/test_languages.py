"""Each reader in their own language: a member's private answers follow their Discord
(``interaction.locale``), the bot's posts in a channel follow the server's language, which its
admins choose with /settings language (until then: a community server's language in Discord,
else English)."""

from __future__ import annotations

import re
from typing import Any

import discord
import pytest

from bot import i18n, stored_text
from tests.e2e.conftest import World
from tests.fakes.akool import Timeline
from tests.fakes.discord import FakeInteraction, FakeMessage, FakeUser, InteractionCallback


@pytest.fixture
def admin(world: World) -> FakeUser:
    return world.discord.add_user(
        name="admin", guild=world.guild, permissions=discord.Permissions(manage_guild=True)
    )


def content(answer: InteractionCallback) -> str:
    return str((answer.data or {}).get("content") or "")


def embed(answer: InteractionCallback) -> dict[str, Any]:
    (only,) = (answer.data or {}).get("embeds") or []
    return dict(only)


async def status_line(ix: FakeInteraction) -> str:
    """What the command itself made of its "thinking" message: the job's status line (the job
    loop edits it later, through the channel)."""

    def written(message: FakeMessage) -> str | None:
        edits = [e for e in message.edits if e.source == "webhook" and "content" in e.changes]
        return str(edits[0].changes["content"]) if edits else None

    return written(await ix.wait_original_edit(lambda m: written(m) is not None)) or ""


def field(shown: dict[str, Any], name: str) -> str:
    (value,) = [f["value"] for f in shown["fields"] if f["name"] == name]
    return str(value)


async def test_a_japanese_member_gets_japanese_answers_while_the_channel_follows_the_server(
    world: World, admin: FakeUser
):
    world.alice.locale = "ja"
    admin.locale = "fr"
    async with world.running():
        # The admin (in French) sets the server's language to German.
        ix = await world.discord.slash_command(
            admin, world.channel, "settings language", {"language": "de"}
        )
        set_answer = await ix.wait_response()
        assert set_answer.ephemeral
        settings = embed(set_answer)
        assert settings["title"] == "Réglages du bot d'images"
        assert settings["description"] == "Le bot publie désormais ici en Deutsch."
        assert field(settings, "Langue des publications du bot") == "Deutsch"

        # Alice's Discord is in Japanese: a refusal is hers alone, in Japanese.
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "\u200b"}
        )
        refused = await ix.wait_response()
        assert refused.ephemeral
        assert content(refused) == "プロンプトが空です。作りたい画像を説明してください。"

        # Her job's status line is the channel's: German, whoever asked.
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a red fox in snow"}
        )
        status = await status_line(ix)
        (job_id,) = world.akool.jobs
        assert status.startswith("⏳ In der Warteschlange: **a red fox in snow** für <@")
        assert f"Auftrag `{job_id}`" in status
        await world.wait_for_post(world.is_post_of(job_id))

        # Her own history is private, so Japanese again, with the status in Japanese words.
        ix = await world.discord.slash_command(world.alice, world.channel, "history")
        history = embed(await ix.wait_response())
        assert history["title"] == "このサーバーでのあなたのジョブ"
        assert "a red fox in snow" in history["description"]  # her prompt, as typed
        assert "件のジョブ（新しい順）" in history["footer"]["text"]  # noqa: RUF001

        # A member whose Discord is in English reads English.
        ix = await world.discord.slash_command(world.bob, world.channel, "notify")
        said = content(await ix.wait_response())
        assert said.startswith("Result DMs are off. Change it with /notify dm:on")

        ix = await world.discord.slash_command(world.alice, world.channel, "notify")
        said = content(await ix.wait_response())
        assert said.startswith("結果の DM はオフです。")
        # The command, its option and the choices as her Discord names them.
        assert "/通知 dm:オン" in said


async def test_a_community_servers_language_is_the_default_until_admins_choose(
    world: World, admin: FakeUser
):
    # Not a community server: whatever preferred_locale says is no choice of its admins.
    world.guild.locale = "ja"
    async with world.running() as bot:
        ix = await world.discord.slash_command(
            world.bob, world.channel, "imagine", {"prompt": "a first fox"}
        )
        first = await status_line(ix)
        assert first.startswith("⏳ Queued: **a first fox** for <@")

        world.discord.make_community(world.guild, "fr")
        await world.discord.feed.wait_for(
            lambda: (
                (guild := bot.get_guild(world.guild.id)) is not None
                and "COMMUNITY" in guild.features
            ),
            5.0,
            "the bot to hear the server became a community",
        )
        ix = await world.discord.slash_command(
            world.bob, world.channel, "imagine", {"prompt": "a second fox"}
        )
        second = await status_line(ix)
        assert second.startswith(f"⏳ En attente : **a second fox** pour <@{world.bob.id}>")

        ix = await world.discord.slash_command(admin, world.channel, "settings show")
        shown = embed(await ix.wait_response())
        assert (
            field(shown, "Language of the bot's posts")
            == "Français (Discord's, until you choose one)"
        )

        # The admins' choice wins over Discord's, and "Discord's" gives it back.
        ix = await world.discord.slash_command(
            admin, world.channel, "settings language", {"language": "pt_BR"}
        )
        await ix.wait_response()
        ix = await world.discord.slash_command(
            world.bob, world.channel, "imagine", {"prompt": "a third fox"}
        )
        third = await status_line(ix)
        assert third.startswith(f"⏳ Na fila: **a third fox** para <@{world.bob.id}>")

        ix = await world.discord.slash_command(
            admin, world.channel, "settings language", {"language": "discord"}
        )
        answer = await ix.wait_response()
        assert embed(answer)["description"] == (
            "The bot now posts in the server's language in Discord (Français)."
        )
        assert (await bot.store.server_settings(world.guild.id)).language == ""


def translation(locale: str, message: str, plural: str | None = None, n: int = 1) -> str:
    """The shipped catalog's own translation of ``message`` (its placeholders unfilled), which
    must be one: a test that read English here would prove nothing about the language."""
    catalogs = i18n.shipped()
    if plural is None:
        text = catalogs.gettext(locale, message)
    else:
        text = catalogs.ngettext(locale, message, plural, n)
    assert text not in (message, plural), f"the {locale} catalog does not translate {message!r}"
    return text


def shaped(text: str, **known: str) -> str:
    """A pattern of ``text`` (a catalog's translation): each ``{name}`` in ``known`` as given,
    any other placeholder as some text."""
    parts = re.split(r"\{(\w+)\}", text)
    return "".join(
        re.escape(part) if i % 2 == 0 else re.escape(known[part]) if part in known else ".+?"
        for i, part in enumerate(parts)
    )


def reads(shown: str, text: str, **known: str) -> bool:
    return re.fullmatch(shaped(text, **known), shown, flags=re.DOTALL) is not None


async def choose_language(world: World, admin: FakeUser, language: str) -> None:
    ix = await world.discord.slash_command(
        admin, world.channel, "settings language", {"language": language}
    )
    await ix.wait_response()


def press_id(job_id: str, button: str) -> str:
    return f"akool:v1:{job_id}:{button}"


async def test_results_and_upscales_follow_the_server_while_answers_follow_the_member(
    world: World, admin: FakeUser
):
    world.alice.locale = "ja"
    async with world.running():
        await choose_language(world, admin, "de")
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a red fox"}
        )
        await ix.wait_response()
        grid = await world.wait_for_post(lambda m: world.is_post(m) and bool(m.components))
        assert isinstance(grid.nonce, str)
        grid_id = grid.nonce

        # The press's status line names the upscale in German.
        upscale_of = shaped(
            translation("de", "Upscale {button} of `{job}`"), button="U1", job=grid_id
        )
        ix = await world.discord.click(world.alice, grid, press_id(grid_id, "U1"))
        await ix.wait_response()
        await world.wait_for_post(lambda m: re.search(upscale_of, m.content) is not None)
        (child_id,) = [j for j in world.akool.jobs if j != grid_id]
        upscale = await world.wait_for_post(world.is_post_of(child_id))

        # Her private answers about it are hers alone, in her Japanese: a refusal, and /status.
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "\u200b"}
        )
        refused = await ix.wait_response()
        ix = await world.discord.slash_command(
            world.alice, world.channel, "status", {"job_id": child_id}
        )
        status = await ix.wait_followup(timeout=10)

    # The grid: its embed's words in German.
    (grid_embed,) = grid.embeds
    names = [f["name"] for f in grid_embed["fields"]]
    assert translation("de", "Job") in names
    assert translation("de", "Time") in names
    # The upscale's own post, in German.
    first_line = upscale.content.split("\n")[0]
    assert reads(
        first_line,
        translation("de", "{prompt} - Upscaled ({button}) by {member}"),
        prompt="**a red fox**",
        button="U1",
        member=f"<@{world.alice.id}>",
    ), first_line
    assert refused.ephemeral
    assert content(refused) == translation(
        "ja", "The prompt is empty. Describe the image you want."
    )
    assert status.ephemeral
    (shown,) = status.embeds
    names = [f["name"] for f in shown["fields"]]
    assert translation("ja", "Status") in names
    assert translation("ja", "Requested by") in names
    done = i18n.shipped().pgettext("ja", "job status", "Done")
    assert done != "Done"
    assert field(shown, translation("ja", "Status")).endswith(f" {done}")


async def test_a_failure_is_posted_in_the_servers_language_and_read_in_each_members(
    world: World, admin: FakeUser
):
    world.alice.locale = "ja"
    world.bob.locale = "de"
    # AKOOL never finishes: the bot gives up after its timeout and stores why.
    world.akool.timeline = Timeline(processing_after=0.05, finished_after=3600.0)
    async with world.running(job_timeout=1.0) as bot:
        await choose_language(world, admin, "de")
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a slow fox"}
        )
        await ix.wait_response()
        post = await world.wait_for_post(world.is_post, timeout=15)
        assert isinstance(post.nonce, str)
        job_id = post.nonce
        stored = await bot.store.get_job(job_id)

        statuses = {}
        for member in (world.bob, world.alice):
            ix = await world.discord.slash_command(
                member, world.channel, "status", {"job_id": job_id}
            )
            statuses[member.locale] = await ix.wait_followup(timeout=10)

    assert stored is not None
    assert stored.error is not None
    # Stored as the sentence and its values, not as English.
    assert stored.error.startswith("{")
    why = stored_text.timed_out(1, job_id)
    assert why.plural is not None
    (failure,) = post.embeds
    assert failure["title"] == translation("de", "The image could not be made")
    reason = translation("de", why.message, why.plural, 1)
    assert reads(failure["description"], reason, n="1", job=job_id), failure["description"]
    for locale, answer in statuses.items():
        assert answer.ephemeral
        (shown,) = answer.embeds
        error = field(shown, translation(locale, "Error"))
        reason = translation(locale, why.message, why.plural, 1)
        assert reads(error, reason, n="1", job=job_id), (locale, error)


async def test_a_credit_cap_refusal_is_in_the_members_language(world: World):
    world.alice.locale = "ja"
    # The whole account may spend 1 credit a day; a job is expected to cost 2.
    async with world.running(credits_per_day=1):
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a costly fox"}
        )
        refused = await ix.wait_response()

    assert refused.ephemeral
    assert world.akool.calls["createbyprompt"] == 0
    passes = translation(
        "ja",
        "This would pass the daily credit cap the bot's operator set for the whole AKOOL "
        "account of {limit}: {n} was spent in the last 24 hours, and this job is "
        "expected to cost {cost}.",
        "This would pass the daily credit cap the bot's operator set for the whole AKOOL "
        "account of {limit}: {n} were spent in the last 24 hours, and this job is "
        "expected to cost {cost}.",
        0,
    )
    frees = translation("ja", "A job like this is expected to cost more than the whole cap.")
    whole = translation("ja", "{passes} {frees} Nothing was spent.")
    expected = shaped(
        whole,
        passes=passes.format(
            limit=i18n.ngettext("ja", "{n} credit", "{n} credits", 1), n="0", cost="2"
        ),
        frees=frees,
    )
    assert re.fullmatch(expected, content(refused)), content(refused)


async def test_the_job_loop_follows_a_new_language_at_once(world: World, admin: FakeUser):
    async with world.running():
        # A first result: the job loop reads the server's language (English) and keeps it.
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "an english fox"}
        )
        await ix.wait_response()
        first = await world.wait_for_post(lambda m: world.is_post(m) and bool(m.components))
        await choose_language(world, admin, "fr")
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a french fox"}
        )
        await ix.wait_response()
        second = await world.wait_for_post(
            lambda m: world.is_post(m) and bool(m.components) and m.id != first.id
        )

    def names(post: FakeMessage) -> list[str]:
        (shown,) = post.embeds
        return [f["name"] for f in shown["fields"]]

    assert "Time" in names(first)
    # Well within the 30 seconds the job loop may otherwise keep a server's language.
    assert translation("fr", "Time") in names(second)
