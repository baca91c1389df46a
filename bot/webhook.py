"""AKOOL's webhook: verify the signature and the timestamp, decrypt the payload.

AKOOL signs a callback with SHA-1 over the sorted concatenation of clientId, timestamp, nonce and
dataEncrypt, and encrypts the payload with AES-CBC (key: the API key's bytes, which also picks
AES-128/192/256; IV: the first 16 bytes of the clientId; PKCS#7 padding). See the API reference,
section 4. The payload is only a hint: the bot confirms every status with AKOOL before acting.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.akool.models import ImageStatus
from bot.secret import Secret

_AES_KEY_SIZES: Final = (16, 24, 32)
# How far ahead of the bot's clock a callback's timestamp may be (clocks drift a little). Any
# more and it is refused: a callback stamped far ahead would stay fresh for longer than the
# replay ledger remembers it.
MAX_FUTURE_SKEW: Final = 30.0
# AKOOL's callbacks are flat: a body of four fields, a payload of four more. Refusing anything
# nested deeper before parsing keeps a hostile body from driving json's recursive parser into a
# RecursionError (``[`` repeated a thousand times is enough).
MAX_JSON_DEPTH: Final = 8
# ``akool-bot check`` sends the receiver a callback for a job id that begins with this: AKOOL's
# ids are 24 hex digits, so none can. The receiver answers it with the id, which only a receiver
# holding the same client id and key could read, and touches no job.
TEST_JOB_PREFIX: Final = "akool-bot-check-"
# A JSON string (an unterminated one runs to the end) or a bracket. Possessive, so that it scans
# the text once: a hostile body cannot make it backtrack.
_JSON_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.?)*+(?:"|\Z)|[][{}]', re.DOTALL)


class NestedTooDeeplyError(ValueError):
    """JSON text nested deeper than :data:`MAX_JSON_DEPTH`."""


def load_json(text: str) -> Any:
    """``text`` parsed as JSON; :class:`ValueError` if it is not JSON or is nested too deeply."""
    if _nests_deeper_than(MAX_JSON_DEPTH, text):
        raise NestedTooDeeplyError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return json.loads(text)


def _nests_deeper_than(limit: int, text: str) -> bool:
    """Whether arrays and objects in ``text`` nest deeper than ``limit`` (brackets in strings do
    not count)."""
    depth = 0
    for token in _JSON_TOKEN.findall(text):
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif token in ("]", "}"):
            depth -= 1
    return False


class WebhookRejected(Exception):
    """A callback the bot refuses; ``status`` is the HTTP status to answer with, ``verdict``
    the refusal in a word (for the metrics)."""

    def __init__(self, status: int, reason: str, verdict: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.verdict = verdict


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """What a verified callback says: which job, and (unconfirmed) its status."""

    job_id: str
    status: ImageStatus
    kind: str | None
    url: str | None
    # What makes this callback unique (see WebhookVerifier): a replay repeats it.
    signature: str
    # When AKOOL sent it (its timestamp, in Unix seconds).
    sent_at: float = 0.0


def signature(client_id: str, timestamp: str, nonce: str, data_encrypt: str) -> str:
    parts = sorted([client_id, timestamp, nonce, data_encrypt])
    return hashlib.sha1("".join(parts).encode()).hexdigest()  # noqa: S324 - AKOOL's scheme


def is_test_callback(job_id: str) -> bool:
    """Whether a verified callback is ``akool-bot check``'s test rather than AKOOL's."""
    return job_id.startswith(TEST_JOB_PREFIX)


def seal(
    client_id: Secret, api_key: Secret, payload: Mapping[str, object], *, timestamp_ms: int
) -> dict[str, object]:
    """A callback body for ``payload``, encrypted and signed as AKOOL does it (the inverse of
    :meth:`WebhookVerifier.open`), for ``akool-bot check``'s test callback."""
    key = api_key.reveal().encode()
    if len(key) not in _AES_KEY_SIZES:
        raise ValueError("AKOOL_API_KEY must be 16, 24 or 32 bytes long to encrypt webhooks")
    iv = client_id.reveal().encode()[:16].ljust(16, b"\0")
    padder = padding.PKCS7(128).padder()
    plain = padder.update(json.dumps(dict(payload)).encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    data = base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
    timestamp = str(timestamp_ms)
    nonce = str(secrets.randbelow(9000) + 1000)  # four digits, like AKOOL's
    return {
        "signature": signature(client_id.reveal(), timestamp, nonce, data),
        "dataEncrypt": data,
        "timestamp": timestamp_ms,
        "nonce": nonce,
    }


class WebhookVerifier:
    """Checks AKOOL callbacks.

    A callback older than ``max_age``, or stamped more than :data:`MAX_FUTURE_SKEW` ahead, is
    refused here; one in between seen before is a replay, which the store recognises by
    :attr:`WebhookEvent.signature` (so that every process does) for :attr:`replay_window`.
    AKOOL's nonces are only four digits ("1529"), so two genuine callbacks within the window
    often share one: the signature, which covers the timestamp, the nonce and the payload, is
    what must not repeat.
    """

    def __init__(
        self,
        client_id: Secret,
        api_key: Secret,
        *,
        max_age: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        key = api_key.reveal().encode()
        if len(key) not in _AES_KEY_SIZES:
            raise ValueError("AKOOL_API_KEY must be 16, 24 or 32 bytes long to decrypt webhooks")
        self._client_id = client_id.reveal()
        self._key = key
        # The docs' sample pads a clientId shorter than 16 bytes with zero bytes.
        self._iv = self._client_id.encode()[:16].ljust(16, b"\0")
        self.max_age = max_age
        self._clock = clock

    def __repr__(self) -> str:
        return f"WebhookVerifier(max_age={self.max_age})"

    @property
    def replay_window(self) -> float:
        """How long after it arrives a callback could still pass :meth:`open`: it may be stamped
        up to :data:`MAX_FUTURE_SKEW` ahead and is fresh until ``max_age`` past its stamp. The
        replay ledger remembers each callback at least this long."""
        return self.max_age + MAX_FUTURE_SKEW

    def open(self, body: object) -> WebhookEvent:
        """The event in ``body``, or :class:`WebhookRejected` saying why not."""
        if not isinstance(body, Mapping):
            raise WebhookRejected(400, "the body is not a JSON object", "not_object")
        sig = body.get("signature")
        data = body.get("dataEncrypt")
        timestamp = _text(body.get("timestamp"))
        nonce = _text(body.get("nonce"))
        if not isinstance(sig, str) or not isinstance(data, str) or not timestamp or not nonce:
            raise WebhookRejected(
                400, "signature, dataEncrypt, timestamp or nonce is missing", "incomplete"
            )
        expected = signature(self._client_id, timestamp, nonce, data)
        if not hmac.compare_digest(expected.encode(), sig.lower().encode()):
            raise WebhookRejected(401, "the signature does not match", "bad_signature")
        sent_at = self._check_fresh(timestamp)
        payload = self._decrypt(data)
        job_id = payload.get("_id")
        if not isinstance(job_id, str) or not job_id:
            raise WebhookRejected(400, "the payload has no _id", "no_job_id")
        url = payload.get("url")
        kind = payload.get("type")
        return WebhookEvent(
            job_id=job_id,
            status=ImageStatus.parse(payload.get("status")),
            kind=kind if isinstance(kind, str) else None,
            url=url if isinstance(url, str) else None,
            signature=expected,
            sent_at=sent_at,
        )

    def _check_fresh(self, timestamp: str) -> float:
        try:
            sent = int(timestamp) / 1000  # AKOOL timestamps are Unix milliseconds
        except ValueError:
            raise WebhookRejected(400, "the timestamp is not a number", "bad_timestamp") from None
        now = self._clock()
        if now - sent > self.max_age or sent - now > MAX_FUTURE_SKEW:
            raise WebhookRejected(401, "the timestamp is outside the accepted window", "stale")
        return sent

    def _decrypt(self, data: str) -> dict[str, Any]:
        try:
            cipher_text = base64.b64decode(data, validate=True)
            decryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._iv)).decryptor()
            padded = decryptor.update(cipher_text) + decryptor.finalize()
            unpadder = padding.PKCS7(128).unpadder()
            plain = unpadder.update(padded) + unpadder.finalize()
            payload = load_json(plain.decode("utf-8"))
        except NestedTooDeeplyError:
            raise WebhookRejected(400, "the payload is nested too deeply", "nested") from None
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise WebhookRejected(400, "the payload cannot be decrypted", "undecryptable") from None
        if not isinstance(payload, dict):
            raise WebhookRejected(400, "the payload is not a JSON object", "not_object")
        return payload


def _text(value: object) -> str | None:
    """A timestamp or nonce as the string AKOOL signed (it may arrive as a JSON number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value:
        return value
    return None
