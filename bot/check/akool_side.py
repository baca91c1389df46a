"""The AKOOL key (a ``quota/info`` call shows the balance) and whether the client id belongs
with it. Every request goes through :class:`bot.akool.AkoolClient`."""

from __future__ import annotations

from typing import Final

import aiohttp

from bot.akool import AkoolAPIError, AkoolClient, AkoolError
from bot.check.options import Options
from bot.check.report import Finding, fail, ok, warn
from bot.settings import Settings

# AKOOL's codes for a key it does not take (reference, section 5).
_REFUSED_KEY: Final = frozenset({1101, 1102})
_CREDENTIALS: Final = "https://akool.com/workspace/current/api/credentials"
_NEW_KEY: Final = f"copy the API key again from {_CREDENTIALS} into AKOOL_API_KEY in .env."


def client(http: aiohttp.ClientSession, settings: Settings, options: Options) -> AkoolClient:
    # Two attempts: a check should say what is wrong promptly, not retry at length.
    return AkoolClient(
        http,
        settings.akool_api_key,
        settings.akool_base_url,
        timeout=options.timeout,
        attempts=2,
        backoff_initial=0.2,
        backoff_max=1.0,
    )


async def check_key(akool: AkoolClient, settings: Settings) -> Finding:
    """The key works, and the balance it has."""
    try:
        credit = await akool.get_credit()
    except AkoolAPIError as exc:
        if exc.code in _REFUSED_KEY:
            return fail("AKOOL: the API key was refused (invalid or expired).", _NEW_KEY)
        return fail(f"AKOOL: {exc.user_message} (code {exc.code})", _account_fix(exc))
    except AkoolError as exc:
        return fail(
            f"AKOOL cannot be reached at {settings.akool_base_url}: {exc}.",
            "check this machine's internet connection and DNS, and AKOOL_BASE_URL if set.",
        )
    if credit.balance <= 0:
        return warn(
            "AKOOL: the key works, but the account has no credits left: every job will fail.",
            "buy credits or a plan at https://akool.com.",
        )
    return ok(f"AKOOL: the API key works; the account has {credit.balance:g} credits.")


async def check_client_id(akool: AkoolClient, settings: Settings) -> Finding | None:
    """Whether AKOOL takes ``AKOOL_CLIENT_ID`` together with the key (its ``getToken`` call
    takes the pair). ``None`` when no client id is set."""
    client_id = settings.akool_client_id
    if client_id is None:
        return None
    try:
        await akool.confirm_client_id(client_id)
    except AkoolAPIError as exc:
        if exc.code in _REFUSED_KEY:
            return fail(
                "Webhooks: AKOOL does not take AKOOL_CLIENT_ID together with AKOOL_API_KEY, so "
                "the bot could read none of its callbacks.",
                f"copy the Client ID and the API key from the same page, {_CREDENTIALS}, "
                "into .env.",
            )
        return warn(f"Webhooks: AKOOL could not confirm the client id (code {exc.code}).")
    except AkoolError as exc:
        return warn(f"Webhooks: AKOOL could not confirm the client id: {exc}.")
    return ok("Webhooks: AKOOL takes the client id together with the API key.")


def _account_fix(exc: AkoolAPIError) -> str:
    if exc.operator_facing:
        return "sign in at https://akool.com and settle the account (plan, billing, credits)."
    return "try again in a minute; if it persists, see AKOOL's status page or support."
