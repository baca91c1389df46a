"""Plain data objects of the fake Discord and their v10 JSON shapes.

Every ``payload()`` method returns the object exactly as Discord's API v10 would serialise it,
so discord.py parses it with its normal code paths.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import discord

DISCORD_EPOCH_MS = 1_420_070_400_000

#: Permission set a member gets from ``@everyone`` unless told otherwise.
DEFAULT_MEMBER_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    add_reactions=True,
    use_external_emojis=True,
    use_application_commands=True,
).value

#: What a freshly invited bot usually holds through its managed role.
DEFAULT_BOT_PERMISSIONS = (
    DEFAULT_MEMBER_PERMISSIONS | discord.Permissions(manage_messages=True).value
)

ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = discord.Permissions(administrator=True).value

#: Upload limit per file by boost tier; mirrors discord.Guild._PREMIUM_GUILD_LIMITS.
FILESIZE_LIMITS = {
    0: 10 * 1024 * 1024,
    1: 10 * 1024 * 1024,
    2: 50 * 1024 * 1024,
    3: 100 * 1024 * 1024,
}
DM_FILESIZE_LIMIT = 10 * 1024 * 1024

MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7


def iso_now() -> str:
    """Discord's ISO-8601 timestamp format (always UTC with an explicit offset)."""
    return datetime.datetime.now(datetime.UTC).isoformat()


def permissions_value(value: int | discord.Permissions) -> int:
    return value.value if isinstance(value, discord.Permissions) else int(value)


class SnowflakeFactory:
    """Timestamp-based snowflakes, so ``discord.utils.snowflake_time`` gives a sensible time.

    Every id gets its own millisecond (the clock is pushed forward by 1 ms when ids are minted
    faster than that). Besides keeping ids strictly increasing, this spreads consecutive guild
    ids over shards, because Discord routes guild ``G`` to shard ``(G >> 22) % shard_count``.
    """

    def __init__(self, worker_id: int = 1, process_id: int = 0) -> None:
        self._worker = worker_id & 0x1F
        self._process = process_id & 0x1F
        self._last_ms = 0
        self._increment = 0

    def next(self) -> int:
        ms = max(int(time.time() * 1000), self._last_ms + 1)
        self._last_ms = ms
        self._increment = (self._increment + 1) & 0xFFF
        return (
            ((ms - DISCORD_EPOCH_MS) << 22)
            | (self._worker << 17)
            | (self._process << 12)
            | self._increment
        )


def shard_for(guild_id: int | None, shard_count: int) -> int:
    """Discord's sharding formula; DMs always go to shard 0."""
    if guild_id is None or shard_count <= 1:
        return 0
    return (guild_id >> 22) % shard_count


@dataclass(eq=False)
class FakeUser:
    id: int
    name: str
    bot: bool = False
    global_name: str | None = None
    discriminator: str = "0"
    #: The language the user's Discord client is set to: every interaction carries it.
    locale: str = "en-US"

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.name,
            "discriminator": self.discriminator,
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass(eq=False)
class FakeTeam:
    """The developer team that owns the application, as GET /oauth2/applications/@me shows it.

    ``members`` maps each user to their team role: "admin", "developer" or "read_only"
    (discord.py counts only admins and developers as the bot's owners).
    """

    id: int
    owner: FakeUser
    members: dict[FakeUser, str]
    name: str = "the team"

    def pseudo_user(self) -> FakeUser:
        """The application's ``owner`` when a team owns it: a user standing for the team."""
        return FakeUser(id=self.id, name=f"team{self.id}", discriminator="0000")

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "owner_user_id": str(self.owner.id),
            "members": [
                {
                    "team_id": str(self.id),
                    "membership_state": 2,  # accepted
                    "permissions": ["*"],
                    "role": role,
                    "user": user.payload(),
                }
                for user, role in self.members.items()
            ],
        }


@dataclass(eq=False)
class FakeRole:
    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass(eq=False)
