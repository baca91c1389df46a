"""Messages: creation, edits, deletion, mentions, nonces and the observation API."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from tests.fakes.discord_server.interaction import FakeInteraction, MessagePredicate
from tests.fakes.discord_server.models import (
    FakeChannel,
    FakeMessage,
    FakeUser,
    MessageEdit,
    Ping,
    iso_now,
)
from tests.fakes.discord_server.state import (
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    UploadedFile,
    WorldState,
)

log = logging.getLogger(__name__)

_USER_MENTION = re.compile(r"<@!?([0-9]{15,21})>")
_ROLE_MENTION = re.compile(r"<@&([0-9]{15,21})>")


def walk_components(components: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Depth-first, row order; covers action rows and components-v2 containers/sections."""
    for comp in components:
        yield comp
        yield from walk_components(comp.get("components") or [])
        accessory = comp.get("accessory")
        if isinstance(accessory, dict):
            yield accessory


def _number_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give components without one the numeric ``id`` Discord assigns (1, 2, ... in order)."""
    copied: list[dict[str, Any]] = _deep_copy(components)
    used = {c["id"] for c in walk_components(copied) if isinstance(c.get("id"), int)}
    counter = 0
    for comp in walk_components(copied):
        if "id" not in comp:
            counter += 1
            while counter in used:
                counter += 1
            comp["id"] = counter
    return copied


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


class DiscordState(WorldState):
    """The world plus every message in it: what REST handlers and the driver work on."""

    # ------------------------------------------------------------------ messages

    def _mentions(self, msg: FakeMessage, allowed: dict[str, Any] | None, *, source: str) -> None:
        """Work out whom ``msg.content`` pings as Discord does, and record it (``msg.pings``).

        ``allowed`` is the request's ``allowed_mentions``; without one Discord pings everything
        the content mentions (and the author of the message replied to). With one, ``parse``
        lets in every user, role or @everyone/@here mention of its kind, ``users``/``roles``
        only those named by id, and ``replied_user`` the author replied to.
        """
        parse = (
            set(allowed.get("parse") or [])
            if allowed is not None
            else {"users", "roles", "everyone"}
        )
        allowed_users = {int(u) for u in (allowed or {}).get("users") or []}
        allowed_roles = {int(r) for r in (allowed or {}).get("roles") or []}
        mentioned: list[FakeUser] = []
        for raw in _USER_MENTION.findall(msg.content):
            uid = int(raw)
            user = self.users.get(uid)
            if (
                user is not None
                and ("users" in parse or uid in allowed_users)
                and user not in mentioned
            ):
                mentioned.append(user)
        replied = msg.referenced
        replied_ok = allowed is None or bool(allowed.get("replied_user"))
        if replied is not None and replied_ok and replied.author not in mentioned:
            mentioned.append(replied.author)
        msg.mentions = mentioned
        msg.mention_roles = list(
            dict.fromkeys(
                int(r)
                for r in _ROLE_MENTION.findall(msg.content)
                if int(r) in self.roles and ("roles" in parse or int(r) in allowed_roles)
            )
        )
        msg.mention_everyone = "everyone" in parse and (
            "@everyone" in msg.content or "@here" in msg.content
        )
        msg.pings.append(
            Ping(
                source=source,
                content=msg.content,
                allowed_mentions=allowed,
                users=tuple(u.id for u in msg.mentions),
                roles=tuple(msg.mention_roles),
                everyone=msg.mention_everyone,
            )
        )

    def find_nonce(self, channel: FakeChannel, author: FakeUser, nonce: Any) -> FakeMessage | None:
        """The message an ``enforce_nonce`` send with this nonce already created, if recent."""
        hit = self._nonces.get((channel.id, f"{author.id}:{nonce}"))
        if hit is None:
            return None
        msg, created = hit
        if self.now() - created > self.nonce_window or msg.deleted:
            return None
        return msg

    def create_message(
        self,
        channel: FakeChannel,
        author: FakeUser,
        body: dict[str, Any],
        files: Sequence[UploadedFile] = (),
        *,
        msg_type: int = 0,
        webhook_id: int | None = None,
        interaction: FakeInteraction | None = None,
        flags: int | None = None,
    ) -> FakeMessage:
        """Create a message from a (validated) create body; fans out MESSAGE_CREATE."""
        attachments, _used = self._new_attachments(
            channel.id, body, list(files), only_referenced=False
        )
        referenced = None
        reference = body.get("message_reference")
        if reference and reference.get("message_id"):
            referenced = self.all_messages.get(int(reference["message_id"]))
            reference = {
                "type": int(reference.get("type", 0)),
                "message_id": str(reference["message_id"]),
                "channel_id": str(reference.get("channel_id") or channel.id),
                **({"guild_id": str(channel.guild_id)} if channel.guild_id else {}),
            }
            if msg_type == 0:
                msg_type = 19  # REPLY
        msg = FakeMessage(
            id=self.snowflakes.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            content=str(body.get("content") or ""),
            embeds=list(body.get("embeds") or []),
            components=_number_components(list(body.get("components") or [])),
            flags=int(body.get("flags") or 0) if flags is None else flags,
            message_reference=reference or None,
            referenced=referenced,
            allowed_mentions=body.get("allowed_mentions"),
            nonce=body.get("nonce"),
            attachments=attachments,
            tts=bool(body.get("tts", False)),
            type=msg_type,
            webhook_id=webhook_id,
            application_id=self.application_id if webhook_id else None,
            created_at=self.now(),
        )
        if interaction is not None:
            msg.interaction_metadata = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.user.payload(),
                "authorizing_integration_owners": {"0": str(interaction.guild_id or 0)},
            }
        self._mentions(msg, msg.allowed_mentions, source="create")
        self.all_messages[msg.id] = msg
        if body.get("nonce") is not None and body.get("enforce_nonce"):
            self._nonces[(channel.id, f"{author.id}:{body['nonce']}")] = (msg, self.now())
        if not msg.ephemeral:
            self._channel_messages.setdefault(channel.id, []).append(msg.id)
            channel.last_message_id = msg.id
            self._emit_message("MESSAGE_CREATE", msg)
        self.feed.notify()
        return msg

    def _emit_message(self, event: str, msg: FakeMessage) -> None:
        if msg.ephemeral:
            return
        data = msg.payload()
        intent = INTENT_DIRECT_MESSAGES
        if msg.guild_id is not None:
            intent = INTENT_GUILD_MESSAGES
            data["guild_id"] = str(msg.guild_id)
            member = self.guilds[msg.guild_id].members.get(msg.author.id)
            if member is not None and msg.webhook_id is None:
                data["member"] = member.payload(with_user=False)
        # Content of others' messages is withheld without the MESSAGE_CONTENT intent unless the
        # bot is mentioned (or it is a DM).
        privileged = (
            msg.author.id != self.bot_user.id
            and msg.guild_id is not None
            and self.bot_user not in msg.mentions
        )
        self._emit(event, data, msg.guild_id, intent, privileged_content=privileged)

    def edit_message(
        self,
        msg: FakeMessage,
        body: dict[str, Any],
        files: Sequence[UploadedFile] = (),
        *,
        source: str,
        mark_edited: bool = True,
    ) -> FakeMessage:
        """Apply a PATCH body (content/embeds/components/flags/allowed_mentions/attachments)."""
        previous = msg.payload()
        changes: dict[str, Any] = {}
        if "content" in body:
            msg.content = str(body["content"] or "")
            changes["content"] = msg.content
        if "embeds" in body:
            msg.embeds = list(body["embeds"] or [])
            changes["embeds"] = msg.embeds
        if "components" in body:
            msg.components = _number_components(list(body["components"] or []))
            changes["components"] = msg.components
        if "flags" in body and body["flags"] is not None:
            # Only SUPPRESS_EMBEDS (and the v2 switch) can be changed by an edit.
            mutable = (1 << 2) | (1 << 15)
            msg.flags = (msg.flags & ~mutable) | (int(body["flags"]) & mutable)
            changes["flags"] = msg.flags
        if "allowed_mentions" in body or "content" in body:
            # Discord: an edit's own allowed_mentions, or none (the defaults), not the create's.
            msg.allowed_mentions = body.get("allowed_mentions")
            changes["allowed_mentions"] = msg.allowed_mentions
        if "attachments" in body or files:
            new, _used = self._new_attachments(
                msg.channel_id, body, list(files), only_referenced="attachments" in body
            )
            if "attachments" in body:
                keep = {int(a["id"]) for a in body["attachments"] or [] if "id" in a}
                kept = [a for a in msg.attachments if a.id in keep]
                for dropped in msg.attachments:
                    # Discord deletes a file that an edit leaves out.
                    dropped.gone = dropped.gone or dropped.id not in keep
            else:
                kept = list(msg.attachments)
            msg.attachments = kept + new
            changes["attachments"] = [a.filename for a in msg.attachments]
        if mark_edited:
            msg.edited_timestamp = iso_now()
        if "content" in body:
            # Discord rebuilds the mentions from the new content only when the content changes.
            self._mentions(msg, msg.allowed_mentions, source=source)
        msg.edits.append(
            MessageEdit(changes=changes, previous=previous, time=self.now(), source=source)
        )
        self._emit_message("MESSAGE_UPDATE", msg)
        self.feed.notify()
        return msg

    def delete_message(self, msg: FakeMessage) -> None:
        msg.deleted = True
        for attachment in msg.attachments:
            attachment.gone = True  # Discord deletes a message's files with it
        if not msg.ephemeral:
            data: dict[str, Any] = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
            intent = INTENT_DIRECT_MESSAGES
            if msg.guild_id is not None:
                data["guild_id"] = str(msg.guild_id)
                intent = INTENT_GUILD_MESSAGES
            self._emit("MESSAGE_DELETE", data, msg.guild_id, intent)
        self.feed.notify()

    def get_message(self, channel_id: int, message_id: int) -> FakeMessage | None:
        """A visible message of a live channel (ephemeral ones are not reachable by channel)."""
        msg = self.all_messages.get(message_id)
        if msg is None or msg.deleted or msg.channel_id != channel_id or msg.ephemeral:
            return None
        return msg

    # ------------------------------------------------------------------ observation API

    def messages(self, channel: FakeChannel, *, include_deleted: bool = False) -> list[FakeMessage]:
        """Public messages of ``channel`` in creation order, in their current (edited) state."""
        out = [self.all_messages[mid] for mid in self._channel_messages.get(channel.id, [])]
        return out if include_deleted else [m for m in out if not m.deleted]

    async def wait_for_message(
        self,
        channel: FakeChannel,
        predicate: MessagePredicate | None = None,
        timeout: float = 5.0,
        *,
        include_loading: bool = False,
    ) -> FakeMessage:
        """First message in ``channel`` (already there or yet to come) matching ``predicate``.

        Deferred "thinking" placeholders are skipped unless ``include_loading``; once a
        follow-up fills one in it counts like any other message.
        """

        def check() -> FakeMessage | None:
            for msg in self.messages(channel):
                if msg.loading and not include_loading:
                    continue
                if predicate is None or predicate(msg):
                    return msg
            return None

        return await self.feed.wait_for(
            check,
            timeout,
            f"a message in channel {channel.name!r}",
            lambda: f"channel has {[m.content for m in self.messages(channel)][-10:]}",
        )

    async def wait_for_any_message(
        self, predicate: MessagePredicate, timeout: float = 5.0, *, what: str = "a message"
    ) -> FakeMessage:
        """First live message anywhere (channels, DMs, ephemeral responses and follow-ups), in
        its current state, matching ``predicate``: for an answer whose route may vary."""

        def check() -> FakeMessage | None:
            return next(
                (m for m in self.all_messages.values() if not m.deleted and predicate(m)), None
            )

        return await self.feed.wait_for(check, timeout, what)

    async def wait_for_edit(
        self, message: FakeMessage, predicate: MessagePredicate | None = None, timeout: float = 5.0
    ) -> FakeMessage:
        """``message`` once it has been edited at least once and ``predicate`` holds."""

        def check() -> FakeMessage | None:
            if message.edits and (predicate is None or predicate(message)):
                return message
            return None

        return await self.feed.wait_for(
            check,
            timeout,
            f"an edit of message {message.id}",
            lambda: f"{len(message.edits)} edit(s), content now {message.content!r}",
        )

    @staticmethod
    def custom_ids(message: FakeMessage) -> list[str]:
        return [c["custom_id"] for c in walk_components(message.components) if "custom_id" in c]

    @staticmethod
    def button(message: FakeMessage, custom_id: str) -> dict[str, Any]:
        for comp in walk_components(message.components):
            if comp.get("custom_id") == custom_id:
                return comp
        raise KeyError(
            f"no component with custom_id {custom_id!r}; have {DiscordState.custom_ids(message)}"
        )
