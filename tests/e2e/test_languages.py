"""Each reader in their own language: a member's private answers follow their Discord
(``interaction.locale``), the bot's posts in a channel follow the server's language, which its
admins choose with /settings language (until then: a community server's language in Discord,
else English)."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from tests.e2e.conftest import World
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
