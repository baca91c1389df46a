"""The invite link asks for exactly the permissions the bot uses, Send Messages in Threads too."""

from __future__ import annotations

from pathlib import Path

from bot.invite import PERMISSIONS, invite_url

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
# Discord's permission bits (developer documentation, "Permissions").
SEND_MESSAGES_IN_THREADS = 1 << 38


def test_the_invite_asks_to_send_messages_in_threads():
    # A job started in a thread is posted there; without this bit Discord refuses the post.
    assert PERMISSIONS.value & SEND_MESSAGES_IN_THREADS
    assert f"permissions={PERMISSIONS.value}" in invite_url(123)


def test_the_invite_asks_for_nothing_more():
    granted = {name for name, value in PERMISSIONS if value}

    assert granted == {
        "read_messages",  # View Channels, by its older name
        "send_messages",
        "send_messages_in_threads",
        "embed_links",
        "attach_files",
        "read_message_history",
    }


def test_the_readme_shows_the_link_the_code_builds():
    assert invite_url("APP_ID") in README
