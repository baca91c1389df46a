"""Every rule on every path: the server's rules apply where a member acts, on each way in.

One table over paths and rules. Each cell is either a private refusal that asks AKOOL nothing, or
"not applicable" with the reason; a path added to ``PATHS`` must take a position on every rule
(``test_every_path_takes_a_position_on_every_rule``). Each rule runs in one world: one grid, one
job made elsewhere and one stale claim serve all its paths.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import pytest

from bot.core import AkoolBot
from bot.jobs import STALE_CLAIM
from bot.server_settings import ServerSettings
from bot.store import JobKind, NewJob
from tests.e2e.conftest import World
from tests.fakes.akool import FakeJob
from tests.fakes.discord import FakeChannel, FakeInteraction, FakeMessage, FakeRole, FakeUser

BANNED = "dragon"
PROMPT = f"a red {BANNED}"  # the grid's prompt, and the job made elsewhere's


@dataclass
class Scene:
    """What every path acts on, in the channel ``images``, as the member ``carol``."""

    world: World
    bot: AkoolBot
    carol: FakeUser
    studio: FakeChannel
    artists: FakeRole
    grid: FakeMessage
    made_elsewhere: FakeJob

    @property
    def grid_id(self) -> str:
        assert isinstance(self.grid.nonce, str)
        return self.grid.nonce


Trigger = Callable[[Scene], Awaitable[FakeInteraction]]


def button(scene: Scene, name: str) -> str:
    return f"akool:v1:{scene.grid_id}:{name}"


async def imagine(scene: Scene) -> FakeInteraction:
    return await scene.world.discord.slash_command(
        scene.carol, scene.world.channel, "imagine", {"prompt": PROMPT}
    )


async def imagine_v4(scene: Scene) -> FakeInteraction:
    # Options only AKOOL's v4 has, the banned word only in what to leave out.
    options = {"prompt": "a red fox", "count": 2, "resolution": "1080p", "negative": BANNED}
    return await scene.world.discord.slash_command(
        scene.carol, scene.world.channel, "imagine", options
    )


async def track(scene: Scene) -> FakeInteraction:
    return await scene.world.discord.slash_command(
        scene.carol, scene.world.channel, "track", {"job_id": scene.made_elsewhere.id}
    )


async def status(scene: Scene) -> FakeInteraction:
    return await scene.world.discord.slash_command(
        scene.carol, scene.world.channel, "status", {"job_id": scene.grid_id}
    )


async def post_here(scene: Scene) -> FakeInteraction:
    # The button of a /status answer, on a message of the bot's in the channel.
    show = {"type": 2, "style": 2, "label": "Post here", "custom_id": button(scene, "show")}
    body = {"content": "Status", "components": [{"type": 1, "components": [show]}]}
    message = scene.world.discord.create_message(
        scene.world.channel, scene.world.discord.bot_user, body
    )
    return await scene.world.discord.click(scene.carol, message, button(scene, "show"))


async def press_u1(scene: Scene) -> FakeInteraction:
    return await scene.world.discord.click(scene.carol, scene.grid, button(scene, "U1"))


async def reroll(scene: Scene) -> FakeInteraction:
    return await scene.world.discord.click(scene.carol, scene.grid, button(scene, "reroll"))


async def reclaim_stale_v2(scene: Scene) -> FakeInteraction:
    # Alice's press of V2, left long ago by a process that died before asking AKOOL.
    await scene.bot.store.claim_press(
        scene.grid_id, "V2", scene.world.alice.id, now=scene.bot.clock() - 2 * STALE_CLAIM
    )
    return await scene.world.discord.click(scene.carol, scene.grid, button(scene, "V2"))


PATHS: dict[str, Trigger] = {
    "/imagine": imagine,
    "/imagine (v4 options)": imagine_v4,
    "/track": track,
    "/status": status,
    "Post here": post_here,
    "U/V": press_u1,
    "🔄": reroll,
    "stale re-claim": reclaim_stale_v2,
}


@dataclass(frozen=True)
class Rule:
    settings: Callable[[Scene], ServerSettings]
    refusal: str  # words of the private refusal
    # The operator's settings the rule needs (the bot runs with them).
    operator: dict[str, Any] = field(default_factory=dict)


# Every rule lets members look up ids the bot never saw, so /track is refused by the rule alone.
OPEN = ServerSettings(lookups_for_everyone=True)
RULES: dict[str, Rule] = {
    "channel not allowed": Rule(
        lambda s: ServerSettings(lookups_for_everyone=True, channels=frozenset({s.studio.id})),
        "works only in",
    ),
    "channel disallowed": Rule(
        lambda s: ServerSettings(
            lookups_for_everyone=True, channels_excluded=frozenset({s.world.channel.id})
        ),
        "does not work in",
    ),
    "role not allowed": Rule(
        lambda s: ServerSettings(lookups_for_everyone=True, roles=frozenset({s.artists.id})),
        "Only members with certain roles",
    ),
    "banned word": Rule(
        lambda s: OPEN.with_banned_word(BANNED), "which this server does not allow"
    ),
    "requester only": Rule(
        lambda s: ServerSettings(lookups_for_everyone=True, buttons_for_everyone=False),
        "may use its buttons",
    ),
    # Carol has one job today (see ``at_her_limit``) and the server allows one a day.
    "member limit": Rule(
        lambda s: OPEN.with_limits(active=None, daily=1), "this server allows 1 a day"
    ),
    # Alice's grid spent 2 credits, and Carol's unfinished job holds 2 more: no job fits under a
    # cap of 2, the server's own (set by its admins) or the operator's for the whole account.
    "credit cap": Rule(
        lambda s: OPEN.with_credit_limit(2, ceiling=None), "this server's daily credit cap"
    ),
    "account credit cap": Rule(
        lambda s: OPEN,
        "the daily credit cap the bot's operator set for the whole AKOOL account",
        operator={"credits_per_day": 2},
    ),
}
CAPS = ("credit cap", "account credit cap")


@dataclass(frozen=True)
class Refused:
    """Refused privately. ``lookups``: status calls it may make (AKOOL is asked for nothing
    else, and nothing is stored or posted)."""

    lookups: int = 0
    why: str = ""


@dataclass(frozen=True)
class NotApplicable:
    why: str


@dataclass(frozen=True)
class Unaffected:
    """Not refused: the path does what it does (it spends nothing, so the rule has no say)."""

    why: str


Cell = Refused | NotApplicable | Unaffected

NO_PRESS = NotApplicable("not a button press: no grid whose requester could own it")
FREE = NotApplicable("starts no paid job: it follows or shows a job already made (costs nothing)")
NO_PROMPT = NotApplicable("no prompt enters: a press varies or upscales the grid's image")
TABLE: dict[tuple[str, str], Cell] = {
    **{(path, rule): Refused() for path in PATHS for rule in RULES},
    ("/track", "banned word"): Refused(
        lookups=1,
        why="AKOOL must be asked once for the job's prompt; it is then neither followed nor "
        "posted here, in public",
    ),
    ("/status", "banned word"): NotApplicable(
        "its answer is private, to the member who asked; Post here is where it goes public"
    ),
    ("U/V", "banned word"): NO_PROMPT,
    ("stale re-claim", "banned word"): NO_PROMPT,
    ("/imagine", "requester only"): NO_PRESS,
    ("/imagine (v4 options)", "requester only"): NO_PRESS,
    ("/track", "requester only"): NO_PRESS,
    ("/status", "requester only"): NO_PRESS,
    ("Post here", "requester only"): NotApplicable(
        "its button is on the member's own private /status answer, and reposting spends nothing"
    ),
    ("/track", "member limit"): FREE,
    ("/status", "member limit"): FREE,
    ("Post here", "member limit"): FREE,
    **{
        (path, cap): Unaffected(FREE.why)
        for path in ("/track", "/status", "Post here")
        for cap in CAPS
    },
}


def test_every_path_takes_a_position_on_every_rule():
    assert set(TABLE) == set(product(PATHS, RULES))
    assert all(cell.why for cell in TABLE.values() if isinstance(cell, NotApplicable | Unaffected))


async def at_her_limit(bot: AkoolBot, world: World, carol: FakeUser) -> None:
    """One finished job of Carol's, made an hour ago."""
    assert world.guild.id is not None
    job = NewJob(
        akool_id="c" * 24,
        kind=JobKind.IMAGINE,
        requester_id=carol.id,
        channel_id=world.channel.id,
        guild_id=world.guild.id,
    )
    await bot.store.add_job(job, now=bot.clock() - 3600, due_at=None)


