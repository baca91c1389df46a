"""``akool-bot health``: ask the running bot's ``/healthz``, as a container health check does."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Final

HEALTH_PATH: Final = "/healthz"
# Where to reach a server that listens on every address.
_LOOPBACK_FOR: Final = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 - only compared


def health_url(host: str, port: int) -> str:
    """The URL of ``/healthz`` for a server listening on ``host:port``, from this machine."""
    target = _LOOPBACK_FOR.get(host, host)
    if ":" in target:
        target = f"[{target}]"
    return f"http://{target}:{port}{HEALTH_PATH}"


def probe(host: str, port: int, *, timeout: float = 4.0) -> tuple[bool, str]:
    """Whether the bot answers healthy, and its answer (or why there is none) in one line."""
    url = health_url(host, port)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http only
            return True, f"{response.status} {response.read(500).decode(errors='replace')}"
    except urllib.error.HTTPError as exc:
        return False, f"{exc.code} {exc.read(500).decode(errors='replace')}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"no answer at {url}: {reason}"
