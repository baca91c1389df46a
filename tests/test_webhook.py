"""Webhook verification and decryption, with callbacks the fake AKOOL signs itself."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.akool import ImageStatus
from bot.secret import Secret
from bot.webhook import (
    MAX_FUTURE_SKEW,
    MAX_JSON_DEPTH,
    NestedTooDeeplyError,
    WebhookRejected,
    WebhookVerifier,
    load_json,
    seal,
)
from tests.fakes.akool import API_KEY, CLIENT_ID, FakeAkool

NOW = 1_800_000_000.0
PAYLOAD = {"_id": "a" * 24, "status": 3, "type": "image", "url": "https://d.cloudfront.net/x.png"}


@pytest.fixture
def signer() -> FakeAkool:
    return FakeAkool()  # not started: only its signing and encryption are used


def verifier(*, api_key: str = API_KEY, client_id: str = CLIENT_ID) -> WebhookVerifier:
    return WebhookVerifier(Secret(client_id), Secret(api_key), max_age=300, clock=lambda: NOW)


def body(signer: FakeAkool, payload=None, **kwargs):
    kwargs.setdefault("timestamp", int(NOW * 1000))
    return signer.webhook_body(payload or PAYLOAD, **kwargs)


def test_a_valid_callback_opens(signer: FakeAkool):
    event = verifier().open(body(signer))

    assert event.job_id == "a" * 24
    assert event.status is ImageStatus.COMPLETED
    assert event.kind == "image"
    assert event.url == "https://d.cloudfront.net/x.png"


@pytest.mark.parametrize("key_length", [16, 24, 32])
def test_the_key_length_picks_the_aes_variant(key_length: int):
    key = ("k" * key_length)[:key_length]
    signer = FakeAkool(api_key=key)

    event = verifier(api_key=key).open(body(signer))

    assert event.job_id == "a" * 24


def test_a_short_client_id_is_padded_with_zero_bytes():
    signer = FakeAkool(client_id="short")

    assert verifier(client_id="short").open(body(signer)).job_id == "a" * 24


def test_numeric_nonce_and_string_timestamp_are_signed_as_text(signer: FakeAkool):
    signed = body(signer, nonce="1529")
    signed["nonce"] = 1529
    signed["timestamp"] = str(signed["timestamp"])

    assert verifier().open(signed).job_id == "a" * 24


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda b: b.update(signature="0" * 40), 401),
        (lambda b: b.update(signature=b["signature"].upper()), None),  # hex case is not meaning
        (lambda b: b.update(nonce=b["nonce"] + "1"), 401),
        (lambda b: b.update(timestamp=b["timestamp"] + 1), 401),
        (lambda b: b.update(dataEncrypt=b["dataEncrypt"][:-8]), 401),
        (lambda b: b.pop("signature"), 400),
        (lambda b: b.pop("dataEncrypt"), 400),
        (lambda b: b.update(timestamp=True), 400),
        (lambda b: b.update(nonce=""), 400),
    ],
)
def test_tampering(signer: FakeAkool, mutate, status):
    signed = body(signer)
    mutate(signed)

    if status is None:
        assert verifier().open(signed).job_id == "a" * 24
        return
    with pytest.raises(WebhookRejected) as caught:
        verifier().open(signed)
    assert caught.value.status == status


@pytest.mark.parametrize("skew", [-301, 301, -(10**6), MAX_FUTURE_SKEW + 1, 290])
def test_stale_or_future_timestamps_are_replays(signer: FakeAkool, skew: float):
    with pytest.raises(WebhookRejected) as caught:
        verifier().open(body(signer, timestamp=int((NOW + skew) * 1000)))

    assert caught.value.status == 401
    assert "window" in caught.value.reason


@pytest.mark.parametrize("skew", [-300, -1, 0, MAX_FUTURE_SKEW])
def test_a_timestamp_up_to_max_age_old_or_slightly_ahead_is_fresh(signer: FakeAkool, skew: float):
    event = verifier().open(body(signer, timestamp=int((NOW + skew) * 1000)))

    assert event.job_id == "a" * 24


def test_the_ledger_outlives_every_callback_that_could_pass():
    """A callback arriving at t, stamped up to MAX_FUTURE_SKEW ahead, is fresh until
    stamp + max_age: the receiver remembers it for as long."""
    assert verifier().replay_window >= 300 + MAX_FUTURE_SKEW


def test_the_signature_is_what_makes_a_callback_unique(signer: FakeAkool):
    checker = verifier()
    signed = body(signer, nonce="42")

    # The store refuses a second sighting of the same signature: a replay repeats it exactly.
    assert (
        checker.open(signed).signature
        == checker.open(dict(signed)).signature
        == (signed["signature"])
    )


def test_different_callbacks_may_share_a_nonce(signer: FakeAkool):
    # AKOOL's nonces are four digits: in a busy window genuine callbacks repeat them.
    checker = verifier()
    first = checker.open(body(signer, nonce="1529"))
    second = checker.open(body(signer, {"_id": "b" * 24, "status": 3}, nonce="1529"))

    assert (first.job_id, second.job_id) == ("a" * 24, "b" * 24)
    assert first.signature != second.signature


@pytest.mark.parametrize(
    "data",
    [
        "not base64!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(b"x" * 32).decode(),  # decrypts to garbage with bad padding
    ],
)
def test_undecryptable_payloads_are_400(signer: FakeAkool, data: str):
    signed = body(signer)
    signed["dataEncrypt"] = data
    ts, nonce = str(signed["timestamp"]), signed["nonce"]
    from bot.webhook import signature

    signed["signature"] = signature(CLIENT_ID, ts, nonce, data)

    with pytest.raises(WebhookRejected) as caught:
        verifier().open(signed)

    assert caught.value.status == 400


@pytest.mark.parametrize("payload", [{"status": 3}, {"_id": 5}, {"_id": ""}])
def test_a_payload_without_an_id_is_400(signer: FakeAkool, payload):
    with pytest.raises(WebhookRejected) as caught:
        verifier().open(body(signer, payload))

    assert caught.value.status == 400


def test_a_wrong_key_length_is_refused_at_start():
    with pytest.raises(ValueError, match="16, 24 or 32"):
        verifier(api_key="x" * 20)


def test_repr_shows_no_secret():
    assert API_KEY not in repr(verifier())
    assert CLIENT_ID not in repr(verifier())


def test_a_deeply_nested_payload_is_400_even_when_signed(signer: FakeAkool):
    # json's parser recurses per level: this many levels raised RecursionError.
    deep = '{"_id": ' + "[" * 999 + "]" * 999 + "}"

    with pytest.raises(WebhookRejected) as caught:
        verifier().open(body(signer, deep))

    assert (caught.value.status, caught.value.reason) == (400, "the payload is nested too deeply")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, "ok"),
        ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), "too deep"),
        ("[" * 999 + "]" * 999, "too deep"),
        ("[" * 999, "too deep"),  # not JSON either, but json would recurse before it noticed
        ('{"a": "' + "[" * 999 + '"}', "ok"),  # brackets in a string are text
        ('["\\"' + "[" * 999 + '"]', "ok"),  # an escaped quote does not end the string
        # An escaped backslash does end it.
        ('["\\\\"' + ", [" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 2), "too deep"),
        ('"\\' * 5000, "not JSON"),  # an unterminated string of escaped quotes
        ("", "not JSON"),
    ],
)
def test_load_json_bounds_the_nesting(text: str, parsed: str):
    try:
        load_json(text)
    except NestedTooDeeplyError:
        outcome = "too deep"
    except ValueError:
        outcome = "not JSON"
    else:
        outcome = "ok"

    assert outcome == parsed


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=10,
)
TRICKY = '[]{}"\\ ab'  # text that looks like nesting, quotes and escapes


def wrapped(value: object, layers: list[str | None]) -> object:
    """``value`` inside one list (None) or one-key object per layer."""
    for key in layers:
        value = [value] if key is None else {key: value}
    return value


nested_values = st.builds(
    wrapped,
    json_values | st.text(alphabet=TRICKY),
    st.lists(st.none() | st.text(alphabet=TRICKY), max_size=2 * MAX_JSON_DEPTH),
)


def depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


@given(json_values | nested_values)
def test_load_json_refuses_exactly_what_nests_too_deeply(value):
    text = json.dumps(value)

    if depth(value) > MAX_JSON_DEPTH:
        with pytest.raises(NestedTooDeeplyError):
            load_json(text)
    else:
        assert load_json(text) == value


class SpyingVerifier(WebhookVerifier):
    """The verifier, noting every payload it goes on to decrypt."""

    def __init__(self) -> None:
        super().__init__(Secret(CLIENT_ID), Secret(API_KEY), max_age=300, clock=lambda: NOW)
        self.decrypted: list[str] = []

    def _decrypt(self, data: str) -> dict[str, Any]:
        self.decrypted.append(data)
        return super()._decrypt(data)


SIGNER = FakeAkool()  # not started: only its signing and encryption are used
fresh_timestamps = st.integers(int((NOW - 300) * 1000), int((NOW + 300) * 1000))
payloads = st.fixed_dictionaries(
    {"_id": st.text(min_size=1), "status": st.integers(1, 4)},
    optional={"type": st.text(), "url": st.text()},
)
nonces = st.text(alphabet="0123456789", min_size=4, max_size=4)  # as AKOOL's are
encrypted = payloads.map(lambda payload: SIGNER.webhook_body(payload, nonce="1")["dataEncrypt"])
hex_digests = st.text(alphabet="0123456789abcdefABCDEF", min_size=40, max_size=40)


def assert_refused_before_decryption(signed: object) -> None:
    spy = SpyingVerifier()
    with pytest.raises(WebhookRejected) as caught:
        spy.open(signed)
    assert caught.value.status in (400, 401)
    assert spy.decrypted == []


@given(
    json_values
    | st.fixed_dictionaries(
        {
            # Fresh and well-formed where it matters, so only the signature can refuse them.
            "signature": hex_digests | json_values,
            "dataEncrypt": encrypted | st.text() | json_values,
            "timestamp": fresh_timestamps | fresh_timestamps.map(str) | json_values,
            "nonce": nonces | st.integers() | json_values,
        }
    )
)
def test_a_body_not_signed_by_akool_is_never_decrypted(value):
    assert_refused_before_decryption(value)


MUTATIONS = {
    "signature": hex_digests | st.text() | json_values,
    "timestamp": fresh_timestamps | fresh_timestamps.map(str) | json_values,
    "nonce": nonces | st.integers() | json_values,
    "dataEncrypt": encrypted | st.text() | json_values,
}


@given(st.data(), st.sampled_from(sorted(MUTATIONS)), payloads, nonces)
def test_a_callback_changed_after_signing_is_never_decrypted(data, field, payload, nonce):
    signed = body(SIGNER, payload, nonce=nonce)
    new = data.draw(MUTATIONS[field], label=field)
    # AKOOL signs the text: 1529 and "1529" are the same nonce, and hex case means nothing.
    assume(str(new).lower() != str(signed[field]).lower())
    signed[field] = new

    assert_refused_before_decryption(signed)


@pytest.mark.parametrize("key_length", [16, 24, 32])
def test_a_sealed_callback_opens_as_one_from_akool(signer: FakeAkool, key_length: int):
    key = "k" * key_length
    sealed = seal(Secret(CLIENT_ID), Secret(key), PAYLOAD, timestamp_ms=int(NOW * 1000))

    event = verifier(api_key=key).open(sealed)

    assert (event.job_id, event.status, event.url) == (
        "a" * 24,
        ImageStatus.COMPLETED,
        PAYLOAD["url"],
    )
    with pytest.raises(WebhookRejected, match="signature"):
        verifier(api_key=key, client_id="another" + CLIENT_ID).open(sealed)
