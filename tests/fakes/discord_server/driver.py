"""Driving fake users: slash commands, autocomplete, component clicks, modals and messages.

Interactions are built from the command definitions the bot synced (``PUT .../commands``), so a
test exercises the same names, option types and choices a real Discord client would send.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import discord

from tests.fakes.discord_server.gateway import Gateway
from tests.fakes.discord_server.interaction import FakeInteraction
from tests.fakes.discord_server.messages import DiscordState, walk_components
from tests.fakes.discord_server.models import (
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMessage,
    FakeRole,
    FakeUser,
)

log = logging.getLogger(__name__)

#: ``(filename, bytes)`` or ``(filename, bytes, content_type)`` for attachment options.
AttachmentSpec = tuple[str, bytes] | tuple[str, bytes, str] | FakeAttachment

#: What a bot may do in a DM with a user.
DM_APP_PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, embed_links=True, attach_files=True
).value

_SUBCOMMAND, _GROUP = 1, 2
_STRING, _INTEGER, _BOOLEAN, _USER, _CHANNEL, _ROLE, _MENTIONABLE, _NUMBER, _ATTACHMENT = (
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
)


class InteractionDriver(DiscordState):
    gateway: Gateway

    # ------------------------------------------------------------------ building blocks

    def _member_payload(
        self, guild: FakeGuild, user: FakeUser, channel: FakeChannel | None = None
    ) -> dict[str, Any]:
        """The member object of an interaction: ``permissions`` are the member's in the channel
        the interaction happens in (overwrites included), as Discord sends them."""
        member = guild.members.get(user.id)
        if member is None:
            raise ValueError(
                f"{user.name} is not a member of guild {guild.name!r}; use add_user(guild=...)"
            )
        data = member.payload()
        permissions = (
            guild.member_permissions(user.id)
            if channel is None
            else guild.channel_permissions(user.id, channel)
        )
        data["permissions"] = str(permissions)
        return data

    def _new_interaction(
        self,
        type_: int,
        user: FakeUser,
        channel: FakeChannel,
        data: Any,
        message: FakeMessage | None = None,
    ) -> FakeInteraction:
        """A realistic INTERACTION_CREATE payload (guild or DM) wrapped in a FakeInteraction.

        ``data`` is normally an object; a forged payload may carry anything there.
        """
        if channel.deleted:
            raise ValueError(f"channel {channel.name!r} was deleted")
        ix_id = self.snowflakes.next()
        # Real tokens are base64 of "interaction:<id>:<secret>"; unique per interaction.
        raw = f"interaction:{ix_id}:{secrets.token_urlsafe(96)}".encode()
        token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        guild = self.guilds.get(channel.guild_id) if channel.guild_id else None
        channel_data = channel.payload()
        payload: dict[str, Any] = {
            "id": str(ix_id),
            "application_id": str(self.application_id),
            "type": type_,
            "token": token,
            "version": 1,
            "channel_id": str(channel.id),
            "channel": channel_data,
            "locale": user.locale,
            "entitlements": [],
            "attachment_size_limit": self.channel_filesize_limit(channel),
            "data": data,
        }
        if guild is not None:
            member = self._member_payload(guild, user, channel)
            channel_data["permissions"] = member["permissions"]
            payload.update(
                guild_id=str(guild.id),
                guild_locale=guild.locale,
                guild={
                    "id": str(guild.id),
                    "locale": guild.locale,
                    "features": list(guild.features),
                },
                member=member,
                app_permissions=str(guild.channel_permissions(self.bot_user.id, channel)),
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(
                user=user.payload(),
                app_permissions=str(DM_APP_PERMISSIONS),
                authorizing_integration_owners={"0": str(self.bot_user.id)},
                context=1,
            )
        if message is not None:
            payload["message"] = message.payload()
        return FakeInteraction(
            id=ix_id,
            token=token,
            type=type_,
            application_id=self.application_id,
            guild_id=guild.id if guild else None,
            channel_id=channel.id,
            user=user,
            data=data if isinstance(data, dict) else {},
            feed=self.feed,
            payload=payload,
            message=message,
        )

    async def dispatch_interaction(
        self, ix: FakeInteraction, timeout: float = 5.0
    ) -> FakeInteraction:
        """Send INTERACTION_CREATE to the live shard that owns the interaction's guild."""
        guild = self.guilds.get(ix.guild_id) if ix.guild_id is not None else None
        if guild is not None and guild.bot_left:
            raise ValueError(f"the bot left guild {guild.name!r}: Discord delivers nothing from it")
        session = await self.feed.wait_for(
            lambda: self.gateway.session_for_guild(ix.guild_id),
            timeout,
            f"a connected bot shard owning guild {ix.guild_id}",
        )
        self.interactions[ix.id] = ix
        self.interactions_by_token[ix.token] = ix
        ix.shard_id = session.shard_id
        ix.dispatched_at = self.now()
        session.dispatch("INTERACTION_CREATE", ix.payload)
        self.feed.notify()
        log.debug(
            "fake discord: dispatched interaction %s (type %s) to shard %s",
            ix.id,
            ix.type,
            session.shard_id,
        )
        return ix

    # ------------------------------------------------------------------ forged interactions

    def command_data(self, channel: FakeChannel, name: str, options: Any = None) -> dict[str, Any]:
        """The ``data`` of ``/name`` (``"group sub"`` for subcommands) as the bot synced it, with
        ``options`` as the innermost option list exactly as given: no name, type or value checks.
        """
        parts = name.split()
        cmd = self.find_command(parts[0], channel.guild_id) if parts else None
        if cmd is None:
            raise LookupError(f"the bot has not synced /{name} here")
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1}
        if "guild_id" in cmd:
            data["guild_id"] = cmd["guild_id"]
        container = data
        defs: list[dict[str, Any]] = cmd.get("options") or []
        for sub in parts[1:]:
            sub_def = next((o for o in defs if o["name"] == sub), None)
            if sub_def is None:
                raise LookupError(f"/{name}: no subcommand or group {sub!r}")
            node: dict[str, Any] = {"name": sub, "type": sub_def["type"]}
            container["options"] = [node]
            container = node
            defs = sub_def.get("options") or []
        if options is not None:
            container["options"] = options
        return data

    async def send_interaction(
        self,
        type_: int,
        user: FakeUser,
        channel: FakeChannel,
        data: Any,
        *,
        message: FakeMessage | None = None,
        edit: Callable[[dict[str, Any]], None] | None = None,
        timeout: float = 5.0,
    ) -> FakeInteraction:
        """Dispatch an INTERACTION_CREATE whose ``data`` is exactly ``data``, past every check a
        Discord client makes: what a forged or broken client could get Discord to carry.

        ``edit`` may change the rest of the payload (drop the member, retype a field) before it
        is sent; the fake still routes the bot's answers by the interaction's original id and token.
        """
        ix = self._new_interaction(type_, user, channel, data, message=message)
        if edit is not None:
            edit(ix.payload)
        return await self.dispatch_interaction(ix, timeout)

    # ------------------------------------------------------------------ application commands

    def _command_data(
        self,
        channel: FakeChannel,
        name: str,
        options: Mapping[str, Any],
        attachments: Mapping[str, AttachmentSpec],
        focused: str | None,
    ) -> dict[str, Any]:
        parts = name.split()
        if not parts:
            raise ValueError("empty command name")
        cmd = self.find_command(parts[0], channel.guild_id)
        if cmd is None:
            known = sorted(
                {c["name"] for c in self.global_commands}
                | {c["name"] for c in self.guild_commands.get(channel.guild_id or 0, [])}
            )
            raise LookupError(f"the bot has not synced /{parts[0]} here (synced: {known})")
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1}
        if "guild_id" in cmd:
            data["guild_id"] = cmd["guild_id"]
        defs: list[dict[str, Any]] = cmd.get("options") or []
        container = data
        for sub in parts[1:]:
            sub_def = next(
                (o for o in defs if o["name"] == sub and o["type"] in (_SUBCOMMAND, _GROUP)), None
            )
            if sub_def is None:
                raise LookupError(f"/{name}: no subcommand or group {sub!r}")
            node: dict[str, Any] = {"name": sub, "type": sub_def["type"], "options": []}
            container["options"] = [node]
            container = node
            defs = sub_def.get("options") or []
        if any(o["type"] in (_SUBCOMMAND, _GROUP) for o in defs):
            raise LookupError(f"/{name} is a group; name one of its subcommands")
        resolved: dict[str, dict[str, Any]] = {}
        container["options"] = self._build_options(
            f"/{name}", defs, options, attachments, resolved, channel, focused
        )
        if resolved:
            data["resolved"] = resolved
        return data

    def _build_options(
        self,
        where: str,
        defs: list[dict[str, Any]],
        values: Mapping[str, Any],
        attachments: Mapping[str, AttachmentSpec],
        resolved: dict[str, dict[str, Any]],
        channel: FakeChannel,
        focused: str | None,
    ) -> list[dict[str, Any]]:
        by_name = {d["name"]: d for d in defs}
        unknown = (set(values) | set(attachments)) - set(by_name)
        if unknown:
            raise ValueError(f"{where}: unknown option(s) {sorted(unknown)}; has {sorted(by_name)}")
        out: list[dict[str, Any]] = []
        for d in defs:
            name = d["name"]
            if name in attachments:
                value: Any = attachments[name]
            elif name in values:
                value = values[name]
            else:
                if d.get("required") and focused is None:
                    raise ValueError(f"{where}: required option {name!r} missing")
                continue
            option: dict[str, Any] = {"name": name, "type": d["type"]}
            if name == focused:
                if not d.get("autocomplete"):
                    raise ValueError(f"{where}: option {name!r} has no autocomplete")
                # The client sends whatever the user has typed so far, always as text.
                option.update(value=str(value), focused=True)
            else:
                option["value"] = self._option_value(where, d, value, resolved, channel)
            out.append(option)
        if focused is not None and focused not in by_name:
            raise ValueError(f"{where}: focused option {focused!r} does not exist")
        return out

    def _option_value(
        self,
        where: str,
        d: dict[str, Any],
        value: Any,
        resolved: dict[str, dict[str, Any]],
        channel: FakeChannel,
    ) -> Any:
        kind = d["type"]
        name = d["name"]
        if kind == _STRING:
            value = str(value)
            if not d.get("min_length", 0) <= len(value) <= d.get("max_length", 6000):
                raise ValueError(f"{where}: {name!r} length out of range")
        elif kind == _INTEGER:
            # Discord's client takes only whole numbers for an integer option.
            if isinstance(value, bool) or int(value) != value:
                raise ValueError(f"{where}: {name!r}={value!r} is not a whole number")
            value = int(value)
        elif kind == _NUMBER:
            value = float(value)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(f"{where}: {name!r}={value!r} is not a number")
            # JSON has one kind of number: Discord sends a whole one without a fraction (1).
            if value.is_integer():
                value = int(value)
        elif kind == _BOOLEAN:
            value = bool(value)
        if kind in (_INTEGER, _NUMBER) and (
            ("min_value" in d and value < d["min_value"])
            or ("max_value" in d and value > d["max_value"])
        ):
            raise ValueError(
                f"{where}: {name!r}={value} outside [{d.get('min_value')}, {d.get('max_value')}]"
            )
        if d.get("choices") and value not in [c["value"] for c in d["choices"]]:
            raise ValueError(
                f"{where}: {name!r}={value!r} is not one of the choices {d['choices']}"
            )
        guild = self.guilds.get(channel.guild_id) if channel.guild_id else None
        if kind in (_USER, _ROLE, _MENTIONABLE):
            is_role = (
                kind == _ROLE
                or isinstance(value, FakeRole)
                or (
                    kind == _MENTIONABLE
                    and not isinstance(value, FakeUser)
                    and int(value) in self.roles
                )
            )
            if is_role:
                role = value if isinstance(value, FakeRole) else self.roles[int(value)]
                resolved.setdefault("roles", {})[str(role.id)] = role.payload()
                return str(role.id)
            user = value if isinstance(value, FakeUser) else self.users[int(value)]
            resolved.setdefault("users", {})[str(user.id)] = user.payload()
            if guild is not None and user.id in guild.members:
                member = self._member_payload(guild, user)
                member.pop("user")
                resolved.setdefault("members", {})[str(user.id)] = member
            return str(user.id)
        if kind == _CHANNEL:
            target = value if isinstance(value, FakeChannel) else self.channels[int(value)]
            allowed = d.get("channel_types")
            if allowed and target.type not in allowed:
                raise ValueError(f"{where}: {name!r} does not accept channel type {target.type}")
            data = target.payload()
            data["permissions"] = str(guild.member_permissions(self.bot_user.id) if guild else 0)
            resolved.setdefault("channels", {})[str(target.id)] = data
            return str(target.id)
        if kind == _ATTACHMENT:
            if isinstance(value, FakeAttachment):
                attachment = value
            else:
                filename, blob, *ctype = value
                attachment = self.store_attachment(
                    channel.id,
                    filename,
                    blob,
                    ephemeral=True,
                    content_type=ctype[0] if ctype else None,
                )
            resolved.setdefault("attachments", {})[str(attachment.id)] = attachment.payload()
            return str(attachment.id)
        return value

    async def slash_command(
        self,
        user: FakeUser,
        channel: FakeChannel,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        attachments: Mapping[str, AttachmentSpec] | None = None,
        timeout: float = 5.0,
    ) -> FakeInteraction:
        """``user`` runs ``/name`` (``"group sub"`` for subcommands) in ``channel``.

        Option values are typed per the synced definition (ints, floats, bools; FakeUser,
        FakeChannel, FakeRole for those types, with ``resolved`` filled in). Attachment options
        take ``(filename, bytes)``; the fake serves the bytes at an http://127.0.0.1 URL.
        """
        data = self._command_data(channel, name, options or {}, attachments or {}, None)
        ix = self._new_interaction(2, user, channel, data)
        return await self.dispatch_interaction(ix, timeout)

    async def autocomplete_interaction(
        self,
        user: FakeUser,
        channel: FakeChannel,
        name: str,
        options: Mapping[str, Any],
        focused: str,
        *,
        timeout: float = 5.0,
    ) -> FakeInteraction:
        values = dict(options)
        values.setdefault(focused, "")
        data = self._command_data(channel, name, values, {}, focused)
        ix = self._new_interaction(4, user, channel, data)
        return await self.dispatch_interaction(ix, timeout)

    async def autocomplete(
        self,
        user: FakeUser,
        channel: FakeChannel,
        name: str,
        options: Mapping[str, Any],
        focused: str,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """The ``{"name", "value"}`` choices the bot answers while ``user`` types ``focused``."""
        ix = await self.autocomplete_interaction(
            user, channel, name, options, focused, timeout=timeout
        )
        callback = await ix.wait_response(timeout)
        if callback.type != 8:
            raise AssertionError(f"autocomplete answered with callback type {callback.type}, not 8")
        return callback.choices

    # ------------------------------------------------------------------ components and modals

    async def click(
        self, user: FakeUser, message: FakeMessage, custom_id: str, *, timeout: float = 5.0
    ) -> FakeInteraction:
        """``user`` clicks the button ``custom_id`` on ``message`` (type 3 interaction)."""
        component = self._clickable(message, custom_id)
        data = {"custom_id": custom_id, "component_type": component["type"]}
        return await self._component_interaction(user, message, data, timeout)

    async def select(
        self,
        user: FakeUser,
        message: FakeMessage,
        custom_id: str,
        values: Sequence[str],
        *,
        timeout: float = 5.0,
    ) -> FakeInteraction:
        """``user`` picks ``values`` in the select menu ``custom_id`` on ``message``."""
        component = self._clickable(message, custom_id)
        data = {"custom_id": custom_id, "component_type": component["type"], "values": list(values)}
        return await self._component_interaction(user, message, data, timeout)

    def _clickable(self, message: FakeMessage, custom_id: str) -> dict[str, Any]:
        if message.deleted:
            raise ValueError(f"message {message.id} was deleted")
        component = self.button(message, custom_id)
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled; a user cannot use it")
        return component

    async def _component_interaction(
        self, user: FakeUser, message: FakeMessage, data: dict[str, Any], timeout: float
    ) -> FakeInteraction:
        channel = self.channels[message.channel_id]
        ix = self._new_interaction(3, user, channel, data, message=message)
        return await self.dispatch_interaction(ix, timeout)

    async def submit_modal(
        self,
        modal_of: FakeInteraction,
        values: Mapping[str, str | Sequence[str]],
        *,
        user: FakeUser | None = None,
        timeout: float = 5.0,
    ) -> FakeInteraction:
        """Fill in and submit the modal the bot opened (callback type 9) on ``modal_of``."""
        modal = next((r.data for r in modal_of.responses if r.type == 9), None)
        if modal is None:
            raise ValueError(f"interaction {modal_of.id} was not answered with a modal")

        def filled(comp: dict[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {"type": comp["type"]}
            if "id" in comp:
                out["id"] = comp["id"]
            if "custom_id" in comp:
                out["custom_id"] = comp["custom_id"]
                value = values.get(comp["custom_id"], "")
                if comp["type"] == 4:
                    out["value"] = value if isinstance(value, str) else ",".join(value)
                else:
                    out["values"] = [value] if isinstance(value, str) else list(value)
            if "components" in comp:
                out["components"] = [filled(c) for c in comp["components"]]
            if isinstance(comp.get("component"), dict):
                out["component"] = filled(comp["component"])
            return out

        known = {
            c["custom_id"]
            for c in walk_components(modal.get("components") or [])
            if "custom_id" in c
        }
        for comp in modal.get("components") or []:
            if isinstance(comp.get("component"), dict) and "custom_id" in comp["component"]:
                known.add(comp["component"]["custom_id"])
        if set(values) - known:
            raise ValueError(
                f"modal has no field(s) {sorted(set(values) - known)}; has {sorted(known)}"
            )
        data = {
            "custom_id": modal["custom_id"],
            "components": [filled(c) for c in modal.get("components") or []],
        }
        channel = self.channels[modal_of.channel_id]
        ix = self._new_interaction(
            5, user or modal_of.user, channel, data, message=modal_of.message
        )
        return await self.dispatch_interaction(ix, timeout)

    # ------------------------------------------------------------------ plain messages

    async def post_message(
        self, user: FakeUser, channel: FakeChannel, content: str, **fields: Any
    ) -> FakeMessage:
        """``user`` posts a message (delivered to the bot as MESSAGE_CREATE)."""
        body = {"content": content, **fields}
        return self.create_message(channel, user, body)
