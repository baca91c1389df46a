"""A reserved port is never handed out for port 0, yet a server can bind it by number."""

from __future__ import annotations

import socket

from tests.ports import reserved_port


def test_a_reserved_port_is_given_to_no_request_for_port_0_and_a_server_can_bind_it():
    reserved = {reserved_port() for _ in range(50)}
    given = set()
    for _ in range(5000):  # about a fifth of the ephemeral range, in random draws
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", 0))
            given.add(probe.getsockname()[1])

    assert not reserved & given
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", reserved.pop()))
        server.listen(1)
