"""Loaded by the bot processes that tests start (``tests.children`` puts this folder first on their
``PYTHONPATH``), before anything else of theirs runs.

pytest-socket guards the test process only. A child looking up a host name would ask the
machine's DNS server, which is not on this machine: here any name but ``localhost`` fails at once,
as an unknown name does, and no packet is sent. Numeric addresses pass (they need no lookup).

``CHILD_HIDE_MODULES=asyncpg,...`` makes those modules unimportable, as if not installed.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from typing import Any

_getaddrinfo = socket.getaddrinfo
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})


def _numeric(name: str) -> bool:
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _local_only(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if name is None or name.lower().rstrip(".") in _LOCAL_NAMES or _numeric(name):
        return _getaddrinfo(host, *args, **kwargs)
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


socket.getaddrinfo = _local_only
for _module in filter(None, os.environ.get("CHILD_HIDE_MODULES", "").split(",")):
    sys.modules[_module] = None  # type: ignore[assignment]
