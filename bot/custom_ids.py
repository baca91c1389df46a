"""The ``custom_id`` of every button the bot posts: namespaced, versioned, self-describing.

A button's state lives in its ``custom_id`` and in the database, never only in memory, so it keeps
working after restarts and days later. Discord caps a ``custom_id`` at 100 characters; ours are
about 35.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

CUSTOM_ID_MAX: Final = 100
PREFIX: Final = "akool:v1"
JOB_ID: Final = re.compile(r"^[0-9a-f]{24}$")

# U1-U4 upscale candidate n to 4K; V1-V4 make a variation of candidate n (AKOOL's createbybutton).
GRID_BUTTONS: Final = ("U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4")
# "show" reposts a finished job in the channel, like Midjourney's /show.
SHOW: Final = "show"

GRID_TEMPLATE: Final = rf"{PREFIX}:(?P<job>[0-9a-f]{{24}}):(?P<button>[UV][1-4])"
SHOW_TEMPLATE: Final = rf"{PREFIX}:(?P<job>[0-9a-f]{{24}}):{SHOW}"
_ANY: Final = re.compile(rf"{PREFIX}:(?P<job>[0-9a-f]{{24}}):(?P<action>[UV][1-4]|{SHOW})")
# Compiled as discord.py compiles a DynamicItem's template (bot.components registers both).
_DYNAMIC_TEMPLATES: Final = (re.compile(GRID_TEMPLATE), re.compile(SHOW_TEMPLATE))


@dataclass(frozen=True, slots=True)
class ButtonRef:
    """What a button names: the job it belongs to and the action (``U1``..``V4`` or ``show``)."""

    job_id: str
    action: str

    def __post_init__(self) -> None:
        if not JOB_ID.fullmatch(self.job_id):
            raise ValueError(f"not an AKOOL job id: {self.job_id!r}")
        if self.action not in (*GRID_BUTTONS, SHOW):
            raise ValueError(f"not a button: {self.action!r}")

    @property
    def custom_id(self) -> str:
        return f"{PREFIX}:{self.job_id}:{self.action}"

    @classmethod
    def parse(cls, custom_id: str) -> ButtonRef | None:
        """The button a ``custom_id`` names, or ``None`` if it is not one of ours."""
        if len(custom_id) > CUSTOM_ID_MAX:
            return None
        match = _ANY.fullmatch(custom_id)
        if match is None:
            return None
        return cls(match["job"], match["action"])


def normalise_job_id(text: str) -> str | None:
    """A user-typed job id, trimmed and lower-cased, if it has AKOOL's shape (24 hex characters)."""
    candidate = text.strip().lower()
    return candidate if JOB_ID.fullmatch(candidate) else None


def reaches_dynamic_item(
    custom_id: str, component_type: int, on_message: Collection[tuple[int, str]]
) -> bool:
    """Whether discord.py will hand this component press to one of the bot's dynamic items.

    discord.py calls a ``DynamicItem`` only when the ``custom_id`` fullmatches its template and
    the pressed message really carries a component of that type with that ``custom_id``; any
    other press it drops without a word, and the member sees "This interaction failed".
    ``on_message`` holds the ``(component type, custom_id)`` of every component on the message.
    """
    if not any(template.fullmatch(custom_id) for template in _DYNAMIC_TEMPLATES):
        return False
    return (component_type, custom_id) in on_message
