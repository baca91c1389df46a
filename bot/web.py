"""The bot's own HTTP server: AKOOL's webhook receiver, a health check and the metrics.

A valid webhook that says a job finished only makes it due for an immediate poll: polling stays
the baseline and the source of truth, so a forged, late or repeated callback can change nothing by
itself. One that says a job is processing moves its status message on without asking AKOOL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final

import discord
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot import logs
from bot.health import HEALTH_PATH
from bot.job_loop import JobLoop
from bot.metrics import CONTENT_TYPE, Metrics
from bot.secret import Secret
from bot.store import JobStore
from bot.webhook import (
    NestedTooDeeplyError,
    WebhookRejected,
    WebhookVerifier,
    is_test_callback,
    load_json,
)

log = logging.getLogger(__name__)

WEBHOOK_PATH: Final = "/akool/webhook"
METRICS_PATH: Final = "/metrics"
# An AKOOL callback is a few hundred bytes; anything far larger is not one.
MAX_BODY_BYTES: Final = 16 * 1024
# How long a client may take to send a request's line and headers, and then as long again for
# its body. A genuine AKOOL callback is a few hundred bytes and arrives at once; without a
# deadline, a client that declares a body and trickles it a byte at a time holds a connection
# (and a file descriptor) open for as long as it likes.
REQUEST_DEADLINE: Final = 5.0


class _ClientFaultsInOneLine(logging.Filter):
    """aiohttp logs a request its parser refuses (a malformed request line, header or framing) as
    an ERROR with a traceback. That is the client's fault, not the bot's: one WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        fault = record.exc_info[1] if record.exc_info else None
        if isinstance(fault, HttpProcessingError) and record.levelno > logging.WARNING:
            reason = _one_line(fault.message)
            record.args = (record.getMessage(), type(fault).__name__, reason)
            record.msg = "%s: %s (%s)"
            record.levelno = logging.WARNING
            record.levelname = logging.getLevelName(logging.WARNING)
            record.exc_info = None
            record.exc_text = None
        return True


log.addFilter(_ClientFaultsInOneLine())


def _one_line(text: str) -> str:
    """aiohttp's message about a malformed request, which quotes the offending bytes (escaped)
    over several lines, as one short line."""
    return " ".join(text.split())[:200]


