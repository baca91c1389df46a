"""AKOOL's image API: the client, its typed answers and its one exception family."""

from bot.akool.client import AkoolClient
from bot.akool.errors import (
    AkoolAPIError,
    AkoolCreateApiGone,
    AkoolError,
    AkoolResponseError,
    AkoolTransportError,
    AkoolUncertainCreateError,
)
from bot.akool.models import Credit, ImageBatch, ImageJob, ImageStatus
from bot.akool.source_prompt import InvalidSourcePromptRequest, SourcePromptRequest

__all__ = [
    "AkoolAPIError",
    "AkoolClient",
    "AkoolCreateApiGone",
    "AkoolError",
    "AkoolResponseError",
    "AkoolTransportError",
    "AkoolUncertainCreateError",
    "Credit",
    "ImageBatch",
    "ImageJob",
    "ImageStatus",
    "InvalidSourcePromptRequest",
    "SourcePromptRequest",
]