class FakeMember:
    user: FakeUser
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    def payload(self, *, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        return data


@dataclass(eq=False)
class FakeChannel:
    id: int
    guild_id: int | None
    name: str
    type: int = 0  # 0 = GUILD_TEXT, 1 = DM
    position: int = 0
    topic: str | None = None
    recipient: FakeUser | None = None
    deleted: bool = False
    last_message_id: int | None = None
    #: Permission overwrites by role or member id: ``(type, allow, deny)``, type 0 a role
    #: (the guild's id is ``@everyone``), 1 a member.
    overwrites: dict[int, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def overwrites_payload(self) -> list[dict[str, Any]]:
        return [
            {"id": str(target), "type": kind, "allow": str(allow), "deny": str(deny)}
            for target, (kind, allow, deny) in self.overwrites.items()
        ]

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "flags": 0,
        }
        if self.guild_id is None:
            data["recipients"] = [self.recipient.payload()] if self.recipient else []
            return data
        data.update(
            guild_id=str(self.guild_id),
            name=self.name,
            position=self.position,
            permission_overwrites=self.overwrites_payload(),
            parent_id=None,
            topic=self.topic,
            nsfw=False,
            rate_limit_per_user=0,
        )
        return data


@dataclass(eq=False)
class FakeGuild:
    id: int
    name: str
    premium_tier: int = 0
    owner_id: int = 0
    roles: dict[int, FakeRole] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    #: ``preferred_locale``: Discord's default for every guild; only a community guild's admins
    #: can change it (so Discord sends a chosen one only with the ``COMMUNITY`` feature).
    locale: str = "en-US"
    features: list[str] = field(default_factory=list)
    #: The bot left (``DELETE /users/@me/guilds/{id}``): it is no member, gets no events or
    #: interactions from it, and a new gateway session does not list it.
    bot_left: bool = False

    @property
    def filesize_limit(self) -> int:
        return FILESIZE_LIMITS.get(self.premium_tier, FILESIZE_LIMITS[0])

    def member_permissions(self, user_id: int) -> int:
        """Guild-level permissions of a member: ``@everyone`` OR its roles; admin means all."""
        value = self.roles[self.id].permissions if self.id in self.roles else 0
        member = self.members.get(user_id)
        if member is not None:
            for role_id in member.roles:
                role = self.roles.get(role_id)
                if role is not None:
                    value |= role.permissions
        if user_id == self.owner_id or value & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return value

    def channel_permissions(self, user_id: int, channel: FakeChannel) -> int:
        """A member's permissions in ``channel``, as Discord works them out: the guild-level
        permissions, then the ``@everyone`` overwrite, the member's roles' overwrites together,
        and the member's own overwrite; the owner and administrators keep everything."""
        value = self.member_permissions(user_id)
        if value == ALL_PERMISSIONS:
            return value
        overwrites = channel.overwrites
        if self.id in overwrites:
            _, allow, deny = overwrites[self.id]
            value = (value & ~deny) | allow
        member = self.members.get(user_id)
        role_ids = set(member.roles) if member is not None else set()
        allow = deny = 0
        for target, (kind, role_allow, role_deny) in overwrites.items():
            if kind == 0 and target in role_ids:
                allow |= role_allow
                deny |= role_deny
        value = (value & ~deny) | allow
        if user_id in overwrites and overwrites[user_id][0] == 1:
            _, allow, deny = overwrites[user_id]
            value = (value & ~deny) | allow
        return value

    def base_payload(self) -> dict[str, Any]:
        """The guild object of ``GET /guilds/{id}`` (no channels/members, like Discord)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": list(self.features),
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }


@dataclass(eq=False)
class FakeAttachment:
    """A file on the fake CDN. Its links are signed and expire, as Discord's are since 2023
    (``?ex=<expiry>&is=<issued>&hm=<signature>``, both times in hex): ``sign`` makes a fresh one
    for ``path``, which is what every message payload carries."""

    id: int
    filename: str
    content_type: str
    data: bytes
    path: str  # on the CDN: /attachments/{channel}/{id}/{filename}
    sign: Callable[[FakeAttachment], str]
    description: str | None = None
    ephemeral: bool = False
    #: Deleted with its message, or dropped from it by an edit: the CDN no longer serves it.
    gone: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def url(self) -> str:
        """A freshly signed link, as a message fetch or event would carry now."""
        return self.sign(self)

    def payload(self) -> dict[str, Any]:
        url = self.url
        out: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": url,
            "proxy_url": url,
            "content_type": self.content_type,
        }
        if self.description is not None:
            out["description"] = self.description
        if self.ephemeral:
            out["ephemeral"] = True
        return out


@dataclass(frozen=True)
class Ping:
    """Whom a message pinged when it was created or its content was edited, worked out as
    Discord does from the content and the request's ``allowed_mentions``."""

    source: str  # "create", or the edit's source (see MessageEdit)
    content: str
    allowed_mentions: dict[str, Any] | None  # as the request sent it; None: none sent
    users: tuple[int, ...]
    roles: tuple[int, ...]
    everyone: bool  # @everyone or @here

    @property
    def named_users(self) -> set[int]:
        """The users ``allowed_mentions.users`` names by id (not those ``parse`` lets in)."""
        return {int(u) for u in (self.allowed_mentions or {}).get("users") or []}


@dataclass
class MessageEdit:
    """One applied edit: the fields changed, the payload before it, and when (loop time)."""

    changes: dict[str, Any]
    previous: dict[str, Any]
    time: float
    source: str  # "channel", "webhook", "interaction_callback" or "followup"


@dataclass(eq=False)
class FakeMessage:
    id: int
    channel_id: int
    guild_id: int | None
    author: FakeUser
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    message_reference: dict[str, Any] | None = None
    referenced: FakeMessage | None = None
    allowed_mentions: dict[str, Any] | None = None
    nonce: str | int | None = None
    attachments: list[FakeAttachment] = field(default_factory=list)
    tts: bool = False
    type: int = 0
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    mentions: list[FakeUser] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    # Every ping computation: at creation, then at each edit of the content.
    pings: list[Ping] = field(default_factory=list)
    timestamp: str = field(default_factory=iso_now)
    edited_timestamp: str | None = None
    edits: list[MessageEdit] = field(default_factory=list)
    deleted: bool = False
    reactions: dict[str, set[int]] = field(default_factory=dict)
    created_at: float = 0.0  # loop time

    @property
    def author_id(self) -> int:
        return self.author.id

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & MESSAGE_FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True while this is a deferred "Bot is thinking..." placeholder."""
        return bool(self.flags & MESSAGE_FLAG_LOADING)

    @property
    def mention_ids(self) -> list[int]:
        return [u.id for u in self.mentions]

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "channel_id": str(self.channel_id),
            "author": self.author.payload(),
            "content": self.content,
            "timestamp": self.timestamp,
            "edited_timestamp": self.edited_timestamp,
            "tts": self.tts,
            "mention_everyone": self.mention_everyone,
            "mentions": [u.payload() for u in self.mentions],
            "mention_roles": [str(r) for r in self.mention_roles],
            "attachments": [a.payload() for a in self.attachments],
            "embeds": [dict(e) for e in self.embeds],
            "components": [dict(c) for c in self.components],
            "pinned": False,
            "flags": self.flags,
        }
        if self.nonce is not None:
            data["nonce"] = self.nonce
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            data["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            data["interaction_metadata"] = self.interaction_metadata
        if self.message_reference is not None:
            data["message_reference"] = self.message_reference
            data["referenced_message"] = (
                self.referenced.payload()
                if self.referenced is not None and not self.referenced.deleted
                else None
            )
        if self.reactions:
            data["reactions"] = [
                {
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "me": self.author.id in users,
                    "me_burst": False,
                    "burst_colors": [],
                    "emoji": {"id": None, "name": emoji},
                }
                for emoji, users in self.reactions.items()
                if users
            ]
        return data


@dataclass
class RecordedRequest:
    """One REST call the bot made. ``path`` is relative to ``/api/v10`` and has no query."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[tuple[str, str, int]]  # (form field, filename, size)
    time: float
    status: int = 0


@dataclass
class InteractionCallback:
    """One ``POST /interactions/{id}/{token}/callback`` as received.

    ``elapsed`` is seconds since the fake dispatched the INTERACTION_CREATE, which is what
    Discord's 3-second rule for the first response is measured against.
    """

    type: int
    data: dict[str, Any] | None
    time: float
    elapsed: float
    attachments: list[FakeAttachment] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        return bool(self.data and int(self.data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL)

    @property
    def content(self) -> str:
        """The message text of a type 4 or 7 callback ("" for the others)."""
        return str((self.data or {}).get("content") or "")

    @property
    def choices(self) -> list[dict[str, Any]]:
        """Autocomplete result (callback type 8)."""
        return list((self.data or {}).get("choices", []))
