"""Interaction payloads Discord should never send, dropped before discord.py parses them.

discord.py's ``parse_interaction_create`` runs inside the gateway's read loop and trusts the
payload's shape (``data['custom_id']`` and the like). When it raises, the shard task ends, the
client closes and ``Client.start()`` re-raises the error: the process exits. So every
INTERACTION_CREATE passes through :func:`guard_interactions` first, and a payload that cannot be
read is dropped with one warning while the bot carries on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, Final, TypeGuard

from discord.state import ConnectionState

from bot import logs

log = logging.getLogger(__name__)

_EVENT: Final = "INTERACTION_CREATE"
_SNOWFLAKE: Final = re.compile(r"[0-9]{1,20}")
_COMMAND, _COMPONENT, _AUTOCOMPLETE, _MODAL_SUBMIT = 2, 3, 4, 5


def _is_int(value: object) -> TypeGuard[int]:
    # JSON true and false arrive as bool, which Python counts as int.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_snowflake(value: object) -> bool:
    return isinstance(value, str) and _SNOWFLAKE.fullmatch(value) is not None


def component_press(data: object) -> tuple[str, int] | None:
    """The ``(custom_id, component_type)`` of a component interaction's ``data``, or ``None``
    when Discord's documented shape is not there."""
    if not isinstance(data, dict):
        return None
    custom_id, component_type = data.get("custom_id"), data.get("component_type")
    if not isinstance(custom_id, str) or not _is_int(component_type):
        return None
    return custom_id, component_type


def _modal_problem(data: dict[str, Any]) -> str | None:
    if not isinstance(data.get("custom_id"), str):
        return "its custom_id is not a string"
    components = data.get("components")
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        return "its components are not a list of objects"
    if not isinstance(data.get("resolved", {}), dict):
        return "its resolved data is not an object"
    return None


def interaction_problem(payload: object) -> str | None:
    """Why discord.py could not read this INTERACTION_CREATE payload; ``None`` if it can.

    Only the shape discord.py's parser relies on is checked here. Whether a command's options
    match the command is the command tree's question (it can still answer the user).
    """
    if not isinstance(payload, dict):
        return "the payload is not an object"
    if not _is_snowflake(payload.get("id")) or not isinstance(payload.get("token"), str):
        return "it has no usable id or token"
    kind = payload.get("type")
    if not _is_int(kind):
        return "its type is not an integer"
    if "guild_id" in payload:
        member = payload.get("member")
        if not isinstance(member, dict) or not isinstance(member.get("user"), dict):
            return "it names no member who sent it"
    elif not isinstance(payload.get("user"), dict):
        return "it names no user who sent it"
    if kind not in (_COMMAND, _COMPONENT, _AUTOCOMPLETE, _MODAL_SUBMIT):
        return None  # discord.py ignores the kinds it does not know
    data = payload.get("data")
    if not isinstance(data, dict):
        return "its data is not an object"
    if kind == _COMPONENT:
        if component_press(data) is None:
            return "its custom_id is not a string or its component_type not an integer"
        values = data.get("values", [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return "its values are not a list of strings"
    elif kind == _MODAL_SUBMIT:
        return _modal_problem(data)
    return None


def _describe(payload: object) -> str:
    """Which interaction a dropped payload was, as far as it says (ids are never secret)."""
    if not isinstance(payload, dict):
        return type(payload).__name__
    return f"interaction {payload.get('id')!r:.30} (type {payload.get('type')!r:.10})"


def _who_and_where(payload: dict[str, Any]) -> dict[str, object]:
    """The server, channel and member of a checked payload, for the log context."""
    member = payload.get("member")
    user = member.get("user") if isinstance(member, dict) else payload.get("user")
    channel = payload.get("channel")
    return {
        "server": payload.get("guild_id"),
        "channel": payload.get("channel_id")
        or (channel.get("id") if isinstance(channel, dict) else None),
        "member": user.get("id") if isinstance(user, dict) else None,
    }


def guard_interactions(state: ConnectionState[Any]) -> None:
    """Put the check in front of discord.py's INTERACTION_CREATE parser for ``state``.

    The gateway reads ``state.parsers`` (the same dict) for every shard and reconnect, so one
    replacement here covers them all.
    """
    parse: Callable[[Any], None] = state.parsers[_EVENT]

    def parse_interaction_create(payload: Any) -> None:
        problem = interaction_problem(payload)
        if problem is not None:
            log.warning("Dropped %s from the gateway: %s", _describe(payload), problem)
            return
        try:
            # Every task discord.py starts for it (the command, the button) inherits this, so
            # each log line about the interaction names its server, channel and member.
            with logs.context(**_who_and_where(payload)):
                parse(payload)
        except Exception as exc:
            # A shape the check above does not know; the process must live on all the same.
            log.warning(
                "Dropped %s from the gateway: discord.py could not read it (%r)",
                _describe(payload),
                exc,
            )
            log.debug("The payload discord.py could not read", exc_info=True)

    state.parsers[_EVENT] = parse_interaction_create
