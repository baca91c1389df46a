"""How a post shows AKOOL's link: in its content, in its embed, or not at all, by the URL's
length, so that the post always fits Discord's limits."""

from __future__ import annotations

import dataclasses

import pytest

from bot import render
from bot.store import Delivery, Job, JobKind, JobStatus
from tests.fakes.discord_server.validation import validate_message

JOB_ID = "0123456789abcdef01234567"
IN_CONTENT, IN_EMBED, NOWHERE = "content", "embed", "nowhere"
PLACES = [(100, IN_CONTENT), (512, IN_CONTENT), (513, IN_EMBED), (1913, IN_EMBED)]
PLACES += [(2048, IN_EMBED), (2049, NOWHERE), (20000, NOWHERE)]


def url_of(length: int) -> str:
    head = f"https://cdn.akool.example/{JOB_ID}.png?sig="
    return head + "x" * (length - len(head))


def completed(url: str | None) -> Job:
    return Job(
        id=1,
        akool_id=JOB_ID,
        kind=JobKind.IMAGINE,
        requester_id=33,
        channel_id=22,
        guild_id=11,
        prompt="a fox",
        scale=None,
        source_image=None,
        parent_akool_id=None,
        button=None,
        status=JobStatus.COMPLETED,
        image_url=url,
        upscaled_urls=(),
        buttons=(),
        used_buttons=(),
        credits=2,
        error=None,
        delivery=Delivery.PENDING,
        status_message_id=None,
        result_message_id=None,
        created_at=0.0,
        updated_at=0.0,
        akool_created_at=None,
        finished_at=0.0,
        due_at=None,
        attempts=0,
        last_error=None,
    )


def place_of(url: str, note: render.Note) -> str:
    if url in note.line:
        assert note.below is None
        return IN_CONTENT
    if note.below is not None and url in note.below:
        return IN_EMBED
    assert "too long to post" in note.line
    return NOWHERE


@pytest.mark.parametrize(("length", "place"), PLACES)
def test_the_original_of_a_preview_is_linked_where_it_fits(length: int, place: str):
    url = url_of(length)

    note = render.preview_note(completed(url))

    assert place_of(url, note) == place
    assert "too large to upload here" in note.line
    if place != NOWHERE:
        assert "available until <t:" in note.line


@pytest.mark.parametrize(("length", "place"), PLACES)
def test_a_missing_image_is_linked_where_it_fits(length: int, place: str):
    url = url_of(length)

    note = render.problem_note(completed(url), "It broke.")

    assert place_of(url, note) == place
    assert note.line.startswith("It broke.")


def test_without_a_url_there_is_nothing_to_link():
    assert render.problem_note(completed(None), "It broke.") == render.Note("It broke.")
    assert render.preview_note(completed(None)).below is None


@pytest.mark.parametrize(("length", "place"), PLACES)
def test_a_result_embed_with_the_link_fits(length: int, place: str):
    job = completed(url_of(length))
    note = render.problem_note(job, "It broke.")

    embed = render.result_embed(job, filename=None, now=0.0, description=note.below)
    content = render.result_content(job, None, note=note.line)

    body = {"content": content, "embeds": [embed.to_dict()]}
    assert validate_message(body, file_count=0) is None


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (url_of(100), True),
        (url_of(2048), True),
        (url_of(2049), False),
        ("ftp://cdn.akool.example/x.png", False),
    ],
)
def test_status_shows_akools_image_only_when_discord_takes_its_url(url: str, shown: bool):
    snapshot = render.Snapshot(JOB_ID, JobStatus.COMPLETED, "a fox", 2, (), url)

    embed = render.status_embed(snapshot, completed(url), None)

    assert validate_message({"embeds": [embed.to_dict()]}, file_count=0) is None
    assert (embed.image.url == url) is shown


def test_a_long_error_still_fits_the_status_embed():
    stored = dataclasses.replace(completed(None), status=JobStatus.FAILED, error="x" * 5000)
    snapshot = render.Snapshot(JOB_ID, JobStatus.FAILED, "a fox", 2, (), None)

    embed = render.status_embed(snapshot, stored, None)

    assert validate_message({"embeds": [embed.to_dict()]}, file_count=0) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a red fox", "a red fox"),
        ("**bold** __u__ ~~s~~ ||x|| `c`", r"\*\*bold\*\* \_\_u\_\_ \~\~s\~\~ \|\|x\|\| \`c\`"),
        ("[a](https://b) [c](https://d)", r"\[a\](https\://b) \[c\](https\://d)"),
        ("see https://evil.example", r"see https\://evil.example"),
        ("<@123> <#4> <@&5> <t:1:R> @everyone", r"\<\@123\> \<\#4\> \<\@&5\> \<t:1:R\> \@everyone"),
        ("a\\b", r"a\\b"),
        ("# title", r"\# title"),
        ("-# small", r"\-\# small"),
        ("> quote", r"\> quote"),
        ("1. first", r"1\. first"),
        ("+ item", r"\+ item"),
        ("a - b 16:9 2. c", "a - b 16:9 2. c"),  # only at the start of the line do these format
        ("two\nlines", "two lines"),
    ],
)
def test_shown_escapes_what_discord_would_format(text, expected):
    assert render.shown(text) == expected


@pytest.mark.parametrize("limit", range(2, 30))
def test_shown_cuts_between_characters_never_inside_an_escape(limit):
    text = "**a** [b](c) <@1>" * 3
    cut = render.shown(text, limit)

    assert len(cut) <= limit
    assert cut.endswith("…")
    body = cut.removesuffix("…")
    assert render.shown(text).startswith(body)
    trailing = len(body) - len(body.rstrip("\\"))
    assert trailing % 2 == 0  # no lone backslash at the end


def test_prompts_are_shown_escaped_in_titles_within_discords_limit():
    prompt = "*" * 300
    embed = render.result_embed(
        dataclasses.replace(completed(None), prompt=prompt), filename=None, now=0.0
    )

    assert embed.title is not None
    assert len(embed.title) <= 256
    assert embed.title.startswith(r"\*\*")
