"""Why a job failed, stored for readers to come: the sentence and its values, written in each
reader's language when shown; rows stored before as plain English still read."""

from __future__ import annotations

import json

import pytest

from bot import i18n, stored_text
from bot.i18n import Command, Number, Term, Text, command, lazy, nlazy


def _reason() -> Text:
    """A sentence with every kind of value a stored one may hold."""
    return lazy(
        "{problem} {detail}",
        problem=nlazy(
            "AKOOL had not finished after {n} minute, so the bot stopped waiting. It may still "
            "finish: check later with {command} {job}.",
            "AKOOL had not finished after {n} minutes, so the bot stopped waiting. It may still "
            "finish: check later with {command} {job}.",
            1500,
            command=command("status"),
            job="abc123",
        ),
        detail=lazy("AKOOL does not know that job. Check the job id."),
        term=Term("option name", "aspect"),
        credits=Number(1234),
        nothing=None,
    )


def test_a_stored_sentence_reads_back_as_it_was_made_in_every_language():
    reason = _reason()
    stored = stored_text.dump(reason)
    # JSON of the message ids and values, none of them written in any language yet.
    data = json.loads(stored)
    assert data["text"] == "{problem} {detail}"
    assert "/status" not in stored
    assert "1,500" not in stored
    loaded = stored_text.load(stored)
    assert loaded == reason
    for language in i18n.languages():
        assert loaded(language) == reason(language)
    # In German: the plural, the number's separators and the command's name all German.
    german = loaded("de")
    assert german != str(reason)
    assert "1.500" in german


def test_a_plain_sentence_round_trips_too():
    plain = lazy("AKOOL does not know that job. Check the job id.")
    assert stored_text.load(stored_text.dump(plain)) == plain


def test_an_old_english_row_is_shown_and_translated_when_the_catalogs_know_it():
    known = "AKOOL does not know that job. Check the job id."
    assert stored_text.load(known)("de") == i18n.gettext("de", known)
    assert stored_text.load(known)("de") != known
    # English the catalogs never had (an older wording) is shown as it was stored.
    unknown = "Something AKOOL said once."
    assert stored_text.load(unknown)("ja") == unknown


@pytest.mark.parametrize(
    "stored",
    ['{"error": "not ours"}', "{not json at all", '{"text": "x", "params": {"a": {"$what": 1}}}'],
)
def test_a_row_that_only_looks_like_json_is_shown_as_it_is(stored: str):
    assert stored_text.load(stored)("de") == stored


def test_the_old_english_of_a_timeout_is_recognised_and_written_anew():
    old = (
        "AKOOL had not finished after 15 minutes, so the bot stopped waiting. It may still "
        "finish: check later with /status abc123."
    )
    loaded = stored_text.load(old)
    assert loaded == stored_text.timed_out(15, "abc123")
    # English as it was, and each language's own plural and command name.
    assert loaded(None) == old
    assert loaded("ja") == i18n.ngettext(
        "ja",
        "AKOOL had not finished after {n} minute, so the bot stopped waiting. It may still "
        "finish: check later with {command} {job}.",
        "AKOOL had not finished after {n} minutes, so the bot stopped waiting. It may still "
        "finish: check later with {command} {job}.",
        15,
        command=Command("status"),
        job="abc123",
    )
    assert loaded("ja") != old


def test_a_value_that_cannot_be_stored_is_refused():
    class Unstorable(i18n.Localized):
        def __call__(self, locale: i18n.LocaleLike) -> str:
            return "x"

    with pytest.raises(TypeError, match="cannot store"):
        stored_text.dump(lazy("{x}", x=Unstorable()))
