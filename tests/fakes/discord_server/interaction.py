"""Event-driven waiting and the record of one interaction the fake dispatched."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tests.fakes.discord_server.models import (
    MESSAGE_FLAG_EPHEMERAL,
    FakeMessage,
    FakeUser,
    InteractionCallback,
)

T = TypeVar("T")

MessagePredicate = Callable[[FakeMessage], bool]


class ChangeFeed:
    """Wakes every waiter whenever the fake's state changes.

    Each change swaps in a fresh :class:`asyncio.Event`, so ``notify`` can be called from plain
    (non-async) code and waiters never miss a change that happens between their check and their
    wait: they grab the current event *before* checking.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_for(
        self,
        check: Callable[[], T | None],
        timeout: float,
        what: str,
        detail: Callable[[], str] | None = None,
    ) -> T:
        """Return ``check()`` once it is not None; TimeoutError naming ``what`` otherwise.

        ``detail`` describes the state at the deadline, so a failing test shows what it got.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._event
            result = check()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = f"; {detail()}" if detail is not None else ""
                raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}{seen}")
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                continue


@dataclass(eq=False)
class FakeInteraction:
    """An interaction a fake user triggered, and everything the bot did in answer to it.

    ``original_message`` follows Discord's notion of ``@original``: the response message for
    types 4/5, or the clicked message for component interactions (types 6/7 edit it).
    """

    id: int
    token: str
    type: int
    application_id: int
    guild_id: int | None
    channel_id: int
    user: FakeUser
    data: dict[str, Any]
    feed: ChangeFeed
    payload: dict[str, Any] = field(default_factory=dict)
    message: FakeMessage | None = None  # the message a component lives on
    dispatched_at: float | None = None  # loop time the INTERACTION_CREATE was sent
    responses: list[InteractionCallback] = field(default_factory=list)
    original_message: FakeMessage | None = None
    followups: list[FakeMessage] = field(default_factory=list)
    original_edits: int = 0
    shard_id: int = 0

    @property
    def name(self) -> str | None:
        return self.data.get("name")

    @property
    def custom_id(self) -> str | None:
        return self.data.get("custom_id")

    @property
    def response(self) -> InteractionCallback | None:
        return self.responses[0] if self.responses else None

    @property
    def ephemeral(self) -> bool:
        """Whether the response is only visible to the invoking user (flag 64)."""
        if self.original_message is not None and self.original_message is not self.message:
            return bool(self.original_message.flags & MESSAGE_FLAG_EPHEMERAL)
        return bool(self.response and self.response.ephemeral)

    @property
    def deferred(self) -> bool:
        return bool(self.responses) and self.responses[0].type in (5, 6)

    async def wait_response(self, timeout: float = 5.0) -> InteractionCallback:
        """The first callback (type 4/5/6/7/8/9...), with its receive time and ``elapsed``."""
        return await self.feed.wait_for(
            lambda: self.response,
            timeout,
            f"a response to interaction {self.id} ({self.name or self.custom_id})",
        )

    async def wait_followup(
        self, predicate: MessagePredicate | None = None, timeout: float = 5.0
    ) -> FakeMessage:
        """The first follow-up message (``POST /webhooks/{app}/{token}``) matching ``predicate``."""

        def check() -> FakeMessage | None:
            for msg in self.followups:
                if predicate is None or predicate(msg):
                    return msg
            return None

        return await self.feed.wait_for(
            check,
            timeout,
            f"a follow-up to interaction {self.id}",
            lambda: f"follow-ups so far: {[m.content for m in self.followups]}",
        )

    async def wait_original_edit(
        self, predicate: MessagePredicate | None = None, timeout: float = 5.0
    ) -> FakeMessage:
        """``@original`` once it has been PATCHed at least once and ``predicate`` holds."""

        def check() -> FakeMessage | None:
            msg = self.original_message
            if self.original_edits and msg is not None and (predicate is None or predicate(msg)):
                return msg
            return None

        return await self.feed.wait_for(
            check,
            timeout,
            f"an edit of @original of interaction {self.id}",
            lambda: f"{self.original_edits} edit(s); @original is {self._describe_original()}",
        )

    def _describe_original(self) -> str:
        msg = self.original_message
        return "missing" if msg is None else f"{msg.content!r} (flags {msg.flags})"
