"""FakeDiscord: one application with one bot user, served on 127.0.0.1 (REST + gateway)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, ClassVar

import discord.gateway
import discord.http
import yarl
from aiohttp import web

from tests.fakes.discord_server.driver import InteractionDriver
from tests.fakes.discord_server.gateway import Gateway
from tests.fakes.discord_server.models import RecordedRequest
from tests.fakes.discord_server.rest import RestApi
from tests.fakes.discord_server.rest_base import Fault, Hold

log = logging.getLogger(__name__)

#: Large enough to read an oversize upload and answer Discord's 413 ourselves (aiohttp's own
#: default of 1 MiB would cut the request off first).
MAX_REQUEST_BYTES = 256 * 1024 * 1024


class FakeDiscord(InteractionDriver):
    """A fake Discord that the real discord.py client talks to over loopback.

    World building (``add_guild``/``add_channel``/``add_user``...), observation
    (``messages``/``wait_for_message``/``requests``...) and user actions
    (``slash_command``/``autocomplete``/``click``...) are inherited from the state and driver
    layers; this class owns the HTTP server and the discord.py patching.
    """

    #: Every fake made in this process, oldest first: a suite can check them all after a test.
    made: ClassVar[list[FakeDiscord]] = []

    def __init__(
        self, *, token: str = "test-token", bot_name: str = "FakeBot", recommended_shards: int = 1
    ) -> None:
        super().__init__(token=token, bot_name=bot_name)
        FakeDiscord.made.append(self)
        self.recommended_shards = recommended_shards
        self.rest = RestApi(self, recommended_shards=recommended_shards)
        self.gateway = Gateway(self, lambda: self.gateway_url)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeDiscord:
        """Listen on 127.0.0.1 on a free port (port 0), so parallel fakes never collide."""
        if self._runner is not None:
            return self
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        self.rest.install(app)
        app.router.add_get("/gateway", self.gateway.handle)
        runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.http_base = f"http://127.0.0.1:{self.port}"
        log.info("fake discord listening on %s", self.http_base)
        return self

    async def close(self) -> None:
        if self._runner is None:
            return
        for hold in self.rest.holds:
            hold.release()
        await self.gateway.close()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _require_started(self) -> None:
        if not self.http_base:
            raise RuntimeError("FakeDiscord is not started; await fake.start() first")

    @property
    def rest_base(self) -> str:
        self._require_started()
        return f"{self.http_base}/api/v10"

    @property
    def gateway_url(self) -> str:
        self._require_started()
        return f"ws://127.0.0.1:{self.port}/gateway"

    @contextmanager
    def patched(self) -> Iterator[FakeDiscord]:
        """Point discord.py's REST base and default gateway at this fake; restore on exit.

        Both are class attributes read when a ``Route`` is built or a socket opened, so the
        patch has to stay in place for the bot's whole lifetime. Nesting is fine (LIFO).
        """
        self._require_started()
        old_base = discord.http.Route.BASE
        old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.rest_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield self
        finally:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    async def wait_until_ready(self, timeout: float = 10.0, *, sessions: int = 1) -> None:
        """Until ``sessions`` gateway sessions identified and got READY + their GUILD_CREATEs.

        This is the fake's side only; the bot's own ``on_ready`` follows after discord.py's
        ``guild_ready_timeout`` quiet period (see ``run_bot``).
        """
        await self.feed.wait_for(
            lambda: True if len(self.gateway.ready_sessions()) >= sessions else None,
            timeout,
            f"{sessions} identified gateway session(s)",
        )

    # ------------------------------------------------------------------ REST observation and faults

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.rest.requests

    @property
    def unimplemented(self) -> list[str]:
        """``METHOD /path`` of every request that hit an endpoint the fake does not implement."""
        return self.rest.unimplemented

    def requests_matching(self, method: str, path_regex: str) -> list[RecordedRequest]:
        pattern = re.compile(path_regex)
        return [r for r in self.requests if r.method == method and pattern.search(r.path)]

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int = 429,
        times: int = 1,
        retry_after: float = 0.05,
        *,
        body: dict[str, Any] | None = None,
        is_global: bool = False,
    ) -> Fault:
        """Answer the next ``times`` matching REST calls with ``status``.

        ``path_regex`` is searched in the path relative to ``/api/v10`` (e.g.
        ``r"^/channels/\\d+/messages$"``); ``method`` may be ``"*"``. 429s carry ``Via``,
        ``retry_after`` and ``X-RateLimit-*`` so discord.py sleeps and retries; 403 is
        ``50013 Missing Permissions``; 404 uses the Unknown-Channel/Message/... code of the path.
        Note discord.py retries 500/502/504 itself after 1 s, 3 s, ... sleeps.
        """
        fault = Fault(
            method=method.upper(),
            path_regex=re.compile(path_regex),
            status=status,
            times=times,
            retry_after=retry_after,
            body=body,
            is_global=is_global,
        )
        self.rest.faults.append(fault)
        return fault

    def hold_next(
        self,
        method: str,
        path_regex: str,
        *,
        after: bool,
        when: Callable[[Any], bool] | None = None,
    ) -> Hold:
        """Hold the next REST call matching ``method`` and ``path_regex`` (as for
        :meth:`fail_next`), and ``when`` (a test of its JSON body), until the returned hold is
        released; see :class:`Hold`."""
        hold = Hold(
            method=method.upper(), path_regex=re.compile(path_regex), after=after, when=when
        )
        self.rest.holds.append(hold)
        return hold

    def stall_next(
        self, method: str, path_regex: str, *, when: Callable[[Any], bool] | None = None
    ) -> Hold:
        """Let the next matching REST call take effect, then hold back its answer until
        ``hold.release()`` or :meth:`close`; ``await hold.reached.wait()`` to see it arrive.

        ``when`` tests the call's JSON body. This is the moment a process can die having done
        something at Discord without learning that it did.
        """
        return self.hold_next(method, path_regex, after=True, when=when)

    def disconnect_gateway(self, code: int = 4000) -> None:
        """Drop all gateway connections; with 4000 discord.py reconnects and RESUMEs."""
        self.gateway.disconnect_all(code)
