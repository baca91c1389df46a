"""AKOOL's image API: the client, its typed answers and its one exception family."""

from bot.akool.client import AkoolClient
from bot.akool.errors import (
    AkoolAPIError,
    AkoolError,
    AkoolResponseError,
    AkoolTransportError,
    AkoolUncertainCreateError,
)
from bot.akool.models import Credit, ImageJob, ImageStatus

__all__ = [
    "AkoolAPIError",
    "AkoolClient",
    "AkoolError",
    "AkoolResponseError",
    "AkoolTransportError",
    "AkoolUncertainCreateError",
    "Credit",
    "ImageJob",
    "ImageStatus",
]
