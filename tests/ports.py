"""A port on 127.0.0.1 for a server that starts later, which no other socket will be given.

Some tests must know a server's port before it starts (a webhook URL in the settings, a child
process's ``HTTP_PORT``). Asking for port 0 and closing the probe leaves a window in which another
test process (a pytest-xdist worker, another suite on the machine) can be given the same port.
Here the port is left in TIME_WAIT instead: for about a minute the kernel gives it to no request
for port 0, while a server binding it by number with ``SO_REUSEADDR`` (asyncio's default on Unix,
so aiohttp's) still can.
"""

from __future__ import annotations

import socket


def reserved_port() -> int:
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = int(server.getsockname()[1])
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = server.accept()
            # The side that closes first keeps the port in TIME_WAIT: the one bound to it.
            accepted.close()
    return port
