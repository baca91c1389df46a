"""The fake Discord's world: application, guilds, channels, users, roles and commands.

Everything here is synchronous bookkeeping; the REST and gateway layers call into it and every
mutation calls ``self.feed.notify()`` so waiters re-check their conditions. Messages live in
:mod:`tests.fakes.discord_server.messages`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import mimetypes
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

import discord

from tests.fakes.discord_server.interaction import ChangeFeed, FakeInteraction
from tests.fakes.discord_server.models import (
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_MEMBER_PERMISSIONS,
    DM_FILESIZE_LIMIT,
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeTeam,
    FakeUser,
    SnowflakeFactory,
    permissions_value,
)

log = logging.getLogger(__name__)

# Gateway intent bits the fake honours when fanning out events.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

_FILE_FIELD = re.compile(r"files\[([0-9]+)\]")

#: How long a signed attachment link works: Discord's links last about a day.
ATTACHMENT_LINK_LIFETIME = 24 * 60 * 60.0

#: Event data, or a function building it from a session's intents (GUILD_CREATE differs).
EventData = dict[str, Any] | Callable[[int], dict[str, Any]]
#: (event name, data, guild id or None, intent bit, strip content for sessions without
#: MESSAGE_CONTENT) -> None. Installed by the gateway.
EventSink = Callable[[str, EventData, int | None, int, bool], None]

UploadedFile = tuple[str, str, bytes]  # (form field, filename, bytes)


class WorldState:
    """Who and what exists; shared by the REST handlers, the gateway and the test driver."""

    def __init__(self, *, token: str = "test-token", bot_name: str = "FakeBot") -> None:
        self.token = token
        self.snowflakes = SnowflakeFactory()
        # Modern applications share their id with their bot user.
        self.application_id = self.snowflakes.next()
        self.bot_user = FakeUser(
            id=self.application_id, name=bot_name, bot=True, discriminator="0001"
        )
        self.owner = FakeUser(id=self.snowflakes.next(), name="owner")
        #: The developer team owning the application, if a team does (see set_application_team).
        self.team: FakeTeam | None = None
        #: Discord creates applications as a Public Bot (anyone may add it to a server).
        self.bot_public = True
        self.feed = ChangeFeed()
        self.http_base = ""  # "http://127.0.0.1:PORT" once started
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.users: dict[int, FakeUser] = {
            self.bot_user.id: self.bot_user,
            self.owner.id: self.owner,
        }
        self.roles: dict[int, FakeRole] = {}
        self.all_messages: dict[int, FakeMessage] = {}
        self._channel_messages: dict[int, list[int]] = {}
        self.attachments: dict[int, FakeAttachment] = {}
        self._dm_channels: dict[int, FakeChannel] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.interactions_by_token: dict[str, FakeInteraction] = {}
        self._nonces: dict[tuple[int, str], tuple[FakeMessage, float]] = {}
        #: Discord de-duplicates ``enforce_nonce`` sends within "a few minutes".
        self.nonce_window = 300.0
        #: Discord drops an interaction that got no first response within 3 s (None: never).
        self.interaction_response_deadline: float | None = 3.0
        self._event_sink: EventSink | None = None
        #: Unix time for the CDN's signed links (a test moves it to age them without waiting).
        self.wall_clock: Callable[[], float] = time.time
        self.attachment_link_lifetime = ATTACHMENT_LINK_LIFETIME
        self._cdn_key = secrets.token_bytes(32)
        #: Every CDN download: (attachment id, HTTP status answered).
        self.cdn_requests: list[tuple[int, int]] = []

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def now() -> float:
        """Monotonic time on the same clock as ``asyncio``'s default ``loop.time()``."""
        return time.monotonic()

    def _emit(
        self,
        event: str,
        data: EventData,
        guild_id: int | None,
        intent: int,
        *,
        privileged_content: bool = False,
    ) -> None:
        if self._event_sink is not None:
            self._event_sink(event, data, guild_id, intent, privileged_content)

    # ------------------------------------------------------------------ world building

    def add_guild(
        self,
        name: str = "Test Guild",
        premium_tier: int = 0,
        *,
        bot_permissions: int | discord.Permissions = DEFAULT_BOT_PERMISSIONS,
        everyone_permissions: int | discord.Permissions = DEFAULT_MEMBER_PERMISSIONS,
        guild_id: int | None = None,
        shard: tuple[int, int] | None = None,
    ) -> FakeGuild:
        """A guild the bot is in: ``@everyone`` role, a managed bot role and the bot member.

        ``shard=(shard_id, shard_count)`` picks an id that Discord's formula
        ``(guild_id >> 22) % shard_count`` routes to ``shard_id``.
        """
        gid = guild_id or self.snowflakes.next()
        if shard is not None and guild_id is None:
            shard_id, shard_count = shard
            if not 0 <= shard_id < shard_count:
                raise ValueError(f"shard {shard_id} out of range for {shard_count} shards")
            while (gid >> 22) % shard_count != shard_id:
                gid = self.snowflakes.next()  # each id has its own millisecond: cycles residues
        guild = FakeGuild(id=gid, name=name, premium_tier=premium_tier, owner_id=self.owner.id)
        everyone = FakeRole(
            id=gid,
            guild_id=gid,
            name="@everyone",
            permissions=permissions_value(everyone_permissions),
        )
        bot_role = FakeRole(
            id=self.snowflakes.next(),
            guild_id=gid,
            name=self.bot_user.name,
            permissions=permissions_value(bot_permissions),
            position=1,
            managed=True,
            bot_id=self.bot_user.id,
        )
        for role in (everyone, bot_role):
            guild.roles[role.id] = role
            self.roles[role.id] = role
        guild.members[self.bot_user.id] = FakeMember(self.bot_user, gid, [bot_role.id])
        guild.members[self.owner.id] = FakeMember(self.owner, gid, [])
        self.guilds[gid] = guild
        self._emit(
            "GUILD_CREATE",
            lambda intents: self.guild_create_payload(guild, intents, joined=True),
            gid,
            0,
        )
        self.feed.notify()
        return guild

    def add_channel(
        self, guild: FakeGuild, name: str = "general", *, topic: str | None = None
    ) -> FakeChannel:
        channel = FakeChannel(
            id=self.snowflakes.next(),
            guild_id=guild.id,
            name=name,
            position=len(guild.channel_ids),
            topic=topic,
        )
        self.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        self._channel_messages[channel.id] = []
        self._emit("CHANNEL_CREATE", channel.payload(), guild.id, INTENT_GUILDS)
        self.feed.notify()
        return channel

    def set_overwrite(
        self,
        channel: FakeChannel,
        target: FakeRole | FakeUser,
        *,
        allow: int | discord.Permissions = 0,
        deny: int | discord.Permissions = 0,
    ) -> None:
        """A permission overwrite on ``channel`` for a role (the guild's id: ``@everyone``) or a
        member, sent to the bot as CHANNEL_UPDATE."""
        kind = 0 if isinstance(target, FakeRole) else 1
        channel.overwrites[target.id] = (kind, permissions_value(allow), permissions_value(deny))
        self._emit("CHANNEL_UPDATE", channel.payload(), channel.guild_id, INTENT_GUILDS)
        self.feed.notify()

    def make_community(self, guild: FakeGuild, locale: str) -> None:
        """``guild`` becomes a community server whose admins chose ``locale`` as its language
        (only a community server can): the bot hears it as GUILD_UPDATE."""
        if "COMMUNITY" not in guild.features:
            guild.features.append("COMMUNITY")
        guild.locale = locale
        self._emit("GUILD_UPDATE", guild.base_payload(), guild.id, INTENT_GUILDS)
        self.feed.notify()

    def add_private_channel(
        self, guild: FakeGuild, name: str, *, seen_by: Iterable[FakeRole]
    ) -> FakeChannel:
        """A channel ``@everyone`` cannot view, and only ``seen_by`` roles (and the bot) can."""
        channel = self.add_channel(guild, name)
        view = discord.Permissions(view_channel=True)
        self.set_overwrite(channel, guild.roles[guild.id], deny=view)
        for role in (*seen_by, *(r for r in guild.roles.values() if r.bot_id is not None)):
            self.set_overwrite(channel, role, allow=view)
        return channel

    def add_role(
        self, guild: FakeGuild, name: str, permissions: int | discord.Permissions = 0
    ) -> FakeRole:
        role = FakeRole(
            id=self.snowflakes.next(),
            guild_id=guild.id,
            name=name,
            permissions=permissions_value(permissions),
            position=len(guild.roles),
        )
        guild.roles[role.id] = role
        self.roles[role.id] = role
        self._emit(
            "GUILD_ROLE_CREATE",
            {"guild_id": str(guild.id), "role": role.payload()},
            guild.id,
            INTENT_GUILDS,
        )
        return role

    def set_application_team(self, owner: FakeUser, members: dict[FakeUser, str]) -> FakeTeam:
        """Make a developer team own the application: ``members`` maps each user to their team
        role ("admin", "developer" or "read_only"); ``owner`` is the team's owner."""
        self.team = FakeTeam(id=self.snowflakes.next(), owner=owner, members=dict(members))
        return self.team

    def application_owner(self) -> FakeUser:
        """The application's ``owner`` field: its owner, or the team's pseudo-user."""
        return self.team.pseudo_user() if self.team is not None else self.owner

    def add_user(
        self,
        name: str = "alice",
        guild: FakeGuild | None = None,
        roles: Iterable[FakeRole | int] = (),
        permissions: int | discord.Permissions | None = None,
        *,
        nick: str | None = None,
    ) -> FakeUser:
        """A human user; with ``guild`` also a member of it.

        ``permissions`` (if given) becomes a dedicated role, so both the interaction's
        ``member.permissions`` and discord.py's role-based ``Member.guild_permissions`` agree.
        """
        user = FakeUser(id=self.snowflakes.next(), name=name, global_name=name.capitalize())
        self.users[user.id] = user
        if guild is not None:
            self.add_member(user, guild, roles=roles, permissions=permissions, nick=nick)
        return user

    def add_member(
        self,
        user: FakeUser,
        guild: FakeGuild,
        *,
        roles: Iterable[FakeRole | int] = (),
        permissions: int | discord.Permissions | None = None,
        nick: str | None = None,
    ) -> FakeMember:
        role_ids = [r.id if isinstance(r, FakeRole) else int(r) for r in roles]
        if permissions is not None:
            role_ids.append(self.add_role(guild, f"{user.name}-permissions", permissions).id)
        member = FakeMember(user, guild.id, role_ids, nick=nick)
        guild.members[user.id] = member
        data = member.payload()
        data["guild_id"] = str(guild.id)
        self._emit("GUILD_MEMBER_ADD", data, guild.id, INTENT_GUILD_MEMBERS)
        self.feed.notify()
        return member

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        """The bot's DM channel with ``user`` (created on first use, like Discord)."""
        channel = self._dm_channels.get(user.id)
        if channel is None:
            channel = FakeChannel(
                id=self.snowflakes.next(), guild_id=None, name="", type=1, recipient=user
            )
            self.channels[channel.id] = channel
            self._dm_channels[user.id] = channel
            self._channel_messages[channel.id] = []
        return channel

    def delete_channel(self, channel: FakeChannel) -> None:
        """Delete a channel: later requests touching it answer 404 ``10003 Unknown Channel``."""
        channel.deleted = True
        for message_id in self._channel_messages.get(channel.id, []):
            for attachment in self.all_messages[message_id].attachments:
                attachment.gone = True  # the channel's files go with it
        if channel.guild_id is not None:
            guild = self.guilds[channel.guild_id]
            if channel.id in guild.channel_ids:
                guild.channel_ids.remove(channel.id)
        self._emit("CHANNEL_DELETE", channel.payload(), channel.guild_id, INTENT_GUILDS)
        self.feed.notify()

    def bot_leaves(self, guild: FakeGuild) -> None:
        """The bot leaves ``guild``: its member goes, and its sessions get GUILD_DELETE (with no
        ``unavailable`` key: discord.py's ``guild_remove``)."""
        guild.members.pop(self.bot_user.id, None)
        guild.bot_left = True
        self._emit("GUILD_DELETE", {"id": str(guild.id)}, guild.id, INTENT_GUILDS)
        self.feed.notify()

    def shard_of(self, guild: FakeGuild | int, shard_count: int) -> int:
        gid = guild.id if isinstance(guild, FakeGuild) else guild
        return (gid >> 22) % shard_count if shard_count > 1 else 0

    # ------------------------------------------------------------------ payloads

    def guild_create_payload(
        self, guild: FakeGuild, intents: int, *, joined: bool = False
    ) -> dict[str, Any]:
        """GUILD_CREATE as Discord sends it.

        After READY it carries ``unavailable: false`` (discord.py: ``guild_available``); for a
        guild the bot has just joined the key is absent (discord.py: ``guild_join``).

        Without the privileged GUILD_MEMBERS intent Discord only includes the bot's own member,
        so discord.py's member cache holds just ``guild.me``; the fake does the same.
        """
        data = guild.base_payload()
        if intents & INTENT_GUILD_MEMBERS:
            members = list(guild.members.values())
        else:
            members = [guild.members[self.bot_user.id]]
        me = guild.members[self.bot_user.id]
        data.update(
            joined_at=me.joined_at,
            large=False,
            member_count=len(guild.members),
            members=[m.payload() for m in members],
            channels=[self.channels[c].payload() for c in guild.channel_ids],
            threads=[],
            voice_states=[],
            presences=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
        )
        if not joined:
            data["unavailable"] = False
        return data

    def channel_filesize_limit(self, channel: FakeChannel) -> int:
        if channel.guild_id is None:
            return DM_FILESIZE_LIMIT
        return self.guilds[channel.guild_id].filesize_limit

    # ------------------------------------------------------------------ attachments

    def store_attachment(
        self,
        channel_id: int,
        filename: str,
        data: bytes,
        *,
        description: str | None = None,
        ephemeral: bool = False,
        content_type: str | None = None,
    ) -> FakeAttachment:
        """Keep the bytes and serve them back at ``{http_base}/attachments/...`` (the CDN)."""
        att_id = self.snowflakes.next()
        attachment = FakeAttachment(
            id=att_id,
            filename=filename,
            # discord.py labels every upload application/octet-stream; Discord sniffs the type.
            content_type=content_type
            or mimetypes.guess_type(filename)[0]
            or "application/octet-stream",
            data=data,
            path=f"/attachments/{channel_id}/{att_id}/{quote(filename)}",
            sign=self.signed_link,
            description=description,
            ephemeral=ephemeral,
        )
        self.attachments[att_id] = attachment
        return attachment

    def signed_link(self, attachment: FakeAttachment) -> str:
        """A link to ``attachment`` that works for :attr:`attachment_link_lifetime` from now."""
        issued = int(self.wall_clock())
        expires = int(issued + self.attachment_link_lifetime)
        ex, is_ = f"{expires:x}", f"{issued:x}"
        query = f"ex={ex}&is={is_}&hm={self._link_signature(attachment.id, ex, is_)}&"
        return f"{self.http_base}{attachment.path}?{query}"

    def link_works(self, attachment: FakeAttachment, query: Mapping[str, str]) -> bool:
        """Whether the CDN serves ``attachment`` for a link with this query: signed by this
        fake, not expired, and the file still kept (its message and place in it)."""
        ex, is_, hm = (query.get(key, "") for key in ("ex", "is", "hm"))
        if attachment.gone or not (ex and is_ and hm):
            return False
        if not hmac.compare_digest(hm, self._link_signature(attachment.id, ex, is_)):
            return False
        try:
            return int(ex, 16) > self.wall_clock()
        except ValueError:
            return False

    def _link_signature(self, attachment_id: int, ex: str, is_: str) -> str:
        message = f"{attachment_id}:{ex}:{is_}".encode()
        return hmac.new(self._cdn_key, message, hashlib.sha256).hexdigest()

    def _new_attachments(
        self,
        channel_id: int,
        body: dict[str, Any],
        files: list[UploadedFile],
        *,
        only_referenced: bool,
    ) -> tuple[list[FakeAttachment], set[int]]:
        """Attachments for uploaded ``files[n]`` parts, with ``attachments[]`` metadata by index."""
        meta: dict[int, dict[str, Any]] = {}
        for entry in body.get("attachments") or []:
            try:
                meta[int(entry["id"])] = entry
            except (KeyError, TypeError, ValueError):
                continue
        created: list[FakeAttachment] = []
        used: set[int] = set()
        for position, (form_field, filename, data) in enumerate(files):
            match = _FILE_FIELD.fullmatch(form_field)
            index = int(match.group(1)) if match else position
            entry = meta.get(index)
            if entry is None and only_referenced:
                log.warning(
                    "fake discord: uploaded file %r not listed in attachments; dropped", filename
                )
                continue
            used.add(index)
            created.append(
                self.store_attachment(
                    channel_id,
                    (entry or {}).get("filename") or filename,
                    data,
                    description=(entry or {}).get("description"),
                )
            )
        return created, used

    # ------------------------------------------------------------------ application commands

    def upsert_commands(
        self, bodies: list[dict[str, Any]], guild_id: int | None, *, replace: bool
    ) -> list[dict[str, Any]]:
        """Bulk overwrite (``replace``) or single upsert; keeps ids of same-name commands."""
        current = self.guild_commands.get(guild_id, []) if guild_id else self.global_commands
        by_key = {(c["name"], int(c.get("type", 1))): c for c in current}
        result: list[dict[str, Any]] = [] if replace else list(current)
        for body in bodies:
            key = (body["name"], int(body.get("type", 1)))
            old = by_key.get(key)
            cmd = {
                "id": old["id"] if old else str(self.snowflakes.next()),
                "application_id": str(self.application_id),
                "version": str(self.snowflakes.next()),
                "type": key[1],
                "name": body["name"],
                "name_localizations": body.get("name_localizations"),
                "description": body.get("description", ""),
                "description_localizations": body.get("description_localizations"),
                "options": body.get("options", []),
                "default_member_permissions": body.get("default_member_permissions"),
                "nsfw": bool(body.get("nsfw", False)),
                "contexts": body.get("contexts"),
                "integration_types": body.get("integration_types", [0]),
            }
            if guild_id:
                cmd["guild_id"] = str(guild_id)
            if not replace and old is not None:
                result[result.index(old)] = cmd
            else:
                result.append(cmd)
        if guild_id:
            self.guild_commands[guild_id] = result
        else:
            self.global_commands = result
        self.feed.notify()
        return result

    def find_command(
        self, name: str, guild_id: int | None, type_: int = 1
    ) -> dict[str, Any] | None:
        """Guild commands shadow global ones of the same name, as in the Discord client."""
        candidates = list(self.guild_commands.get(guild_id, [])) if guild_id else []
        candidates += self.global_commands
        for cmd in candidates:
            if cmd["name"] == name and int(cmd.get("type", 1)) == type_:
                return cmd
        return None
