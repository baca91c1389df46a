"""The invite link asks for Send Messages in Threads: a job started in a thread is posted there."""

from __future__ import annotations

from bot.invite import invite_url, required_permissions

# Discord's permission bit (developer documentation, "Permissions").
SEND_MESSAGES_IN_THREADS = 1 << 38


def test_the_invite_asks_to_send_messages_in_threads():
    permissions = required_permissions()

    assert permissions.value & SEND_MESSAGES_IN_THREADS
    assert f"permissions={permissions.value}" in invite_url(123)