class WebServer:
    """Serves ``POST /akool/webhook``, ``GET /healthz`` and ``GET /metrics`` on ``host:port``
    (0 = a free port). With ``metrics_token`` set, a scrape must bring it as a bearer token."""

    def __init__(
        self,
        *,
        client: discord.Client,
        store: JobStore,
        loop: JobLoop,
        verifier: WebhookVerifier | None,
        host: str,
        port: int,
        clock: Callable[[], float] = time.time,
        request_deadline: float = REQUEST_DEADLINE,
        metrics: Metrics | None = None,
        metrics_token: Secret | None = None,
    ) -> None:
        self._client = client
        self._store = store
        self._loop = loop
        self._verifier = verifier
        self._host = host
        self._port = port
        self._clock = clock
        self._request_deadline = request_deadline
        self._metrics = metrics or Metrics(clock=clock)
        self._metrics_token = metrics_token
        self._runner: web.AppRunner | None = None
        self.port = port

    async def __aenter__(self) -> WebServer:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(WEBHOOK_PATH, self._webhook)
        app.router.add_get(HEALTH_PATH, self._health)
        app.router.add_get(METRICS_PATH, self._scrape)
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            # aiohttp has no deadline for a request's headers, but its keep-alive timer runs from
            # the moment a connection opens and closes it if no whole request has arrived.
            keepalive_timeout=self._request_deadline,
            # After an answer that left a body unread (408, 413, a broken body), close at once
            # rather than read on for aiohttp's default 10 s: no client that gets one is AKOOL.
            lingering_time=0,
            # Its own error lines (a request it cannot parse) go through this module's filter.
            logger=log,
            # handler_cancellation stays off: once a callback is verified, recording it and
            # waking the loop finish even if the client hangs up meanwhile.
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info("HTTP server listening on %s:%s", self._host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _webhook(self, request: web.Request) -> web.Response:
        if self._verifier is None:
            log.warning("A webhook arrived, but AKOOL_CLIENT_ID is not set, so it cannot be read")
            self._metrics.webhook("not_configured")
            return _answer(503, "webhooks are not configured")
        try:
            async with asyncio.timeout(self._request_deadline):
                raw = await request.read()
        except TimeoutError:
            log.warning(
                "Refused a webhook from %s: its body did not arrive within %.1f s",
                request.remote,
                self._request_deadline,
            )
            self._metrics.webhook("slow_body")
            return _answer(408, "the body took too long to arrive", close=True)
        except web.HTTPRequestEntityTooLarge:
            log.warning("Refused an oversized webhook from %s", request.remote)
            self._metrics.webhook("too_large")
            return _answer(413, "the body is too large", close=True)
        except ConnectionError:
            log.warning(
                "Dropped a webhook from %s: the client left before its body arrived",
                request.remote,
            )
            self._metrics.webhook("cut_short")
            return _answer(400, "the body is incomplete", close=True)  # read by no one
        except web.RequestPayloadError as exc:
            # Its framing (chunks, compression) is broken; aiohttp says how.
            log.warning(
                "Refused a webhook from %s: its body is malformed (%s)",
                request.remote,
                _one_line(str(exc)),
            )
            self._metrics.webhook("malformed")
            return _answer(400, "the body is malformed", close=True)
        try:
            body = load_json(raw.decode("utf-8"))
        except NestedTooDeeplyError:
            log.warning("Refused a webhook from %s: the body is nested too deeply", request.remote)
            self._metrics.webhook("nested")
            return _answer(400, "the body is nested too deeply")
        except (UnicodeDecodeError, ValueError):
            log.warning("Refused a webhook from %s: the body is not JSON", request.remote)
            self._metrics.webhook("not_json")
            return _answer(400, "the body is not JSON")
        try:
            event = self._verifier.open(body)
        except WebhookRejected as exc:
            log.warning("Refused a webhook from %s: %s", request.remote, exc.reason)
            self._metrics.webhook(exc.verdict)
            return _answer(exc.status, exc.reason)
        if is_test_callback(event.job_id):
            # akool-bot check's own callback: the id it echoes proves this receiver could read it.
            log.info("Answered a test callback from %s (akool-bot check)", request.remote)
            self._metrics.webhook("test_callback")
            return web.json_response(
                {"status": 200, "message": "test callback", "_id": event.job_id}
            )
        now = self._clock()
        fresh = await self._store.first_sighting(
            event.signature, now=now, forget_before=now - self._verifier.replay_window
        )
        if not fresh:
            log.warning("Refused a webhook from %s: it was already received", request.remote)
            self._metrics.webhook("replay")
            return _answer(409, "this callback was already received")
        self._metrics.webhook_accepted(
            event.job_id, final=event.status.finished, sent_at=event.sent_at
        )
        with logs.context(job=event.job_id):
            job = await self._loop.on_webhook(event.job_id, event.status)
            if job is None:
                # Unknown (not ours, or not stored yet) or already posted: polling covers the rest.
                log.info("Webhook for job %s, which has nothing left to do here", event.job_id)
            else:
                log.info("Webhook says job %s is %s", event.job_id, event.status.name)
        return _answer(200, "ok")

    async def _health(self, request: web.Request) -> web.Response:
        gateway = _gateway_connected(self._client)
        store = await self._store.ping()
        healthy = gateway and store
        body = {"status": "ok" if healthy else "unavailable", "gateway": gateway, "store": store}
        return web.json_response(body, status=200 if healthy else 503)

    async def _scrape(self, request: web.Request) -> web.Response:
        if not self._metrics.authorized(self._metrics_token, request.headers.get("Authorization")):
            # No hint of the token's shape or length: only that one is needed.
            return web.Response(
                status=401,
                text="a bearer token is needed\n",
                headers={"WWW-Authenticate": "Bearer"},
            )
        body = self._metrics.render(
            unfinished=await self._store.unfinished_jobs(),
            gateway=_gateway_connected(self._client),
        )
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def _gateway_connected(client: discord.Client) -> bool:
    if client.is_closed() or not client.is_ready():
        return False
    if isinstance(client, discord.AutoShardedClient):
        shards = client.shards.values()
        return bool(shards) and not any(shard.is_closed() for shard in shards)
    socket = client.ws
    return socket is not None and socket.open


def _answer(status: int, message: str, *, close: bool = False) -> web.Response:
    response = web.json_response({"status": status, "message": message}, status=status)
    if close:
        # Whatever else the client sends on this connection is not worth reading.
        response.force_close()
    return response
