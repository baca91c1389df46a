"""Telling "the v3 create endpoint is gone" apart from every ordinary refusal.

AKOOL's newer docs mark v3 ``createbyprompt`` deprecated without saying how a retired endpoint
will answer. The bot switches to v4 for good when it is gone, so the rule is narrow: a missing
route (HTTP 404/410 without one of AKOOL's own documented codes), an envelope code of 404/410, or
a message saying the endpoint itself is deprecated or no longer available. A bad prompt, no
credits, throttling, or "try again later" never count. The user's own text is taken out of the
message first, because an error that quotes the prompt must not be read as AKOOL's words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

# HTTP statuses, and envelope codes in HTTP style, that say a route no longer exists.
GONE_STATUSES: Final = frozenset({404, 410})

# AKOOL's documented business codes (reference section 5). With one of these, AKOOL has said
# what went wrong, so a 404 around it is not read as a missing route.
DOCUMENTED_CODES: Final = frozenset(
    {1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1013, 1014, 1015, 1016, 1017}
    | {1101, 1102, 1103, 1104, 1105, 1108, 1109, 1110, 1111, 1112}
    | set(range(1200, 1224))
)

# Words that only ever describe an interface being retired.
_RETIRED: Final = re.compile(
    r"\b(deprecated|deprecation|discontinued|decommissioned|sunset|end[\s-]of[\s-]life"
    r"|no\s+longer\s+(available|supported|in\s+service|provided|maintained|offered))\b",
    re.IGNORECASE,
)
# "Unavailable"-like words count only when they are said of the endpoint itself...
_ENDPOINT: Final = r"(api|interface|endpoint|route|version|v3|createbyprompt|method|path)"
_UNAVAILABLE: Final = (
    r"(unavailable|not\s+available|offline|disabled|removed|retired|closed|shut\s+down"
    r"|not\s+supported|unsupported)"
)
_ENDPOINT_UNAVAILABLE: Final = re.compile(
    rf"\b{_ENDPOINT}\b(\W+\w+){{0,3}}?\W+{_UNAVAILABLE}\b"
    rf"|\b{_UNAVAILABLE}\b(\W+\w+){{0,2}}?\W+{_ENDPOINT}\b",
    re.IGNORECASE,
)
# ...and never when AKOOL says it is passing (maintenance, overload): that is a retry, not a switch.
_PASSING: Final = re.compile(
    r"\b(temporar\w*|try\s+again|later|retry|maintenance|busy|overload\w*|moment)\b", re.IGNORECASE
)
# AKOOL pointing at its successor is as clear as saying the endpoint is gone.
_SUCCESSOR: Final = re.compile(
    r"createBySourcePrompt|/v4/|\b(use|migrate\s+to|switch\s+to|upgrade\s+to)\s+(the\s+)?v4\b",
    re.IGNORECASE,
)


def says_endpoint_gone(msg: str, *, quoted: Iterable[str] = ()) -> bool:
    """Whether ``msg`` says the endpoint is retired; ``quoted`` is the caller's own text
    (prompt, source URL), removed first so that an echo of it cannot trip the rule."""
    text = msg
    for part in quoted:
        if part:
            text = text.replace(part, " ")
    if _RETIRED.search(text) or _SUCCESSOR.search(text):
        return True
    return bool(_ENDPOINT_UNAVAILABLE.search(text)) and not _PASSING.search(text)


def create_api_gone(
    *,
    http_status: int | None,
    code: int | None,
    msg: str | None,
    quoted: Iterable[str] = (),
) -> bool:
    """Whether a failed v3 create answer says the endpoint is gone.

    ``code`` is ``None`` when the body was not AKOOL's JSON envelope (a router's plain 404 page).
    """
    if code is not None and code in GONE_STATUSES:
        return True
    if msg and says_endpoint_gone(msg, quoted=quoted):
        return True
    if http_status in GONE_STATUSES:
        return code is None or code not in DOCUMENTED_CODES
    return False
