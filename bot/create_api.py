"""Which AKOOL create API a new job goes through (``AKOOL_CREATE_API``).

``v3`` and ``v4`` are fixed choices. ``auto`` makes the Midjourney-style grid through v3 until AKOOL
answers that v3 create is gone (:class:`AkoolCreateApiGone`); then it starts the same job through
v4 instead and, once v4 has made it, notes the switch in the store, so every process and every
restart knows, and logs one WARNING (from the process that noticed first). The failed v3 call
created nothing and charged nothing, so the job is paid for once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from bot.akool import (
    AkoolAPIError,
    AkoolClient,
    AkoolCreateApiGone,
    ImageBatch,
    ImageJob,
    SourcePromptRequest,
)
from bot.akool.source_prompt import DEFAULT_RESOLUTION, MAX_BATCH, ORIGINAL_SCALE
from bot.store.base import JobStore

log = logging.getLogger(__name__)

V3: Final = "v3"
V4: Final = "v4"
AUTO: Final = "auto"


@dataclass(frozen=True, slots=True)
class ImageOrder:
    """What a member asked for, in terms both APIs understand.

    ``count``, ``resolution``, ``negative`` and ``similarity`` are what only v4 offers; ``None``
    means the member did not ask (the grid's four images, AKOOL's defaults). An order that sets
    any of them, or the ``Original`` aspect, can only be made through v4 (:attr:`needs_v4`).
    """

    prompt: str
    scale: str = "1:1"
    source_image: str | None = None
    webhook_url: str | None = None
    count: int | None = None
    resolution: str | None = None
    negative: str | None = None
    similarity: float | None = None

    @property
    def needs_v4(self) -> bool:
        """Whether the order asks for something v3's grid cannot give."""
        return (
            (self.count is not None and self.count != MAX_BATCH)
            or self.resolution is not None
            or self.negative is not None
            or self.similarity is not None
            or self.scale == ORIGINAL_SCALE
        )


class CreateApiChooser:
    """Starts each new job through the API the setting (and, in ``auto``, the store) says.

    The answer is an :class:`ImageJob` (a v3 grid) or an :class:`ImageBatch` (v4 images).
    """

    def __init__(
        self,
        akool: AkoolClient,
        store: JobStore,
        mode: str,
        *,
        batch_quantity: int = MAX_BATCH,
        resolution: str = DEFAULT_RESOLUTION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if mode not in (V3, V4, AUTO):
            raise ValueError(f"unknown create API {mode!r}")
        self._akool = akool
        self._store = store
        self._mode = mode
        # A v4 stand-in for a grid: as many images as a grid has candidates, unless told.
        self._batch_quantity = batch_quantity
        self._resolution = resolution
        self._clock = clock
        # Once the store says v3 create is gone it stays gone: no need to ask it again.
        self._v3_gone = False

    def __repr__(self) -> str:
        return f"CreateApiChooser(mode={self._mode!r}, v3_gone={self._v3_gone})"

    @property
    def batch_quantity(self) -> int:
        """How many images a v4 order that names no count makes."""
        return self._batch_quantity

    @property
    def resolution(self) -> str:
        """The resolution of a v4 order that names none."""
        return self._resolution

    @property
    def mode(self) -> str:
        """The setting: ``"v3"``, ``"v4"`` or ``"auto"``."""
        return self._mode

    def offers(self, order: ImageOrder) -> bool:
        """Whether ``order`` can be made at all: with v3 forced, nothing only v4 has."""
        return not (order.needs_v4 and self._mode == V3)

    async def api(self) -> str:
        """The API the next job goes through: ``"v3"`` or ``"v4"``."""
        if self._mode != AUTO:
            return self._mode
        if not self._v3_gone and await self._store.v3_create_gone():
            self._v3_gone = True
        return V4 if self._v3_gone else V3

    async def images(self, order: ImageOrder) -> int | None:
        """How many v4 images ``order`` is, as :meth:`create` would make it now (the credit caps
        hold that many images' expected cost); ``None`` for a v3 grid."""
        if order.needs_v4 or await self.api() == V4:
            return order.count or self._batch_quantity
        return None

    async def create(self, order: ImageOrder) -> ImageJob | ImageBatch:
        """Start ``order``. Raises what the client raises, except that in ``auto`` a v3 create
        that is gone is switched to v4 rather than raised; with ``v3`` forced it is raised."""
        if not self.offers(order):
            raise ValueError("AKOOL_CREATE_API=v3 cannot make an order that needs v4")
        if order.needs_v4 or await self.api() == V4:
            return await self._create_v4(order)
        try:
            return await self._akool.create_image(
                order.prompt,
                order.scale,
                source_image=order.source_image,
                webhook_url=order.webhook_url,
            )
        except AkoolCreateApiGone as exc:
            if self._mode != AUTO:
                raise
            # Noted only once v4 has answered (made the job, or refused it in AKOOL's words): a
            # wrong AKOOL_BASE_URL answers 404 to both, and must not switch every later job to
            # v4 for good.
            try:
                created = await self._create_v4(order)
            except AkoolAPIError:
                await self._switch_to_v4(exc)
                raise
            await self._switch_to_v4(exc)
            return created

    async def _switch_to_v4(self, exc: AkoolCreateApiGone) -> None:
        if await self._store.note_v3_create_gone(now=self._clock()):
            log.warning(
                "AKOOL answered that v3 create is gone (HTTP %s, code %s: %s); every new job "
                "now goes through v4 createBySourcePrompt",
                exc.http_status,
                exc.code,
                exc.msg,
            )

    async def _create_v4(self, order: ImageOrder) -> ImageBatch:
        request = SourcePromptRequest(
            order.prompt,
            source_images=(order.source_image,) if order.source_image else (),
            scale=order.scale,
            resolution=order.resolution or self._resolution,
            batch_quantity=order.count or self._batch_quantity,
            similar=order.similarity,
            negative_prompt=order.negative,
            webhook_url=order.webhook_url,
        )
        return await self._akool.create_from_source_prompt(request)
