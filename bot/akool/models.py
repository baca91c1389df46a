"""Typed, tolerant views of AKOOL's answers.

AKOOL's fields drift between API versions and some are undocumented (see the reference's UNCERTAIN
points), so parsing never fails on a missing optional field or an unknown extra one: it keeps what
it understands and logs what surprised it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from bot.akool.errors import AkoolResponseError

log = logging.getLogger(__name__)


class ImageStatus(IntEnum):
    """``image_status`` in status answers and ``status`` in webhooks."""

    UNKNOWN = 0  # a value AKOOL has not documented; treated as still pending
    QUEUED = 1
    PROCESSING = 2
    COMPLETED = 3
    FAILED = 4

    @classmethod
    def parse(cls, raw: object) -> ImageStatus:
        try:
            return cls(int(raw))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            log.warning("AKOOL sent an unknown image status %r; treating it as pending", raw)
            return cls.UNKNOWN

    @property
    def finished(self) -> bool:
        return self in (ImageStatus.COMPLETED, ImageStatus.FAILED)


@dataclass(frozen=True, slots=True)
class ImageJob:
    """One AKOOL image job as the create, button and status endpoints describe it."""

    id: str
    status: ImageStatus
    image_url: str | None = None
    upscaled_urls: tuple[str, ...] = ()
    buttons: tuple[str, ...] = ()
    used_buttons: tuple[str, ...] = ()
    credits: int | None = None
    created_at: datetime | None = None
    prompt: str | None = None
    source_image: str | None = None
    parent_id: str | None = None
    button: str | None = None
    # v4 answers (createBySourcePrompt, and the status of its images) also name the model and
    # which API made the job: ``from`` is 4 for v4 (1 in v3 examples). Absent in v3 answers.
    model_name: str | None = None
    api_from: int | None = None

    @classmethod
    def from_data(cls, data: object) -> ImageJob:
        """Parse an answer's ``data``; only a missing ``_id`` raises :class:`AkoolResponseError`."""
        if not isinstance(data, Mapping):
            raise AkoolResponseError(f"expected an object in data, got {type(data).__name__}")
        job_id = data.get("_id")
        if not isinstance(job_id, str) or not job_id:
            raise AkoolResponseError("AKOOL's answer has no _id")
        return cls(
            id=job_id,
            status=ImageStatus.parse(data.get("image_status", ImageStatus.QUEUED)),
            # AKOOL's demo falls back to external_img when image is missing.
            image_url=_str(data.get("image")) or _str(data.get("external_img")),
            upscaled_urls=_str_tuple(data.get("upscaled_urls")),
            # The oldest docs call the list display_buttons; every example shows buttons.
            buttons=_str_tuple(data.get("buttons", data.get("display_buttons"))),
            used_buttons=_str_tuple(data.get("used_buttons")),
            credits=_int(data.get("deduction_credit")),
            created_at=_ms_time(data.get("create_time")),
            prompt=_str(data.get("origin_prompt")) or _str(data.get("prompt")),
            source_image=_str(data.get("source_image")),
            parent_id=_str(data.get("image_content_model_id")),
            button=_str(data.get("op_button")),
            model_name=_str(data.get("model_name")),
            api_from=_int(data.get("from")),
        )

    @property
    def made_by_v4(self) -> bool:
        """Whether a v4 create (``createBySourcePrompt``) made this job: one image, no grid.

        UNCERTAIN: AKOOL documents no ``infobymodelid`` answer for a v4 image. Its v4 answers
        say ``from`` 4 (v3 examples: 1) and name the model (v3 answers do not), so either marks
        one; a job offering U/V buttons or candidates is a v3 grid whatever else it says, and
        an answer with neither mark is taken as v3 (shown as a single image all the same when it
        offers no buttons)."""
        if self.buttons or self.used_buttons or self.upscaled_urls:
            return False
        return self.api_from == 4 or self.model_name is not None


@dataclass(frozen=True, slots=True)
class ImageBatch:
    """The images one v4 ``createBySourcePrompt`` call started: one job (and ``_id``) per image.

    Each image is polled on its own through ``infobymodelid`` and charged on its own.
    """

    images: tuple[ImageJob, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(image.id for image in self.images)

    @property
    def credits(self) -> int | None:
        """Credits AKOOL says the batch cost, or ``None`` if an image did not say."""
        charged = [image.credits for image in self.images]
        if any(credit is None for credit in charged):
            return None
        return sum(credit for credit in charged if credit is not None)

    @classmethod
    def from_data(cls, data: object, *, asked: int) -> ImageBatch:
        """Parse ``data``: one object, or an array of them (AKOOL documents an object for one
        image and an array for more, but either is read for any count).

        An element without an ``_id`` cannot be polled; it is skipped with a warning rather than
        losing the others, which AKOOL has already charged for. Only when no image at all can be
        read does this raise :class:`AkoolResponseError`.
        """
        if isinstance(data, Mapping):
            elements: Sequence[object] = [data]
        elif isinstance(data, Sequence) and not isinstance(data, str | bytes):
            elements = data
        else:
            raise AkoolResponseError(
                f"expected an object or an array in data, got {type(data).__name__}"
            )
        images: list[ImageJob] = []
        seen: set[str] = set()
        for index, element in enumerate(elements):
            try:
                image = ImageJob.from_data(element)
            except AkoolResponseError as exc:
                log.warning("AKOOL's v4 answer: image %d is unreadable (%s); skipped", index, exc)
                continue
            if image.id in seen:
                log.warning("AKOOL's v4 answer names image %s twice; counted once", image.id)
                continue
            seen.add(image.id)
            images.append(image)
        if not images:
            raise AkoolResponseError("AKOOL's v4 answer has no image with an _id")
        if len(images) != asked:
            log.warning("AKOOL started %d image(s) where %d were asked for", len(images), asked)
        return cls(images=tuple(images))


@dataclass(frozen=True, slots=True)
class Credit:
    """The account balance from ``quota/info``."""

    balance: float

    @classmethod
    def from_data(cls, data: object) -> Credit:
        if isinstance(data, Mapping):
            value = data.get("credit")
            if isinstance(value, int | float) and not isinstance(value, bool):
                return cls(balance=float(value))
        raise AkoolResponseError("AKOOL's credit answer has no numeric credit field")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _str_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return tuple(v for v in value if isinstance(v, str) and v)
    return ()


def _ms_time(value: Any) -> datetime | None:
    ms = _int(value)
    if ms is None or ms <= 0:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
