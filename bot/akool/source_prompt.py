"""The request body of AKOOL's current create endpoint, v4 ``createBySourcePrompt``.

One typed, validated request, so that a bad combination is refused before any credit is spent and
with a reason a member can act on. The allowed values are the ones AKOOL documents (reference
section 1.2); AKOOL's own defaults are sent explicitly, so a change of default on AKOOL's side
cannot change what members get.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

# Text to image and image to image both take these; "Original" keeps the source's shape, so it
# only means something when there is a source image.
SCALES: Final = ("1:1", "3:2", "4:3", "16:9", "2:3", "3:4", "9:16")
ORIGINAL_SCALE: Final = "Original"
# AKOOL spells 4K in lower case in the request ("4k"); the default is 4k.
RESOLUTIONS: Final = ("1080p", "4k")
DEFAULT_RESOLUTION: Final = "4k"
MIN_BATCH: Final = 1
MAX_BATCH: Final = 4
DEFAULT_SIMILAR: Final = 0.5


class InvalidSourcePromptRequest(ValueError):
    """A v4 request AKOOL would refuse (or misread); the message says why, in a member's words."""


@dataclass(frozen=True, slots=True)
class SourcePromptRequest:
    """What to ask v4 ``createBySourcePrompt`` for.

    ``source_images`` makes it image to image; AKOOL uses only the first URL, so more than one is
    refused rather than silently dropped. ``similar`` (0 = more creative, 1 = closer to the source)
    only applies to image to image, so it is refused without a source; ``None`` sends nothing and
    leaves AKOOL's default of 0.5. ``model_name`` ``None`` lets AKOOL pick the model for the mode.
    """

    prompt: str
    source_images: tuple[str, ...] = ()
    scale: str = "1:1"
    resolution: str = DEFAULT_RESOLUTION
    batch_quantity: int = 1
    similar: float | None = None
    negative_prompt: str | None = None
    webhook_url: str | None = None
    model_name: str | None = None

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem is not None:
            raise InvalidSourcePromptRequest(problem)

    @property
    def image_to_image(self) -> bool:
        return bool(self.source_images)

    def body(self) -> dict[str, Any]:
        """The JSON body, in AKOOL's field names (note the all-lowercase ``webhookurl``)."""
        body: dict[str, Any] = {
            "prompt": self.prompt,
            "scale": self.scale,
            "resolution": self.resolution,
            "batch_quantity": self.batch_quantity,
        }
        if self.source_images:
            body["source_images"] = list(self.source_images)
        if self.similar is not None:
            body["similar"] = self.similar
        if self.negative_prompt is not None:
            body["negative_prompt"] = self.negative_prompt
        if self.webhook_url is not None:
            body["webhookurl"] = self.webhook_url
        if self.model_name is not None:
            body["model_name"] = self.model_name
        return body

    def _problem(self) -> str | None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            return "The prompt is empty: describe the image you want."
        if not isinstance(self.source_images, tuple) or not all(
            isinstance(url, str) and url.strip() for url in self.source_images
        ):
            return "The source image must be given as a link."
        if len(self.source_images) > 1:
            return "Only one source image can be used (AKOOL reads just the first)."
        if self.scale == ORIGINAL_SCALE and not self.source_images:
            return "The Original aspect ratio needs a source image to take it from."
        if self.scale not in (*SCALES, ORIGINAL_SCALE):
            allowed = ", ".join((*SCALES, ORIGINAL_SCALE))
            return f"The aspect ratio must be one of {allowed}."
        if self.resolution not in RESOLUTIONS:
            return "The resolution must be 1080p or 4k."
        if (
            not isinstance(self.batch_quantity, int)
            or isinstance(self.batch_quantity, bool)
            or not MIN_BATCH <= self.batch_quantity <= MAX_BATCH
        ):
            return f"The number of images must be a whole number from {MIN_BATCH} to {MAX_BATCH}."
        if self.similar is not None:
            if not self.source_images:
                return "Similarity only applies when a source image is given."
            if (
                not isinstance(self.similar, int | float)
                or isinstance(self.similar, bool)
                or not 0.0 <= self.similar <= 1.0  # NaN fails this too
            ):
                return "Similarity must be a number from 0 (more creative) to 1 (closer)."
        if self.negative_prompt is not None and (
            not isinstance(self.negative_prompt, str) or not self.negative_prompt.strip()
        ):
            return "The negative prompt is empty: say what to leave out, or leave it unset."
        if self.webhook_url is not None and not _is_http_url(self.webhook_url):
            return "The callback address must be an http(s) URL."
        if self.model_name is not None and (
            not isinstance(self.model_name, str) or not self.model_name.strip()
        ):
            return "The model name is empty."
        return None


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
