"""Every AKOOL code that matters maps to a sentence a Discord user can act on."""

from __future__ import annotations

import pytest

from bot.akool import AkoolAPIError, AkoolTransportError
from bot.akool.errors import USER_MESSAGES

CODES = (1003, 1005, 1006, 1008, 1009, 1010, 1011, 1101, 1102, 1103, 1104, 1108, 1200)


@pytest.mark.parametrize("code", CODES)
def test_each_documented_code_has_its_own_sentence(code: int):
    error = AkoolAPIError(code, "raw message from AKOOL")

    assert error.user_message == str(USER_MESSAGES[code])
    assert error.user_message.endswith(".")
    assert "raw message" not in error.user_message


def test_sentences_are_distinct():
    sentences = [str(USER_MESSAGES[code]) for code in CODES]
    assert len(set(sentences)) == len(sentences)


@pytest.mark.parametrize(
    ("code", "retryable", "operator"),
    [
        (1003, False, False),
        (1005, True, False),
        (1006, False, True),
        (1008, False, False),
        (1011, False, False),
        (1101, False, True),
        (1102, False, True),
        (1103, False, True),
        (1104, False, True),
        (1108, True, False),
        (1200, False, True),
    ],
)
def test_retryable_and_operator_facing(code: int, retryable: bool, operator: bool):
    error = AkoolAPIError(code, "x")

    assert error.retryable is retryable
    assert error.operator_facing is operator


def test_unknown_code_gets_a_generic_sentence():
    assert AkoolAPIError(4242, "x").user_message == (
        "AKOOL refused the request. Please try again later."
    )


def test_transport_errors_are_retryable_with_a_generic_sentence():
    error = AkoolTransportError("boom", http_status=502)

    assert error.retryable
    assert "try again" in error.user_message
    assert "502" in repr(error)
