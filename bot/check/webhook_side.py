"""The webhook settings: the client id and key fit together, and the public URL answers the
bot's own signed test callback (see :data:`bot.webhook.TEST_JOB_PREFIX`)."""

from __future__ import annotations

import json
import secrets
import time
from typing import Final

import aiohttp

from bot.check.options import Options
from bot.check.report import Finding, fail, ok, shown, warn
from bot.settings import Settings
from bot.webhook import TEST_JOB_PREFIX, seal

_KEY_BYTES: Final = (16, 24, 32)
_FIX_PROXY: Final = (
    "point WEBHOOK_PUBLIC_URL (through the reverse proxy) at the bot's HTTP server, "
    "path /akool/webhook on HTTP_HOST:HTTP_PORT, and keep the bot running."
)


def check_pair(settings: Settings) -> list[Finding]:
    """What can be told about the client id and key here, before asking anyone."""
    client_id = settings.akool_client_id
    if client_id is None:
        if settings.webhook_public_url is None:
            return [ok("Webhooks: off (no AKOOL_CLIENT_ID); the bot polls AKOOL for every job.")]
        return []  # a settings problem, reported there
    if len(settings.akool_api_key.reveal().encode()) not in _KEY_BYTES:
        return []  # a settings problem, reported there
    findings = []
    if len(client_id.reveal().encode()) < 16:
        findings.append(
            warn(
                "Webhooks: AKOOL_CLIENT_ID is shorter than 16 characters; AKOOL's client ids "
                "are longer (usually 24).",
                "check that the whole Client ID was copied.",
            )
        )
    if settings.webhook_public_url is None:
        findings.append(
            ok(
                "Webhooks: AKOOL_CLIENT_ID is set but WEBHOOK_PUBLIC_URL is not, so AKOOL is "
                "not asked to call back; the bot polls."
            )
        )
    return findings


async def check_url(
    http: aiohttp.ClientSession, settings: Settings, options: Options
) -> Finding | None:
    """Send the test callback to ``WEBHOOK_PUBLIC_URL`` and judge the answer; ``None`` when
    there is no URL, or no usable client id and key to seal the callback with."""
    url = settings.webhook_public_url
    client_id = settings.akool_client_id
    if url is None or client_id is None:
        return None
    if len(settings.akool_api_key.reveal().encode()) not in _KEY_BYTES:
        return None
    job_id = TEST_JOB_PREFIX + secrets.token_hex(8)
    body = seal(
        client_id,
        settings.akool_api_key,
        {"_id": job_id, "status": 2, "type": "check"},
        timestamp_ms=int(time.time() * 1000),
    )
    timeout = aiohttp.ClientTimeout(connect=options.timeout, sock_read=options.timeout)
    try:
        async with http.post(url, json=body, timeout=timeout, allow_redirects=False) as response:
            status = response.status
            raw = await response.content.read(16 * 1024)
    except aiohttp.SocketTimeoutError:
        return fail(
            f"Webhooks: {url} took the test callback but gave no answer within "
            f"{options.timeout:g} s.",
            _FIX_PROXY,
        )
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        reason = shown(str(exc)) or type(exc).__name__
        return warn(
            f"Webhooks: {url} cannot be reached from here ({reason}), so its answer to a test "
            "callback is unknown. AKOOL must reach it from the internet; if the bot is not "
            "running, start it and run the check again."
        )
    except aiohttp.ClientError as exc:
        return fail(f"Webhooks: {url} broke off the test callback ({exc}).", _FIX_PROXY)
    return _judge(url, status, raw, job_id)


def _judge(url: str, status: int, raw: bytes, job_id: str) -> Finding:
    answer = _json(raw)
    message = shown(str(answer.get("message", ""))) if answer else ""
    if status == 200 and answer and answer.get("_id") == job_id:
        return ok(f"Webhooks: {url} answered the bot's signed test callback.")
    said = f"HTTP {status}" + (f" “{message}”" if message else "")
    if status == 200:
        return fail(
            f"Webhooks: {url} answered the test callback ({said}), but not as this bot does: "
            "something else answers there.",
            _FIX_PROXY,
        )
    if status == 401 and "timestamp" in message:
        fix = "set the clocks of this machine and of the bot's right (NTP)."
    elif status == 401:
        fix = "give the bot there the same AKOOL_CLIENT_ID as here (and restart it)."
    elif status == 400 and "decrypt" in message:
        fix = "give the bot there the same AKOOL_API_KEY as here (and restart it)."
    elif status == 503 and "not configured" in message:
        fix = "set AKOOL_CLIENT_ID for the bot there too (and restart it)."
    else:
        fix = _FIX_PROXY
    return fail(f"Webhooks: {url} refused the bot's signed test callback ({said}).", fix)


def _json(raw: bytes) -> dict[str, object] | None:
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return None
    return parsed if isinstance(parsed, dict) else None
