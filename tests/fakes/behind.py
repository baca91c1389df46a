"""Put a fake's route handlers behind its wrapper without an aiohttp middleware.

aiohttp memoises each app's middleware chain per ``(handler, apps)`` in a module-level LRU cache
(1024 entries) that outlives the app. A fake's handlers are its bound methods, so every fake that
ever answered a request stayed reachable from that cache, with all its state, for the next
hundred or so tests, and each full collection had to walk them all. Wrapping each route when it is
added does the same job and leaves nothing behind once the fake's server is cleaned up.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Wrapper = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


def behind(wrapper: Wrapper, handler: Handler) -> Handler:
    """``handler`` with every request going through ``wrapper(request, handler)`` first."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        return await wrapper(request, handler)

    return wrapped
