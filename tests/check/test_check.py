"""``akool-bot check``: every finding at once, each ❌ with its fix, exit 0 only when nothing is
❌, secrets never printed (the runner asserts that for every run)."""

from __future__ import annotations

import discord
import pytest

from bot.invite import invite_url
from tests.check.conftest import CheckRunner, Stage, without


async def test_all_green(stage: Stage, run_check: CheckRunner):
    checked = await run_check(stage)

    assert checked.status == 0, checked.out
    assert checked.lines("❌") == []
    assert checked.lines("⚠️") == [], checked.out
    assert "logged in as FakeBot" in checked.line("✅", "Discord")
    assert invite_url(stage.discord.application_id) in checked.line("✅", "Invite link")
    assert "#images" in checked.line("✅", "Art Club")
    assert checked.line("✅", "AKOOL", "credits")
    assert checked.line("✅", "Database", "migrations applied")
    # REST only: a running bot's gateway session is not disturbed.
    assert stage.discord.gateway.sessions == {}
    assert stage.discord.requests_matching("GET", r"^/gateway") == []


async def test_every_settings_problem_at_once_and_the_rest_still_checked(
    stage: Stage, run_check: CheckRunner
):
    stage.env = {**without(stage.env, "AKOOL_API_KEY"), "HTTP_PORT": "abc", "POLL_INTERVAL": "-1"}

    checked = await run_check(stage)

    assert checked.status == 1
    for words in (("AKOOL_API_KEY is missing",), ("HTTP_PORT",), ("POLL_INTERVAL",)):
        line = checked.line("❌", "Settings", *words)
        assert checked.fix_after(line)
    assert checked.line("⚠️", "AKOOL: not checked until AKOOL_API_KEY")
    # What does not depend on the broken values is still checked.
    assert checked.line("✅", "Discord: logged in")
    assert checked.line("✅", "Art Club")


async def test_a_refused_token(stage: Stage, run_check: CheckRunner):
    stage.env["DISCORD_TOKEN"] = "not-the-token"

    checked = await run_check(stage)

    assert checked.status == 1
    line = checked.line("❌", "Discord refused DISCORD_TOKEN")
    assert "Reset Token" in checked.fix_after(line)
    assert "not-the-token" not in checked.out
    assert checked.line("✅", "AKOOL: the API key works")  # the other parts went on


async def test_discord_unreachable(stage: Stage, run_check: CheckRunner):
    base = stage.discord.rest_base
    await stage.discord.close()
    stage.env["DISCORD_API_BASE_URL"] = base

    checked = await run_check(stage)

    assert checked.status == 1
    assert checked.fix_after(checked.line("❌", "cannot be reached"))


async def test_a_public_bot_is_a_warning(stage: Stage, run_check: CheckRunner):
    stage.discord.bot_public = True

    checked = await run_check(stage)

    assert checked.status == 0
    assert "Public Bot" in checked.fix_after(checked.line("⚠️", "Public Bot is on"))


async def test_the_bot_not_in_an_allowed_server(stage: Stage, run_check: CheckRunner):
    left = stage.discord.add_guild(name="Left Behind")
    stage.discord.bot_leaves(left)
    never = 123456789012345678
    stage.env["ALLOWED_GUILD_IDS"] = f"{stage.guild.id},{left.id},{never}"

    checked = await run_check(stage)

    assert checked.status == 1
    for guild_id in (left.id, never):
        line = checked.line("❌", f"Server {guild_id}", "not in it")
        assert "invite link" in checked.fix_after(line)
    assert checked.line("✅", "Art Club")


async def test_a_server_the_bot_is_in_but_not_allowed(stage: Stage, run_check: CheckRunner):
    stage.discord.add_guild(name="Stranger")

    checked = await run_check(stage)

    assert checked.status == 0
    assert "leaves that server" in checked.line("⚠️", "Stranger", "not in ALLOWED_GUILD_IDS")


async def test_without_allowed_servers_every_server_is_checked(
    stage: Stage, run_check: CheckRunner
):
    other = stage.discord.add_guild(name="Second Home")
    closed = stage.discord.add_channel(other, name="closed")
    stage.discord.set_overwrite(
        closed, other.roles[other.id], deny=discord.Permissions(send_messages=True)
    )
    stage.env.pop("ALLOWED_GUILD_IDS")

    checked = await run_check(stage)

    assert checked.status == 1
    assert checked.line("⚠️", "ALLOWED_GUILD_IDS is not set", "every server it is in (2)")
    assert checked.line("✅", "Art Club")
    assert checked.line("❌", "Second Home", "#closed", "Send Messages")


PERMISSIONS = [
    ("view_channel", "View Channels"),
    ("send_messages", "Send Messages"),
    ("attach_files", "Attach Files"),
    ("embed_links", "Embed Links"),
    ("read_message_history", "Read Message History"),
    ("send_messages_in_threads", "Send Messages in Threads"),
]


@pytest.mark.parametrize(("flag", "label"), PERMISSIONS)
async def test_a_channel_missing_a_permission(
    stage: Stage, run_check: CheckRunner, flag: str, label: str
):
    fine = stage.discord.add_channel(stage.guild, name="fine")
    # Denied to the bot's own role in one channel: the role still has it everywhere else.
    stage.discord.set_overwrite(
        stage.channel, stage.bot_role, deny=discord.Permissions(**{flag: True})
    )

    checked = await run_check(stage)

    assert checked.status == 1
    line = checked.line("❌", "Art Club", "#images", "lacks")
    lacked = line.split("lacks ", 1)[1]
    if flag == "view_channel":
        # Discord: a channel the bot cannot view grants it nothing at all.
        assert all(other in lacked for _, other in PERMISSIONS)
    elif flag == "send_messages":
        # Discord: without Send Messages, Attach Files and Embed Links go too.
        assert lacked.startswith("Send Messages, Attach Files, Embed Links (")
    else:
        assert lacked.startswith(f"{label} (")
    assert f"allow {lacked.split(' (')[0]} for the role" in checked.fix_after(line)
    assert stage.bot_role.name in checked.fix_after(line)
    assert f"#{fine.name}" in checked.line("✅", "Art Club")


async def test_permissions_come_from_roles_and_every_overwrite(
    stage: Stage, run_check: CheckRunner
):
    everyone = stage.guild.roles[stage.guild.id]
    # Seen only by the bot's role: @everyone's deny is overridden by the role's allow.
    stage.discord.add_private_channel(stage.guild, "staff", seen_by=[])
    # Denied to @everyone, allowed to the bot as a member: the member's overwrite wins.
    member = stage.discord.add_channel(stage.guild, name="member-allowed")
    attach = discord.Permissions(attach_files=True)
    stage.discord.set_overwrite(member, everyone, deny=attach)
    stage.discord.set_overwrite(member, stage.bot_role, deny=attach)
    stage.discord.set_overwrite(member, stage.discord.bot_user, allow=attach)
    # Allowed to @everyone but denied to the bot's role: the role's deny wins.
    denied = stage.discord.add_channel(stage.guild, name="role-denied")
    stage.discord.set_overwrite(denied, everyone, allow=attach)
    stage.discord.set_overwrite(denied, stage.bot_role, deny=attach)

    checked = await run_check(stage)

    good = checked.line("✅", "Art Club")
    assert "#staff" in good
    assert "#member-allowed" in good
    assert checked.line("❌", "#role-denied", "Attach Files")
    assert checked.status == 1
