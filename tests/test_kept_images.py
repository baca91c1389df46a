"""Which source links still work when nothing keeps their image: signed Discord links by their
expiry, anything else as it is."""

from __future__ import annotations

import dataclasses
from unittest.mock import create_autospec

import discord
import pytest

from bot.kept_images import SOURCE_GONE, ImageGone, KeptImages, link_expired
from bot.store import JobStore
from tests.clock import NOW
from tests.test_render import completed

CDN = "https://cdn.discordapp.com/attachments/1/2/fox.png"


def signed(expires: float) -> str:
    return f"{CDN}?ex={int(expires):x}&is={int(expires - 86400):x}&hm=ab12&"


@pytest.mark.parametrize(
    ("url", "expired"),
    [
        (signed(NOW + 60), False),
        (signed(NOW), True),
        (signed(NOW - 31 * 86400), True),
        (CDN, False),  # unsigned: not Discord's to judge
        (f"{CDN}?ex=zz&is=1&hm=ab", False),  # not a time: left to the host
        ("https://d.cloudfront.net/x.png?Expires=1", False),
    ],
)
def test_a_signed_link_is_expired_from_its_ex(url: str, expired: bool):
    assert link_expired(url, NOW) is expired


@pytest.mark.parametrize(("link", "usable"), [(signed(NOW + 60), True), (signed(NOW - 1), False)])
async def test_a_source_kept_nowhere_is_used_only_while_its_link_works(link: str, usable: bool):
    store = create_autospec(JobStore, instance=True)
    store.kept_image.return_value = None
    kept = KeptImages(create_autospec(discord.Client, instance=True), store, clock=lambda: NOW)
    job = dataclasses.replace(completed(None), source_image=link)

    if usable:
        assert await kept.source_link(job) == (link, None)
    else:
        with pytest.raises(ImageGone) as gone:
            await kept.source_link(job)
        assert gone.value.message == str(SOURCE_GONE)
