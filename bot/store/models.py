"""The job store's records: what the bot remembers about each AKOOL job and button press."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.akool.models import ImageJob, ImageStatus
from bot.secret import Secret


class JobKind(StrEnum):
    """How a job came to the bot."""

    IMAGINE = "imagine"  # created by /imagine
    TRACK = "track"  # created elsewhere and followed with /track
    BUTTON = "button"  # started by pressing U1-U4 or V1-V4 on a grid


class JobStatus(StrEnum):
    """AKOOL's side of a job. It only moves forward: queued -> processing -> completed | failed."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @property
    def finished(self) -> bool:
        return self.rank == _RANKS[JobStatus.COMPLETED]

    @classmethod
    def from_akool(cls, status: ImageStatus) -> JobStatus:
        """AKOOL's numeric status; an undocumented value counts as queued, so it is polled again."""
        return _FROM_AKOOL.get(status, cls.QUEUED)


_RANKS = {
    JobStatus.QUEUED: 1,
    JobStatus.PROCESSING: 2,
    # Completed and failed share a rank: once one is reached, neither can replace the other.
    JobStatus.COMPLETED: 3,
    JobStatus.FAILED: 3,
}
_FROM_AKOOL = {
    ImageStatus.QUEUED: JobStatus.QUEUED,
    ImageStatus.PROCESSING: JobStatus.PROCESSING,
    ImageStatus.COMPLETED: JobStatus.COMPLETED,
    ImageStatus.FAILED: JobStatus.FAILED,
}


class Delivery(StrEnum):
    """The Discord side of a finished job: pending until its result message exists."""

    PENDING = "pending"
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"


@dataclass(frozen=True, slots=True)
class CreateOptions:
    """What a member asked of a v4 create beyond prompt, scale and source image, kept with the
    job so that 🔄 repeats it and a V varies with it (stored as JSON text)."""

    count: int
    resolution: str
    negative: str | None = None
    similarity: float | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "count": self.count,
                "resolution": self.resolution,
                "negative": self.negative,
                "similarity": self.similarity,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, raw: str | None) -> CreateOptions | None:
        """The options stored as ``raw``; ``None`` for none or for text that is not options."""
        if not raw:
            return None
        try:
            data: Any = json.loads(raw)
            count = int(data["count"])
            resolution = str(data["resolution"])
        except (ValueError, TypeError, KeyError):
            return None
        negative = data.get("negative")
        similarity = data.get("similarity")
        return cls(
            count=count,
            resolution=resolution,
            negative=None if negative is None else str(negative),
            similarity=None if similarity is None else float(similarity),
        )


@dataclass(frozen=True, slots=True)
class NewJob:
    """What is known about a job when the bot first stores it."""

    akool_id: str
    kind: JobKind
    requester_id: int
    channel_id: int
    guild_id: int | None = None
    prompt: str = ""
    scale: str | None = None
    source_image: str | None = None
    parent_akool_id: str | None = None
    button: str | None = None
    status: JobStatus = JobStatus.QUEUED
    credits: int | None = None
    akool_created_at: float | None = None
    # The create intent this job fulfils (see CreateIntent); a batch's lead holds it.
    intent_id: int | None = None
    # Which create API made the job: "v3" (a grid) or "v4" (one image, no grid buttons).
    api: str = "v3"
    # A v4 batch's images share the lead's (its first image's) AKOOL id, in their order.
    batch_akool_id: str | None = None
    batch_index: int | None = None
    options: CreateOptions | None = None


class ReplyBy(StrEnum):
    """How a member's interaction is answered through its webhook."""

    EDIT = "edit"  # a slash command: its "thinking" response becomes the answer
    FOLLOWUP = "followup"  # a button: its original response is the grid itself, never edited


@dataclass(frozen=True, slots=True)
class InteractionReply:
    """What answering an interaction later takes: its webhook, which Discord keeps 15 minutes.

    The token is a credential: it stays a :class:`Secret`, out of every ``repr`` and log line.
    """

    application_id: int
    token: Secret
    by: ReplyBy


@dataclass(frozen=True, slots=True)
class CreateIntent:
    """A job about to be created at AKOOL, written down before the member's command is
    acknowledged and kept until the command has its answer.

    Whatever the moment a crash comes, the restarted bot finds the intent and answers the
    command: with the job's status line if the job was stored (``akool_id``), else with what is
    known: AKOOL was never asked (``akool_called_at`` is ``None``), or was asked and its answer
    was lost (AKOOL may have made the job, and the bot cannot follow it).
    """

    id: int
    requester_id: int
    guild_id: int | None
    channel_id: int
    prompt: str
    started_at: float
    reply: InteractionReply | None = None
    akool_called_at: float | None = None
    # The stored job this intent created, when its command was not answered yet.
    akool_id: str | None = None
    # A press of a grid's button: the claim the press holds, released should it start nothing.
    claim: ButtonPress | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """A member's fair-use limits in one server: unfinished jobs, and jobs since ``since``."""

    active: int
    daily: int
    since: float


