"""One exception family for everything that can go wrong talking to AKOOL.

Each error carries AKOOL's ``code`` and ``msg`` (when AKOOL answered), the HTTP status, whether a
retry can help, and a sentence a Discord user can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from bot.i18n import Text, lazy

SUCCESS: Final = 1000

# AKOOL's documented codes (reference section 5) as sentences a server member can act on.
USER_MESSAGES: Final[Mapping[int, Text]] = MappingProxyType(
    {
        1003: lazy(
            "AKOOL rejected the request as invalid. Check the prompt, aspect ratio and image."
        ),
        1005: lazy("AKOOL is receiving too many requests right now. Please try again in a minute."),
        1006: lazy("The AKOOL account behind this bot has run out of quota. Ask a server admin."),
        1008: lazy("AKOOL does not know that job. Check the job id."),
        1009: lazy("The AKOOL account behind this bot is not allowed to see that job."),
        1010: lazy(
            "AKOOL cannot do that with this job (it may not be finished, or the button is gone)."
        ),
        1011: lazy("That button has already been used on this job."),
        1101: lazy(
            "The bot's AKOOL API key is invalid or expired. Ask a server admin to check it."
        ),
        1102: lazy("The bot has no AKOOL API key configured. Ask a server admin to set one."),
        1103: lazy("The AKOOL account behind this bot is unpaid or overdue. Ask a server admin."),
        1104: lazy("The AKOOL account behind this bot has no credits left. Ask a server admin."),
        1108: lazy("AKOOL failed to generate the image. Please try again later."),
        1200: lazy("The AKOOL account behind this bot has been blocked. Ask a server admin."),
        1213: lazy("The AKOOL account behind this bot needs a subscription. Ask a server admin."),
        1221: lazy("The AKOOL account behind this bot is not subscribed. Ask a server admin."),
    }
)

# Throttling and AKOOL's own "try again later" failure: the same request may succeed later.
RETRYABLE_CODES: Final = frozenset({1005, 1108})
# Problems with the operator's account or configuration rather than with one user's request.
OPERATOR_CODES: Final = frozenset({1006, 1101, 1102, 1103, 1104, 1200, 1213, 1221})
# The job or button named is gone or spent: a stale button, or an id from elsewhere.
STALE_CODES: Final = frozenset({1008, 1010, 1011})


class AkoolError(Exception):
    """Base of the family. ``retryable`` says whether the same call may succeed later."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        msg: str | None = None,
        http_status: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.retryable = retryable

    @property
    def user_text(self) -> Text:
        """A plain sentence for the person who asked, to be written in their language."""
        if self.code is not None and self.code in USER_MESSAGES:
            return USER_MESSAGES[self.code]
        if self.retryable:
            return lazy("AKOOL could not be reached just now. Please try again in a minute.")
        return lazy("AKOOL refused the request. Please try again later.")

    @property
    def user_message(self) -> str:
        """:attr:`user_text` in English (for logs and for what is stored)."""
        return str(self.user_text)

    @property
    def operator_facing(self) -> bool:
        """True when the fix is the operator's (account, billing, API key), not the user's."""
        return self.code in OPERATOR_CODES

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self)!r}, code={self.code}, "
            f"http_status={self.http_status}, retryable={self.retryable})"
        )


class AkoolTransportError(AkoolError):
    """No usable answer: connection failure, timeout, 5xx, 429, or a body that is not JSON.

    ``cause`` names the failure in a word or two (``timeout``, ``connect``, ``http_502``), for
    the metrics."""

    def __init__(
        self, message: str, *, http_status: int | None = None, cause: str = "transport"
    ) -> None:
        super().__init__(message, http_status=http_status, retryable=True)
        self.cause = cause


class AkoolAPIError(AkoolError):
    """AKOOL answered with a ``code`` other than 1000."""

    def __init__(self, code: int, msg: str, *, http_status: int | None = None) -> None:
        super().__init__(
            f"AKOOL answered code {code}: {msg}",
            code=code,
            msg=msg,
            http_status=http_status,
            retryable=code in RETRYABLE_CODES,
        )


class AkoolUncertainCreateError(AkoolError):
    """A create call may have reached AKOOL, but no answer came back.

    Retrying could start (and charge for) a second job, so the client never does it on its own.
    """

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message, http_status=http_status, retryable=False)

    @property
    def user_text(self) -> Text:
        return lazy(
            "AKOOL did not answer, so the job may or may not have been created. It was not "
            "retried, to avoid paying twice: check the AKOOL dashboard before trying again."
        )


class AkoolResponseError(AkoolError):
    """AKOOL said success, but the body lacks something the bot cannot do without (a job id)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)

    @property
    def user_text(self) -> Text:
        return lazy(
            "AKOOL answered in a way the bot does not understand. Please tell a server admin."
        )


class AkoolCreateApiGone(AkoolError):
    """AKOOL answered that the v3 create endpoint is gone (retired, removed, deprecated).

    Nothing was created and nothing charged: the same job can go through v4 instead.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        msg: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, msg=msg, http_status=http_status, retryable=False)

    @property
    def user_text(self) -> Text:
        return lazy(
            "AKOOL has retired the image API this bot used to create images. "
            "Ask a server admin to switch the bot to AKOOL's current API."
        )

    @property
    def operator_facing(self) -> bool:
        return True
