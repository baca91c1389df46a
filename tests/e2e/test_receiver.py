"""The webhook receiver under attack from outside, end to end over raw sockets.

A slow client is cut off at the request deadline, a hostile body is refused with a 4xx, and
each refusal is one WARNING line without a traceback; genuine callbacks keep working meanwhile.
For the slow clients the deadline is injected short (the production one is a few seconds) to
keep that test quick. The others keep the production one: with a short one, a loaded machine's
pause of a second between a client's connect and its request has the server drop the connection
(its keep-alive timer runs from the connect) instead of refusing what was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import socket
import struct
from collections.abc import Callable, Iterator

import aiohttp
import pytest

import bot.runner
from bot.web import WebServer
from tests.e2e.conftest import World

DEADLINE = 1.0
# Generous for a loaded machine, yet short of aiohttp's own 10 s of lingering after an answer.
CLOSED_WITHIN = DEADLINE + 5.0
# How fast a slow client sends: one byte per tick.
TICK = 0.1
SLOW = 10  # slow connections of each kind

BODY_HEAD = (
    b"POST /akool/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 300\r\n\r\n"
)


@pytest.fixture
def receiver(hooked: World) -> World:
    """The world with webhooks on and the bot's HTTP server as in production."""
    return hooked


@pytest.fixture
def short_deadline(receiver: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """The receiver with its HTTP server built with a short deadline."""
    monkeypatch.setattr(
        bot.runner, "WebServer", functools.partial(WebServer, request_deadline=DEADLINE)
    )
    return receiver


class LogWatch(logging.Handler):
    """Every record logged at WARNING or above, and a way to wait for one."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self._logged = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self._logged.set()

    async def wait_for(self, check: Callable[[], bool], what: str) -> None:
        try:
            async with asyncio.timeout(CLOSED_WITHIN):
                while not check():
                    self._logged.clear()
                    await self._logged.wait()
        except TimeoutError:
            raise AssertionError(f"never logged: {what}") from None

    def tracebacks(self) -> list[logging.LogRecord]:
        """The bot's and aiohttp's records at ERROR or above, or carrying a traceback.

        (Others, such as asyncio's note of a session another test left unclosed and the garbage
        collector found meanwhile, say nothing about the receiver.)
        """
        return [
            r
            for r in self.records
            if r.name.split(".")[0] in ("bot", "aiohttp")
            and (r.levelno >= logging.ERROR or r.exc_info)
        ]

    def receiver_records(self, text: str) -> list[logging.LogRecord]:
        """The HTTP server's records whose message contains ``text``."""
        return [r for r in self.records if r.name == "bot.web" and text in r.getMessage()]

    def receiver_warnings(self, text: str) -> list[str]:
        """The HTTP server's WARNING lines that contain ``text``."""
        return [
            r.getMessage()
            for r in self.receiver_records(text)
            if r.levelno == logging.WARNING and not r.exc_info
        ]


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> Iterator[LogWatch]:
    caplog.set_level(logging.WARNING)
    watch = LogWatch()
    root = logging.getLogger()
    root.addHandler(watch)
    try:
        yield watch
    finally:
        root.removeHandler(watch)


def server_sockets(port: int) -> int:
    """This process's TCP sockets whose local port is ``port``: the bot's listener and the
    connections it accepted (not the tests' own client ends)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # an fd closed while listing
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                count += local_port == port and fields[9] in inodes
    return count


async def wait_for_sockets(check: Callable[[int], bool], port: int, what: str) -> None:
    """Wait until the count of :func:`server_sockets` passes ``check``."""
    try:
        async with asyncio.timeout(CLOSED_WITHIN):
            # Nothing signals a change in the kernel's socket table, so look again and again.
            while not check(server_sockets(port)):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"{what}: {server_sockets(port)} server sockets") from None


async def answer_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (FIN or reset)."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := await reader.read(4096):
            received += chunk
    return received


async def slow_client(port: int, head: bytes, trickle: bytes) -> bytes:
    """Send ``head`` at once and then ``trickle`` a byte per tick; return what the server
    answered once it closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def drip() -> None:
        writer.write(head)
        for byte in trickle:
            await asyncio.sleep(TICK)  # the client's pace, not a wait for an event
            writer.write(bytes([byte]))
            await writer.drain()

    dripping = asyncio.create_task(drip())
    try:
        return await answer_until_closed(reader)
    finally:
        dripping.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await dripping
        writer.close()


async def closed_by_server(clients: list[asyncio.Task[bytes]], what: str) -> list[bytes]:
    """What each slow client was answered, once the server has closed every one of them."""
    try:
        async with asyncio.timeout(CLOSED_WITHIN):
            return await asyncio.gather(*clients)
    except TimeoutError:
        raise AssertionError(f"the server left connections with {what} open") from None


async def raw_request(port: int, data: bytes) -> bytes:
    """Send ``data`` and return all the server answers before it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(CLOSED_WITHIN):
            return await answer_until_closed(reader)
    finally:
        writer.close()


async def post(world: World, data: bytes) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{world.http_base}/akool/webhook",
            data=data,
            headers={"Content-Type": "application/json"},
        ) as response,
    ):
        return response.status, await response.text()


async def test_slow_clients_are_cut_off_while_callbacks_go_through(
    short_deadline: World, warnings: LogWatch
):
    world = short_deadline
    async with world.running():
        assert world.runtime is not None
        port = world.runtime.web.port
        listening = server_sockets(port)
        slow_bodies = [
            asyncio.create_task(slow_client(port, BODY_HEAD, b'{"pad": "' + b"x" * 290))
            for _ in range(SLOW)
        ]
        slow_headers = [
            asyncio.create_task(slow_client(port, BODY_HEAD[:30], b"X-Slow: " + b"y" * 290))
            for _ in range(SLOW)
        ]
        await wait_for_sockets(
            lambda n: n >= listening + 2 * SLOW, port, "the slow connections were not accepted"
        )
        # A genuine callback is not held up by them (only the webhook can deliver this fast).
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "meanwhile"}
        )
        await ix.wait_original_edit(lambda m: "job `" in m.content)
        (job_id,) = world.akool.jobs
        await world.wait_for_post(world.is_post_of(job_id))

        bodies = await closed_by_server(slow_bodies, "slow bodies")
        headers = await closed_by_server(slow_headers, "slow headers")
        # Every accepted connection is closed (the fake AKOOL's kept-alive one too, when idle).
        await wait_for_sockets(lambda n: n == listening, port, "connections are still open")

    assert [answer.split(b"\r\n", 1)[0] for answer in bodies] == [
        b"HTTP/1.1 408 Request Timeout"
    ] * SLOW
    assert all(b'"status": 408' in answer for answer in bodies)
    # A client that never finishes its headers gets no answer: the connection is just closed.
    assert headers == [b""] * SLOW
    assert len(warnings.receiver_warnings(f"did not arrive within {DEADLINE:.1f} s")) == SLOW
    assert warnings.tracebacks() == []
    assert world.akool.calls["infobymodelid"] == 1


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a reset instead of a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


@pytest.mark.parametrize("leave", [asyncio.StreamWriter.close, _reset], ids=["fin", "reset"])
async def test_a_client_that_leaves_mid_body_is_one_warning(
    receiver: World, warnings: LogWatch, leave: Callable[[asyncio.StreamWriter], None]
):
    world = receiver
    async with world.running():
        assert world.runtime is not None
        port = world.runtime.web.port
        listening = server_sockets(port)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # The server says "100 Continue" once it has routed the request to the webhook handler.
        writer.write(BODY_HEAD.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n"))
        async with asyncio.timeout(CLOSED_WITHIN):
            assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b'{"signature": "')
        await writer.drain()
        leave(writer)
        await warnings.wait_for(
            lambda: bool(warnings.receiver_records("127.0.0.1")), "the client leaving"
        )
        await wait_for_sockets(lambda n: n == listening, port, "the connection is still open")

    assert warnings.tracebacks() == []
    assert warnings.receiver_warnings("127.0.0.1") == [
        "Dropped a webhook from 127.0.0.1: the client left before its body arrived"
    ]


async def test_a_body_that_cannot_be_decompressed_is_one_warning(
    receiver: World, warnings: LogWatch
):
    world = receiver
    gzipped = BODY_HEAD.replace(
        b"Content-Length: 300", b"Content-Encoding: gzip\r\nContent-Length: 4"
    )
    async with world.running():
        assert world.runtime is not None
        answer = await raw_request(world.runtime.web.port, gzipped + b"junk")
        await warnings.wait_for(
            lambda: bool(warnings.receiver_records("127.0.0.1")), "the malformed body"
        )

    assert answer.split(b"\r\n", 1)[0] == b"HTTP/1.1 400 Bad Request"
    assert answer.endswith(b'{"status": 400, "message": "the body is malformed"}')
    assert warnings.tracebacks() == []
    assert warnings.receiver_warnings("127.0.0.1") == [
        "Refused a webhook from 127.0.0.1: its body is malformed "
        "(400, message: Can not decode content-encoding: gzip)"
    ]


MALFORMED = {
    "bad content length": b"POST /akool/webhook HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
    "header line too long": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: "
    + b"z" * 9000
    + b"\r\n\r\n",
    "bad header name": b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
    "bad chunk size": b"POST /akool/webhook HTTP/1.1\r\nHost: x\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nnot-a-size\r\n\r\n",
    "bad version": b"GET /healthz HTTP/9\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_request_is_one_warning(receiver: World, warnings: LogWatch, data: bytes):
    world = receiver
    async with world.running():
        assert world.runtime is not None
        answer = await raw_request(world.runtime.web.port, data)
        await warnings.wait_for(
            lambda: bool(warnings.receiver_records("127.0.0.1")), "the malformed request"
        )

    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")
    assert warnings.tracebacks() == []
    (line,) = warnings.receiver_warnings("127.0.0.1")
    assert line.startswith("Error handling request from 127.0.0.1: ")
    assert "\n" not in line


async def test_deeply_nested_json_is_refused(receiver: World, warnings: LogWatch):
    world = receiver
    deep = "[" * 999 + "]" * 999
    async with world.running():
        body = await post(world, deep.encode())
        # Correctly signed, so that the payload itself is decrypted and parsed.
        signed = world.akool.webhook_body('{"_id": ' + deep + "}")
        payload = await post(world, json.dumps(signed).encode())

    assert body[0] == 400, body
    assert json.loads(body[1]) == {"status": 400, "message": "the body is nested too deeply"}
    assert payload[0] == 400, payload
    assert json.loads(payload[1])["message"] == "the payload is nested too deeply"
    assert len(warnings.receiver_warnings("nested too deeply")) == 2
    assert warnings.tracebacks() == []