@dataclass(frozen=True, slots=True)
class MemberUsage:
    """What counts against a member's limits; ``oldest_since`` frees up the daily limit first."""

    active: int
    daily: int
    oldest_since: float | None


class CostKind(StrEnum):
    """What a job costs like: a grid (/imagine, 🔄), an upscale (U1-U4) or a variation (V1-V4)
    of v3; or one v4 image (whatever made it: AKOOL charges a v4 batch per image)."""

    GRID = "grid"
    UPSCALE = "upscale"
    VARIATION = "variation"
    IMAGE = "image"

    @classmethod
    def of_button(cls, button: str | None) -> CostKind:
        """The kind of the job a press of ``button`` starts (``None`` or 🔄: a new grid)."""
        if button is not None and button.startswith("U"):
            return cls.UPSCALE
        if button is not None and button.startswith("V"):
            return cls.VARIATION
        return cls.GRID


@dataclass(frozen=True, slots=True)
class Caps:
    """Credit caps over the rolling window from ``since``: the whole AKOOL account's and one
    server's (``None``: no such cap).

    A job's expected cost, before AKOOL reports its credits, is the median of the credits of the
    last ``recent`` jobs of its :class:`CostKind` that reported theirs, else ``default_cost``
    (``default_image_cost`` for a v4 image). A v4 order of n images is expected to cost n times
    an image's cost.
    """

    account: int | None
    server: int | None
    since: float
    default_cost: int
    recent: int = 50
    default_image_cost: int = 1


@dataclass(frozen=True, slots=True)
class Spending:
    """What counts against a cap in its window: credits AKOOL reported (``spent``), and the
    expected cost of unfinished jobs it has not reported and of creates under way
    (``reserved``)."""

    spent: int
    reserved: int

    @property
    def total(self) -> int:
        return self.spent + self.reserved


@dataclass(frozen=True, slots=True)
class CreditUsage:
    """The account's and (for a job in a server) the server's spending, and the expected cost of
    the job asked for."""

    account: Spending
    server: Spending | None
    cost: int


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One answer from AKOOL about a job, as the store records it."""

    status: JobStatus
    image_url: str | None = None
    upscaled_urls: tuple[str, ...] = ()
    buttons: tuple[str, ...] = ()
    used_buttons: tuple[str, ...] = ()
    credits: int | None = None
    error: str | None = None

    @classmethod
    def from_akool(cls, job: ImageJob) -> StatusUpdate:
        return cls(
            status=JobStatus.from_akool(job.status),
            image_url=job.image_url,
            upscaled_urls=job.upscaled_urls,
            buttons=job.buttons,
            used_buttons=job.used_buttons,
            credits=job.credits,
        )


@dataclass(frozen=True, slots=True)
class Job:
    """A stored job: its origin, AKOOL's latest answer, its Discord messages and its schedule."""

    id: int
    akool_id: str
    kind: JobKind
    requester_id: int
    channel_id: int
    guild_id: int | None
    prompt: str
    scale: str | None
    source_image: str | None
    parent_akool_id: str | None
    button: str | None
    status: JobStatus
    image_url: str | None
    upscaled_urls: tuple[str, ...]
    buttons: tuple[str, ...]
    used_buttons: tuple[str, ...]
    credits: int | None
    error: str | None
    delivery: Delivery
    status_message_id: int | None
    result_message_id: int | None
    created_at: float
    updated_at: float
    akool_created_at: float | None
    finished_at: float | None
    due_at: float | None
    attempts: int
    last_error: str | None
    # A verified webhook said the job finished (whichever process it reached).
    announced: bool = False
    api: str = "v3"
    # A v4 batch (see NewJob): the lead is the job to the member, holding its messages.
    batch_akool_id: str | None = None
    batch_index: int | None = None
    options: CreateOptions | None = None

    @property
    def in_batch(self) -> bool:
        return self.batch_akool_id is not None

    @property
    def is_batch_lead(self) -> bool:
        return self.batch_akool_id is not None and self.batch_akool_id == self.akool_id

    @property
    def needs_work(self) -> bool:
        """Still to be polled or delivered."""
        return self.delivery is Delivery.PENDING


class ImageRole(StrEnum):
    """Which of a job's images a :class:`KeptImage` is."""

    SOURCE = "source"  # the member's image an image-to-image job started from
    RESULT = "result"  # the job's result, as the bot posted it


@dataclass(frozen=True, slots=True)
class KeptImage:
    """Where Discord keeps an image for the bot: an attachment of one of the bot's own messages.

    AKOOL deletes results after 7 days and Discord's links to a file are signed and expire (an
    interaction's attachment soonest of all), so the bot remembers the message and attachment,
    not a link, and asks Discord for a fresh link when it needs the image again.
    """

    channel_id: int
    message_id: int
    attachment_id: int
    filename: str


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """The one press of a grid's button that won; AKOOL allows each button once."""

    parent_akool_id: str
    button: str
    presser_id: int
    pressed_at: float
    child_akool_id: str | None


@dataclass(frozen=True, slots=True)
class PressClaim:
    """The result of trying to claim a button: ``won`` is true for exactly one presser."""

    won: bool
    press: ButtonPress
