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
# "reroll" starts a new grid with the same prompt; "delete" removes a result message.
REROLL: Final = "reroll"
DELETE: Final = "delete"
JOB_ACTIONS: Final = (*GRID_BUTTONS, SHOW, REROLL, DELETE)

_JOB: Final = rf"{PREFIX}:(?P<job>[0-9a-f]{{24}})"
GRID_TEMPLATE: Final = rf"{_JOB}:(?P<button>[UV][1-4])"
SHOW_TEMPLATE: Final = rf"{_JOB}:{SHOW}"
REROLL_TEMPLATE: Final = rf"{_JOB}:{REROLL}"
DELETE_TEMPLATE: Final = rf"{_JOB}:{DELETE}"
# /history pages: whose history, and which page. Only that member may turn the pages.
HISTORY_TEMPLATE: Final = rf"{PREFIX}:history:(?P<user>[1-9][0-9]{{0,19}}):(?P<page>[0-9]{{1,4}})"
_ANY: Final = re.compile(rf"{_JOB}:(?P<action>[UV][1-4]|{SHOW}|{REROLL}|{DELETE})")
# Compiled as discord.py compiles a DynamicItem's template (bot.components registers them all).
DYNAMIC_TEMPLATES: Final = tuple(
    re.compile(t)
    for t in (GRID_TEMPLATE, SHOW_TEMPLATE, REROLL_TEMPLATE, DELETE_TEMPLATE, HISTORY_TEMPLATE)
)


@dataclass(frozen=True, slots=True)
class ButtonRef:
    """What a job's button names: the job and the action (``U1``..``V4``, show, reroll, delete)."""

    job_id: str
    action: str

    def __post_init__(self) -> None:
        if not JOB_ID.fullmatch(self.job_id):
            raise ValueError(f"not an AKOOL job id: {self.job_id!r}")
        if self.action not in JOB_ACTIONS:
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


@dataclass(frozen=True, slots=True)
class HistoryRef:
    """A /history page button: the member whose history it is, and the page (0 = newest)."""

    user_id: int
    page: int

    @property
    def custom_id(self) -> str:
        return f"{PREFIX}:history:{self.user_id}:{self.page}"


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
    if not any(template.fullmatch(custom_id) for template in DYNAMIC_TEMPLATES):
        return False
    return (component_type, custom_id) in on_message
