"""The fake gateway: HELLO/IDENTIFY/READY/GUILD_CREATE, heartbeats, RESUME and dispatch fan-out.

Frames are plain-text JSON. discord.py asks for ``compress=zlib-stream`` in the query string but
only decompresses *binary* frames, so uncompressed text frames are accepted as-is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord_server.messages import DiscordState
from tests.fakes.discord_server.state import (
    INTENT_GUILD_MEMBERS,
    INTENT_MESSAGE_CONTENT,
    EventData,
)

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_MS = 41_250
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | INTENT_MESSAGE_CONTENT
HISTORY_LIMIT = 2000


@dataclass
class _Close:
    code: int
    reason: str


@dataclass(eq=False)
class GatewayConnection:
    """One websocket; frames go through a queue so they leave in the order they were made."""

    ws: web.WebSocketResponse
    queue: asyncio.Queue[str | _Close] = field(default_factory=asyncio.Queue)
    session: GatewaySession | None = None
    closed: bool = False

    def send(self, frame: dict[str, Any]) -> None:
        if not self.closed:
            self.queue.put_nowait(json.dumps(frame, separators=(",", ":")))

    def close(self, code: int, reason: str = "") -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(_Close(code, reason))

    async def run_writer(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                if isinstance(item, _Close):
                    await self.ws.close(code=item.code, message=item.reason.encode())
                    return
                await self.ws.send_str(item)
            except (ConnectionError, RuntimeError) as exc:
                log.debug("fake gateway: write failed (%s); connection gone", exc)
                self.closed = True
                return


@dataclass(eq=False)
class GatewaySession:
    """A gateway session (one bot shard); outlives its connection so it can be RESUMEd."""

    session_id: str
    shard_id: int
    shard_count: int
    intents: int
    identified_at: float
    connection: GatewayConnection | None = None
    seq: int = 0
    history: list[tuple[int, str]] = field(default_factory=list)
    ready: bool = False
    invalidated: bool = False

    def owns(self, guild_id: int | None) -> bool:
        if guild_id is None:
            return self.shard_id == 0
        return (guild_id >> 22) % self.shard_count == self.shard_id

    @property
    def live(self) -> bool:
        return self.connection is not None and not self.connection.closed and not self.invalidated

    def dispatch(self, event: str, data: dict[str, Any]) -> int:
        self.seq += 1
        frame = json.dumps({"op": 0, "t": event, "s": self.seq, "d": data}, separators=(",", ":"))
        self.history.append((self.seq, frame))
        del self.history[:-HISTORY_LIMIT]
        if self.live and self.connection is not None:
            self.connection.queue.put_nowait(frame)
        return self.seq


def _strip_content(data: dict[str, Any]) -> dict[str, Any]:
    """What Discord sends instead of a message body when MESSAGE_CONTENT is not granted."""
    out = dict(data)
    out.update(content="", embeds=[], attachments=[], components=[])
    out.pop("poll", None)
    return out


class Gateway:
    def __init__(self, state: DiscordState, url: Callable[[], str]) -> None:
        self.state = state
        self._url = url
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: set[GatewayConnection] = set()
        #: Privileged intents "enabled in the developer portal"; others are refused with 4014.
        self.allowed_privileged_intents = PRIVILEGED_INTENTS
        state._event_sink = self._sink

    # ------------------------------------------------------------------ fan-out

    def _sink(
        self, event: str, data: EventData, guild_id: int | None, intent: int, privileged: bool
    ) -> None:
        for session in list(self.sessions.values()):
            if session.invalidated or not session.ready or not session.owns(guild_id):
                continue
            if intent and not session.intents & intent:
                continue
            payload = data(session.intents) if callable(data) else data
            if privileged and not session.intents & INTENT_MESSAGE_CONTENT:
                payload = _strip_content(payload)
            session.dispatch(event, payload)

    def ready_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions.values() if s.ready and s.live]

    def session_for_guild(self, guild_id: int | None) -> GatewaySession | None:
        """The live session whose shard owns ``guild_id`` (the most recently identified one)."""
        owners = [s for s in self.ready_sessions() if s.owns(guild_id)]
        return max(owners, key=lambda s: s.identified_at) if owners else None

    def disconnect_all(self, code: int = 4000) -> None:
        """Drop every live connection; with a resumable code discord.py RESUMEs right away."""
        for conn in list(self.connections):
            conn.close(code, "fake discord: dropped")

    async def close(self) -> None:
        for session in self.sessions.values():
            session.invalidated = True
        for conn in list(self.connections):
            conn.close(1001, "fake discord shutting down")
            if not conn.ws.closed:
                with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
                    await asyncio.wait_for(conn.ws.close(code=1001), 1.0)

    # ------------------------------------------------------------------ websocket handler

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        log.debug("fake gateway: connection with query %s", dict(request.query))
        ws = web.WebSocketResponse(autoping=True, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        conn = GatewayConnection(ws)
        self.connections.add(conn)
        writer = asyncio.create_task(conn.run_writer())
        conn.send(
            {"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}, "s": None, "t": None}
        )
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._on_frame(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            self._on_disconnect(conn, ws.close_code)
            conn.close(1000)
            try:
                await asyncio.wait_for(writer, 2.0)
            except TimeoutError:
                writer.cancel()
            self.connections.discard(conn)
        return ws

    def _on_disconnect(self, conn: GatewayConnection, code: int | None) -> None:
        session = conn.session
        if session is None or session.connection is not conn:
            return
        session.connection = None
        # A client closing with 1000/1001 ends its session for good (Discord does the same).
        if code in (1000, 1001) and not conn.closed:
            session.invalidated = True
        log.debug(
            "fake gateway: session %s lost its connection (code %s)", session.session_id, code
        )
        self.state.feed.notify()

    def _on_frame(self, conn: GatewayConnection, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == 1:
            conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            self._identify(conn, data or {})
        elif op == 6:
            self._resume(conn, data or {})
        elif op == 8:
            self._request_members(conn, data or {})
        elif op in (3, 4):
            log.debug("fake gateway: ignoring op %s", op)
        else:
            log.warning("fake gateway: unsupported op %s: %s", op, frame)

    def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        state = self.state
        if data.get("token") != state.token:
            conn.close(4004, "Authentication failed.")
            return
        shard_id, shard_count = (data.get("shard") or [0, 1])[:2]
        if shard_count < 1 or not 0 <= shard_id < shard_count:
            conn.close(4010, "Invalid shard.")
            return
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~self.allowed_privileged_intents:
            conn.close(4014, "Disallowed intent(s).")
            return
        session = GatewaySession(
            session_id=secrets.token_hex(16),
            shard_id=int(shard_id),
            shard_count=int(shard_count),
            intents=intents,
            identified_at=state.now(),
            connection=conn,
        )
        conn.session = session
        self.sessions[session.session_id] = session
        owned = [g for g in state.guilds.values() if session.owns(g.id) and not g.bot_left]
        user = state.bot_user.payload()
        user.update(verified=True, mfa_enabled=False, email=None)
        session.dispatch(
            "READY",
            {
                "v": 10,
                "user": user,
                "user_settings": {},
                "guilds": [{"id": str(g.id), "unavailable": True} for g in owned],
                "session_id": session.session_id,
                "session_type": "normal",
                "resume_gateway_url": self._url(),
                "shard": [session.shard_id, session.shard_count],
                "application": {"id": str(state.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "auth": {},
                "_trace": ["fake-discord-gateway"],
            },
        )
        # Every GUILD_CREATE goes out in the same burst as READY: discord.py's on_ready fires
        # once no GUILD_CREATE arrived for ``guild_ready_timeout``, so the quiet period starts now.
        for guild in owned:
            session.dispatch("GUILD_CREATE", state.guild_create_payload(guild, intents))
        session.ready = True
        log.debug(
            "fake gateway: shard %s/%s identified, %d guild(s)", shard_id, shard_count, len(owned)
        )
        state.feed.notify()

    def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or session.invalidated or data.get("token") != self.state.token:
            # d=false: not resumable; discord.py then identifies afresh.
            conn.send({"op": 9, "d": False, "s": None, "t": None})
            return
        if session.connection is not None and session.connection is not conn:
            session.connection.close(4000, "Session resumed elsewhere.")
        session.connection = conn
        conn.session = session
        last = int(data.get("seq") or 0)
        for seq, frame in session.history:
            if seq > last:
                conn.queue.put_nowait(frame)
        session.dispatch("RESUMED", {"_trace": ["fake-discord-gateway"]})
        log.debug("fake gateway: session %s resumed from seq %s", session.session_id, last)
        self.state.feed.notify()

    def _request_members(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session = conn.session
        guild = self.state.guilds.get(int(data.get("guild_id") or 0))
        if session is None or guild is None:
            return
        members = list(guild.members.values())
        if not session.intents & INTENT_GUILD_MEMBERS:
            members = [m for m in members if m.user.id == self.state.bot_user.id]
        if data.get("user_ids"):
            wanted = {int(u) for u in data["user_ids"]}
            members = [m for m in members if m.user.id in wanted]
        elif data.get("query"):
            query = str(data["query"]).lower()
            members = [m for m in members if m.user.name.lower().startswith(query)]
        if data.get("limit"):
            members = members[: int(data["limit"])]
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        session.dispatch("GUILD_MEMBERS_CHUNK", chunk)