async def refusal_of(ix: FakeInteraction) -> tuple[bool, str]:
    """Whether the member's answer was private, and its words."""
    first = await ix.wait_response()
    if first.type == 4:
        return first.ephemeral, first.content
    followup = await ix.wait_followup()
    # A deferred reply (type 5) fixed its visibility when it was deferred.
    private = ix.ephemeral if first.type == 5 else followup.ephemeral
    return private, followup.content


@pytest.fixture(autouse=True)
def no_cooldown(monkeypatch: pytest.MonkeyPatch) -> None:
    """/status and /track follow one another here; the cooldown has its own tests."""
    monkeypatch.setattr("bot.lookups.LOOKUP_COOLDOWN", 0.0)


@pytest.mark.parametrize("rule", RULES)
async def test_the_rule_applies_on_every_path(world: World, rule: str):
    studio = world.discord.add_channel(world.guild, name="studio")
    artists = world.discord.add_role(world.guild, "artists")
    carol = world.discord.add_user(name="carol", guild=world.guild)
    made_elsewhere = world.akool.add_job(prompt=PROMPT)
    failures: list[str] = []
    async with world.running(**RULES[rule].operator) as bot:
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": PROMPT}
        )
        await ix.wait_original_edit(lambda m: "job `" in m.content)
        grid = await world.wait_for_post(lambda m: world.is_post(m) and bool(m.components))
        scene = Scene(world, bot, carol, studio, artists, grid, made_elsewhere)
        await at_her_limit(bot, world, carol)
        assert world.guild.id is not None
        settings = RULES[rule].settings(scene)
        await bot.store.save_server_settings(world.guild.id, settings, now=bot.clock())
        for path, trigger in PATHS.items():
            cell = TABLE[path, rule]
            if isinstance(cell, NotApplicable):
                continue
            if isinstance(cell, Unaffected):
                _, words = await refusal_of(await trigger(scene))
                if RULES[rule].refusal in words:
                    failures.append(f"{path} under {rule!r}: refused although it spends nothing")
                continue
            calls = Counter(world.akool.calls)
            posts = len(world.discord.messages(world.channel))
            private, words = await refusal_of(await trigger(scene))
            made = Counter(world.akool.calls) - calls
            problems = []
            if not private:
                problems.append("not private")
            if RULES[rule].refusal not in words:
                problems.append(f"answered {words!r}")
            if made != Counter({"infobymodelid": cell.lookups} if cell.lookups else {}):
                problems.append(f"AKOOL calls {dict(made)}")
            if len(world.discord.messages(world.channel)) != posts + (path == "Post here"):
                problems.append("posted in the channel")  # Post here's own button message aside
            if problems:
                failures.append(f"{path} under {rule!r}: {'; '.join(problems)}")
        tracked = await bot.store.get_job(made_elsewhere.id)

    assert not failures, "\n".join(failures)
    if isinstance(TABLE["/track", rule], Unaffected):
        assert tracked is not None  # it costs nothing, so the cap let it be followed
    else:
        assert tracked is None  # refused, the job made elsewhere is followed nowhere
