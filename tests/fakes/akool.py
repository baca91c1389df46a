"""A fake AKOOL on 127.0.0.1 speaking AKOOL's JSON API, controlled by the tests.

It serves the endpoints the bot uses (v3 ``createbyprompt``, v4 ``createBySourcePrompt``,
``createbybutton``, ``infobymodelid``, ``quota/info``) plus ``getToken``, authenticates by
``x-api-key`` (or a bearer token from ``getToken``), moves jobs queued -> processing ->
completed/failed on a per-job timeline, serves result images as real PNG bytes (or, per job, a
broken download, a huge picture or a file of a given size, at a URL of a given length: see
:class:`ResultFile`), applies button presses to ``buttons``/``used_buttons``, injects faults on
request, counts requests per endpoint, and sends webhooks encrypted and signed as AKOOL documents.
Result links die 7 days after the job was made (by :attr:`FakeAkool.wall_clock`), and a create
downloads its source image first, refusing the create when that link does not give it.

v4 as documented (reference section 1.2): ``batch_quantity`` n starts n image jobs with their own
ids, answered as one object for n = 1 and an array for n > 1 (or always an array: see
:attr:`FakeAkool.v4_single_as_array`); each costs 1 credit, is polled through ``infobymodelid``
and calls back to ``webhookurl`` on its own; a bad field is refused with code 1003. v3 create can
be switched off (:meth:`FakeAkool.switch_off_v3`) to answer the ways a retired endpoint might.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import json
import logging
import random
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.akool.models import ImageStatus
from tests.fakes.behind import Handler, behind
from tests.fakes.png import make_png

log = logging.getLogger(__name__)

API_KEY = "fake-akool-api-key-0123456789abc"  # 32 characters: AES-256, as in AKOOL's examples
CLIENT_ID = "fakeClientId0123456789ab"  # 24 characters, like real AKOOL client ids

SCALES = ("1:1", "4:3", "3:4", "16:9", "9:16", "3:2", "2:3")
GRID_BUTTONS = ("U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4")
CREDITS_PER_JOB = 2
# v4: the same ratios plus Original for image to image; 1 credit per image at either resolution.
V4_SCALES = (*SCALES, "Original")
V4_RESOLUTIONS = ("1080p", "4k")
V4_TEXT_MODEL = "wavespeed-ai/flux-krea-dev-lora"
V4_IMAGE_MODEL = "wavespeed-ai/flux-kontext-dev"
V4_MODELS = (V4_TEXT_MODEL, V4_IMAGE_MODEL)
CREDITS_PER_V4_IMAGE = 1
# AKOOL keeps generated images for 7 days (reference: "Resource lifetime"); then its links 404.
RESULT_LIFETIME = 7 * 24 * 60 * 60.0

ENDPOINTS = {
    "getToken": ("POST", "/api/open/v3/getToken"),
    "createbyprompt": ("POST", "/api/open/v3/content/image/createbyprompt"),
    "createBySourcePrompt": ("POST", "/api/open/v4/content/image/createBySourcePrompt"),
    "createbybutton": ("POST", "/api/open/v3/content/image/createbybutton"),
    "infobymodelid": ("GET", "/api/open/v3/content/image/infobymodelid"),
    "quota": ("GET", "/api/open/v3/faceswap/quota/info"),
}


class FaultKind(Enum):
    HTTP_500 = "http_500"  # plain-text 500, as a proxy in front of AKOOL would send
    HTTP_429 = "http_429"  # plain-text 429
    TIMEOUT = "timeout"  # no answer until the client gives up (or the fake closes)
    NOT_JSON = "not_json"  # HTTP 200 with an HTML body
    CODE = "code"  # HTTP 200 with a JSON envelope carrying a non-1000 code
    RESET = "reset"  # the connection is dropped without an answer


class V3Off(Enum):
    """How a switched-off v3 ``createbyprompt`` answers (AKOOL has not said which it will be)."""

    HTTP_404 = "http_404"  # the route is gone: a router's plain-text 404 page
    HTTP_410 = "http_410"  # HTTP 410 Gone with an envelope carrying code 410
    MESSAGE = "message"  # HTTP 200, an envelope with a code and a message saying it is deprecated


DEPRECATED_MSG = "This API has been deprecated. Please use the v4 API instead."


@dataclass
class Fault:
    kind: FaultKind
    code: int = 1005
    # CODE faults: the envelope's msg and the HTTP status it comes with.
    msg: str = "injected fault"
    http_status: int = 200
    # True: the request takes effect (a job is created) and only then the answer is lost.
    after: bool = False
    endpoint: str | None = None
    # Set: the request is held until the test sets this event, and only then fails.
    until: asyncio.Event | None = None


@dataclass(eq=False)
class Hold:
    """The next request to ``endpoint``, kept unanswered until :meth:`release` (or close).

    ``after=True``: the request takes effect first (AKOOL makes the job), then only its answer
    waits. ``job_id``: only a request about that job (a status request, or a press of its
    buttons) is held. A test waits for :attr:`reached` and knows exactly where the bot stands:
    asking.
    """

    endpoint: str
    after: bool = True
    job_id: str | None = None
    taken: bool = False
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    _gate: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self._gate.set()

    async def wait_reached(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            await self.reached.wait()

    async def _keep(self) -> None:
        self.reached.set()
        await self._gate.wait()


@dataclass
class Timeline:
    """When a new job moves on, in seconds after it was created.

    ``hold=True`` keeps the job at processing until the test calls :meth:`FakeAkool.finish`.
    """

    processing_after: float = 0.0
    finished_after: float = 0.0
    outcome: ImageStatus = ImageStatus.COMPLETED
    hold: bool = False


HTML_ERROR_PAGE = b"<html><head><title>Error</title></head><body>Something went wrong</body></html>"


@dataclass
class ResultFile:
    """How ``/results/`` serves one job's image, when a test wants something other than its PNG.

    ``body`` (``None``: the job's own PNG) is answered ``times`` times (``None``: always), then
    the job's own PNG, as when a CDN hiccup passes; ``url_length`` pads the job's result URLs
    with a query string to exactly that many characters (the fake ignores the query).
    """

    body: bytes | None = None
    content_type: str = "image/png"
    times: int | None = None
    url_length: int | None = None


@dataclass
class FakeJob:
    id: str
    kind: str  # "grid", "upscale" or "variation" (v3), or "image" (one image of a v4 batch)
    prompt: str
    scale: str
    created: float
    create_time_ms: int
    timeline: Timeline
    source_image: str = ""
    parent_id: str | None = None
    button: str | None = None
    webhook_url: str | None = None
    forced: ImageStatus | None = None
    buttons: list[str] = field(default_factory=list)
    used_buttons: list[str] = field(default_factory=list)
    credits: int = CREDITS_PER_JOB
    image_size: tuple[int, int] = (64, 64)
    noise: bool = False
    # The result's PNG padded to exactly this many bytes (see make_png), for upload-limit tests.
    pad_to: int | None = None
    # AKOOL's demo suggests upscaled_urls may lag behind status 3; tests can make it so.
    upscaled_pending: bool = False
    result: ResultFile = field(default_factory=ResultFile)
    # v4 only: what the image was asked for, and the ids of its batch (itself included).
    resolution: str | None = None
    negative_prompt: str | None = None
    similar: float | None = None
    model_name: str | None = None
    batch: list[str] = field(default_factory=list)
    # ``deduction_credit`` is null until the job finishes (see FakeAkool.credits_when_finished).
    credits_when_finished: bool = False
    # Unix time (FakeAkool.wall_clock) the job was made: its result links die RESULT_LIFETIME on.
    born: float = 0.0

    @property
    def v4(self) -> bool:
        return self.kind == "image"

    def status(self, now: float) -> ImageStatus:
        if self.forced is not None:
            return self.forced
        age = now - self.created
        if not self.timeline.hold and age >= self.timeline.finished_after:
            return self.timeline.outcome
        if age >= self.timeline.processing_after:
            return ImageStatus.PROCESSING
        return ImageStatus.QUEUED

    @property
    def offers_buttons(self) -> bool:
        # Grids and variations are four-candidate sets; an upscale is a single image.
        return self.kind in ("grid", "variation")


@dataclass(frozen=True)
class SourceFetch:
    """AKOOL downloading a create's source image: the link, and the HTTP status it got
    (``None``: a host off 127.0.0.1, which the fake never reaches and takes as it is)."""

    url: str
    status: int | None


@dataclass(frozen=True)
class RecordedRequest:
    endpoint: str
    method: str
    headers: dict[str, str]
    query: dict[str, str]
    body: Any
    at: float


class FakeAkool:
    """The fake server. ``await start()``, use :attr:`base_url`, ``await close()``."""

    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        client_id: str = CLIENT_ID,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_key = api_key
        self.client_id = client_id
        self.clock = clock
        #: Unix time for how long result links live (a test moves it to age them at once).
        self.wall_clock: Callable[[], float] = time.time
        self.jobs: dict[str, FakeJob] = {}
        self.timeline = Timeline()
        self.next_timelines: deque[Timeline] = deque()
        # A timeline for the next job with exactly this prompt, whatever order creates arrive in.
        self.timelines_by_prompt: dict[str, Timeline] = {}
        # How the result of the next job with exactly this prompt is served.
        self.results_by_prompt: dict[str, ResultFile] = {}
        # The credits the next jobs charge, in the order they are made (then CREDITS_PER_JOB).
        self.next_credits: deque[int] = deque()
        # True: the jobs made from now on report ``deduction_credit`` only once they finish
        # (null before), as AKOOL may do; False: from the create's answer on.
        self.credits_when_finished = False
        self.balance: float = 1000.0
        self.image_size: tuple[int, int] = (64, 64)
        self.noise_images = False
        # The pixels of a v4 image by the resolution it was asked at (others: image_size), and
        # the size in bytes every new result is padded to (None: as it compresses).
        self.v4_image_sizes: dict[str, tuple[int, int]] = {}
        self.result_pad_to: int | None = None
        self.variation_buttons = True
        self.calls: Counter[str] = Counter()
        self.requests: list[RecordedRequest] = []
        self.tokens: set[str] = set()
        self.webhooks_sent: list[dict[str, Any]] = []
        # Every source image a create named, as AKOOL fetched it (see _fetch_source).
        self.source_fetches: list[SourceFetch] = []
        # When each job's own callback (the final one) was sent: job id -> clock time.
        self.callbacks_at: dict[str, float] = {}
        self.auto_webhooks = True
        # v4 answers a single image as an object, as documented; True answers an array of one.
        self.v4_single_as_array = False
        # Set by switch_off_v3: how v3 createbyprompt answers instead of creating anything.
        self.v3_off: tuple[V3Off, int, str] | None = None
        # AKOOL may call back when a job starts processing as well as when it ends.
        self.progress_webhooks = False
        self._faults: deque[Fault] = deque()
        self._holds: list[Hold] = []
        # Holds taking effect once a request has done its work, by the request's id().
        self._holding: dict[int, Hold] = {}
        self._chaos_rate = 0.0
        self._chaos_kinds: tuple[FaultKind, ...] = ()
        self._chaos_rng = random.Random(0)
        self._changed = asyncio.Condition()
        self._release = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    # Lifecycle

    async def start(self) -> None:
        app = web.Application()
        routes: list[tuple[str, str, Handler]] = [
            ("POST", ENDPOINTS["getToken"][1], self._get_token),
            ("POST", ENDPOINTS["createbyprompt"][1], self._create),
            ("POST", ENDPOINTS["createBySourcePrompt"][1], self._create_v4),
            ("POST", ENDPOINTS["createbybutton"][1], self._press),
            ("GET", ENDPOINTS["infobymodelid"][1], self._result),
            ("GET", ENDPOINTS["quota"][1], self._quota),
            ("GET", "/results/{name}", self._image),
        ]
        # Not an aiohttp middleware: see tests.fakes.behind.
        for method, path, handler in routes:
            app.router.add_route(method, path, behind(self._hold_answer, handler))
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        self._release.set()
        for hold in self._holds:
            hold.release()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeAkool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # Test controls

    def switch_off_v3(
        self, shape: V3Off = V3Off.HTTP_404, *, code: int = 1003, msg: str = DEPRECATED_MSG
    ) -> None:
        """From now on v3 ``createbyprompt`` creates nothing and charges nothing; it answers in
        ``shape`` (``code`` and ``msg`` are the envelope's for :attr:`V3Off.MESSAGE`)."""
        self.v3_off = (shape, code, msg)

    def inject(self, fault: Fault | FaultKind, *, times: int = 1, code: int = 1005) -> None:
        """Make the next ``times`` matching requests fail with ``fault``."""
        if isinstance(fault, FaultKind):
            fault = Fault(fault, code=code)
        self._faults.extend([fault] * times)

    def hold_next(self, endpoint: str, *, after: bool = True, job_id: str | None = None) -> Hold:
        """Keep the next request to ``endpoint`` (about ``job_id``, if given) unanswered until
        the hold is released."""
        hold = Hold(endpoint, after=after, job_id=job_id)
        self._holds.append(hold)
        return hold

    def chaos(self, rate: float, kinds: tuple[FaultKind, ...], *, seed: int = 0) -> None:
        """Fail a random ``rate`` of all API requests with one of ``kinds`` (seeded)."""
        self._chaos_rate = rate
        self._chaos_kinds = kinds
        self._chaos_rng = random.Random(seed)

    def set_status(self, job_id: str, status: ImageStatus) -> None:
        """Force a job's status from now on, whatever its timeline says."""
        self.jobs[job_id].forced = status
        self._spawn(self._notify())
        if status.finished:
            self._spawn(self._auto_webhook(self.jobs[job_id], 0.0))

    def finish(self, job_id: str, outcome: ImageStatus = ImageStatus.COMPLETED) -> None:
        self.set_status(job_id, outcome)

    def add_job(
        self,
        *,
        status: ImageStatus | None = ImageStatus.COMPLETED,
        prompt: str = "made elsewhere",
        kind: str = "grid",
        result: ResultFile | None = None,
    ) -> FakeJob:
        """A job created outside the bot (the AKOOL web app, a script), for /track tests.

        ``status=None`` lets the job follow :attr:`timeline` like any other.
        """
        job = self._new_job(kind=kind, prompt=prompt, scale="1:1", webhook_url=None)
        if job.v4:
            job.credits = CREDITS_PER_V4_IMAGE
            job.resolution = "4k"
            job.model_name = V4_TEXT_MODEL
            job.batch = [job.id]
        job.forced = status
        if result is not None:
            job.result = result
        return job

    def png(self, job_id: str, candidate: int | None = None) -> bytes:
        """The exact bytes the fake serves for a job's result (or one of its candidates)."""
        job = self.jobs[job_id]
        seed = job_id if candidate is None else f"{job_id}-{candidate}"
        return _result_png(job.image_size, seed, job.noise, job.pad_to)

    def image_url(self, job_id: str, candidate: int | None = None) -> str:
        suffix = "" if candidate is None else f"-{candidate}"
        url = f"{self.base_url}/results/{job_id}{suffix}.png"
        job = self.jobs.get(job_id)
        length = job.result.url_length if job is not None else None
        if length is not None:
            url += "?sig=" + "x" * (length - len(url) - len("?sig="))
            assert len(url) == length, "url_length is shorter than the URL itself"
        return url

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]

    async def wait_for_calls(self, endpoint: str, count: int, timeout: float = 5.0) -> None:
        """Wait until ``endpoint`` has been called at least ``count`` times."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self.calls[endpoint] >= count)

    async def wait_until(self, done: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``done()`` holds, re-checked after every request."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(done)

    # Webhooks

    def webhook_body(
        self,
        payload: dict[str, Any] | str,
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> dict[str, Any]:
        """Encrypt and sign ``payload`` exactly as AKOOL's webhook documentation describes.

        A string is sent as the plain text itself (JSON that ``json.dumps`` would not write).
        """
        key = self.api_key.encode()
        iv = self.client_id.encode()[:16].ljust(16, b"\0")
        text = payload if isinstance(payload, str) else json.dumps(payload)
        padder = padding.PKCS7(128).padder()
        plain = padder.update(text.encode()) + padder.finalize()
        encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        data_encrypt = base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
        ts = int(time.time() * 1000) if timestamp is None else timestamp
        nonce = str(random.randrange(1000, 10000)) if nonce is None else nonce
        parts = sorted([self.client_id, str(ts), nonce, data_encrypt])
        signature = hashlib.sha1("".join(parts).encode()).hexdigest()  # noqa: S324 - AKOOL's scheme
        return {
            "signature": signature,
            "dataEncrypt": data_encrypt,
            "timestamp": ts,
            "nonce": nonce,
        }

    def webhook_payload(self, job_id: str) -> dict[str, Any]:
        job = self.jobs[job_id]
        status = job.status(self.clock())
        payload: dict[str, Any] = {"_id": job.id, "status": int(status), "type": "image"}
        if status is ImageStatus.COMPLETED:
            payload["url"] = self.image_url(job.id)
        return payload

    async def send_webhook(self, url: str, body: dict[str, Any]) -> int:
        """POST a webhook body to ``url``; return the HTTP status the receiver answered."""
        assert self._session is not None
        self.webhooks_sent.append(body)
        async with self._session.post(url, json=body) as response:
            return response.status

    # Internals

    async def _hold_answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Keep the answer of a request that did its work back while its hold lasts."""
        try:
            response: web.StreamResponse = await handler(request)
        finally:
            hold = self._holding.pop(id(request), None)
        if hold is not None:
            await hold._keep()
        return response

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _auto_webhook(self, job: FakeJob, delay: float) -> None:
        if not (self.auto_webhooks and job.webhook_url):
            return
        await asyncio.sleep(delay)  # the job's own schedule at the fake, not a test waiting
        if job.status(self.clock()).finished:
            self.callbacks_at[job.id] = self.clock()
        with contextlib.suppress(aiohttp.ClientError, OSError):
            await self.send_webhook(
                job.webhook_url, self.webhook_body(self.webhook_payload(job.id))
            )

    def _new_job(
        self,
        *,
        kind: str,
        prompt: str,
        scale: str,
        webhook_url: str | None,
        source_image: str = "",
        parent: FakeJob | None = None,
        button: str | None = None,
        timeline: Timeline | None = None,
    ) -> FakeJob:
        now = self.clock()
        timeline = timeline or self._next_timeline(prompt)
        job = FakeJob(
            id=secrets.token_hex(12),
            kind=kind,
            prompt=prompt,
            scale=scale,
            created=now,
            create_time_ms=int(time.time() * 1000),
            timeline=timeline,
            source_image=source_image,
            parent_id=parent.id if parent else None,
            button=button,
            webhook_url=webhook_url,
            image_size=self.image_size,
            noise=self.noise_images,
            pad_to=self.result_pad_to,
            born=self.wall_clock(),
        )
        if prompt in self.results_by_prompt:
            job.result = self.results_by_prompt.pop(prompt)
        if self.next_credits:
            job.credits = self.next_credits.popleft()
        job.credits_when_finished = self.credits_when_finished
        if job.offers_buttons and (kind == "grid" or self.variation_buttons):
            job.buttons = list(GRID_BUTTONS)
        self.jobs[job.id] = job
        if self.progress_webhooks and timeline.processing_after < timeline.finished_after:
            self._spawn(self._auto_webhook(job, timeline.processing_after))
        if not timeline.hold:
            self._spawn(self._auto_webhook(job, timeline.finished_after))
        return job

    def _next_timeline(self, prompt: str) -> Timeline:
        return self.timelines_by_prompt.pop(prompt, None) or (
            self.next_timelines.popleft() if self.next_timelines else self.timeline
        )

    def _job_data(self, job: FakeJob) -> dict[str, Any]:
        if job.v4:
            return self._v4_data(job)
        status = job.status(self.clock())
        done = status is ImageStatus.COMPLETED
        data: dict[str, Any] = {
            "faceswap_quality": 2,
            "deduction_credit": (
                job.credits if status.finished or not job.credits_when_finished else None
            ),
            "buttons": list(job.buttons) if done else [],
            "used_buttons": list(job.used_buttons) if done else [],
            "upscaled_urls": [],
            "_id": job.id,
            "uid": 378337,
            "create_time": job.create_time_ms,
            "origin_prompt": job.prompt,
            "prompt": job.prompt,
            "source_image": job.source_image,
            "type": 3,
            "from": 1,
            "image_status": int(status),
        }
        if done:
            data["image"] = self.image_url(job.id)
            if job.offers_buttons and not job.upscaled_pending:
                data["upscaled_urls"] = [self.image_url(job.id, n) for n in range(1, 5)]
        if job.parent_id is not None:
            data["image_content_model_id"] = job.parent_id
            data["op_button"] = job.button
        return data

    def _v4_data(self, job: FakeJob) -> dict[str, Any]:
        """A v4 image as createBySourcePrompt answers it, and (UNCERTAIN: the docs show no v4
        example) as infobymodelid does: the same fields, plus the v3 status fields, with the
        result in ``image`` and no buttons or candidates, since a v4 image is a single image."""
        status = job.status(self.clock())
        data: dict[str, Any] = {
            "_id": job.id,
            "uid": 378337,
            "team_id": "team_123456",
            "create_time": job.create_time_ms,
            "prompt": job.prompt,
            "origin_prompt": job.prompt,
            "source_image": job.source_image,
            "image_status": int(status),
            "image_sub_status": int(status),
            "deduction_credit": job.credits,
            "model_name": job.model_name,
            "provider": "wavespeed-ai",
            "type": 4,
            "from": 4,
            "sub_type": 40002 if job.source_image else 40001,
            "file_name": f"ImageGenerator_{job.create_time_ms}.png",
            "buttons": [],
            "used_buttons": [],
            "upscaled_urls": [],
        }
        if status is ImageStatus.COMPLETED:
            data["image"] = self.image_url(job.id)
        return data

    async def _begin(self, request: web.Request, endpoint: str) -> tuple[Any, Fault | None]:
        """Record and authenticate a request; return its body and the fault to apply, if any."""
        body = await self._record(request, endpoint)
        about = request.query.get("image_model_id") or (
            body.get("_id") if isinstance(body, dict) else None
        )
        hold = next(
            (
                h
                for h in self._holds
                if h.endpoint == endpoint and not h.taken and h.job_id in (None, about)
            ),
            None,
        )
        if hold is not None:
            hold.taken = True
            if hold.after:
                self._holding[id(request)] = hold
            else:
                await hold._keep()
        fault = self._next_fault(endpoint)
        if fault is not None and not fault.after:
            await self._raise_fault(request, fault)
        if endpoint != "getToken":
            self._authenticate(request)
        return body, fault

    async def _record(self, request: web.Request, endpoint: str) -> Any:
        """Count and record a request; return its JSON body (``None`` if it has none)."""
        body: Any = None
        if request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                body = None
        self.calls[endpoint] += 1
        self.requests.append(
            RecordedRequest(
                endpoint=endpoint,
                method=request.method,
                headers=dict(request.headers),
                query=dict(request.query),
                body=body,
                at=self.clock(),
            )
        )
        await self._notify()
        return body

    def _next_fault(self, endpoint: str) -> Fault | None:
        for fault in self._faults:
            if fault.endpoint in (None, endpoint):
                self._faults.remove(fault)
                return fault
        if self._chaos_rate and self._chaos_rng.random() < self._chaos_rate:
            return Fault(self._chaos_rng.choice(self._chaos_kinds), code=1005)
        return None

    async def _raise_fault(self, request: web.Request, fault: Fault) -> None:
        if fault.until is not None:
            await self._held(fault.until)
        log.info("fake AKOOL injects %s on %s", fault.kind.value, request.path)
        if fault.kind is FaultKind.HTTP_500:
            raise web.HTTPInternalServerError(text="Internal Server Error")
        if fault.kind is FaultKind.HTTP_429:
            raise web.HTTPTooManyRequests(text="Too Many Requests")
        if fault.kind is FaultKind.NOT_JSON:
            raise web.HTTPOk(text="<html><body>Bad gateway</body></html>", content_type="text/html")
        if fault.kind is FaultKind.CODE:
            raise _envelope_error(fault.code, fault.msg, status=fault.http_status)
        if fault.kind is FaultKind.RESET:
            assert request.transport is not None
            request.transport.close()
            raise web.HTTPInternalServerError()
        await self._release.wait()  # TIMEOUT: hang until the client gives up or the fake closes
        raise web.HTTPServiceUnavailable()

    async def _held(self, gate: asyncio.Event) -> None:
        """Until the test opens ``gate``, or the fake closes."""
        waits = {asyncio.ensure_future(gate.wait()), asyncio.ensure_future(self._release.wait())}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    def _authenticate(self, request: web.Request) -> None:
        # As documented: when both headers are present, Authorization wins.
        authorization = request.headers.get("Authorization", "")
        if authorization:
            if authorization.removeprefix("Bearer ") not in self.tokens:
                raise _envelope_error(1101, "Invalid authorization or token expired")
            return
        key = request.headers.get("x-api-key")
        if not key:
            raise _envelope_error(1102, "Authorization cannot be empty")
        if not secrets.compare_digest(key, self.api_key):
            raise _envelope_error(1101, "Invalid authorization or token expired")

    async def _finish(self, request: web.Request, fault: Fault | None, data: Any) -> web.Response:
        if fault is not None:
            await self._raise_fault(request, fault)
        return web.json_response({"code": 1000, "msg": "OK", "data": data})

    # Handlers

    async def _get_token(self, request: web.Request) -> web.Response:
        body, fault = await self._begin(request, "getToken")
        if not isinstance(body, dict):
            raise _envelope_error(1003, "Parameter error")
        if body.get("clientId") != self.client_id or body.get("clientSecret") != self.api_key:
            raise _envelope_error(1101, "Invalid authorization")
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        if fault is not None:
            await self._raise_fault(request, fault)
        return web.json_response({"code": 1000, "token": token})

    async def _create(self, request: web.Request) -> web.Response:
        if self.v3_off is not None:
            # A retired route answers before anything else looks at the request.
            await self._record(request, "createbyprompt")
            raise _v3_off_answer(*self.v3_off)
        body, fault = await self._begin(request, "createbyprompt")
        if not isinstance(body, dict):
            raise _envelope_error(1003, "Parameter error")
        prompt = body.get("prompt")
        scale = body.get("scale", "1:1")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _envelope_error(1003, "prompt cannot be empty")
        if scale not in SCALES:
            raise _envelope_error(1003, "validate error: scale")
        await self._fetch_source(body.get("source_image") or "")
        if self.balance < CREDITS_PER_JOB:
            raise _envelope_error(1104, "Insufficient credit balance")
        self.balance -= CREDITS_PER_JOB
        job = self._new_job(
            kind="grid",
            prompt=prompt,
            scale=scale,
            webhook_url=body.get("webhookUrl"),
            source_image=body.get("source_image") or "",
        )
        return await self._finish(request, fault, self._job_data(job))

    async def _create_v4(self, request: web.Request) -> web.Response:
        body, fault = await self._begin(request, "createBySourcePrompt")
        if not isinstance(body, dict):
            raise _envelope_error(1003, "Parameter error")
        problem = _v4_problem(body)
        if problem is not None:
            raise _envelope_error(1003, problem)
        count = body.get("batch_quantity", 1)
        cost = count * CREDITS_PER_V4_IMAGE
        sources = body.get("source_images") or []
        source = sources[0] if sources else ""  # as documented: only the first URL is used
        await self._fetch_source(source)
        if self.balance < cost:
            raise _envelope_error(1104, "Insufficient credit balance")
        self.balance -= cost
        prompt = body["prompt"]
        # A timeline set for this prompt applies to every image of the batch; otherwise each
        # image takes the next queued timeline, so a test can make one image of four fail.
        shared = self.timelines_by_prompt.pop(prompt, None)
        images = []
        for _ in range(count):
            job = self._new_job(
                kind="image",
                prompt=prompt,
                scale=body.get("scale", "1:1"),
                webhook_url=body.get("webhookurl"),
                source_image=source,
                timeline=shared,
            )
            job.credits = CREDITS_PER_V4_IMAGE
            job.resolution = body.get("resolution", "4k")
            job.image_size = self.v4_image_sizes.get(job.resolution, job.image_size)
            job.negative_prompt = body.get("negative_prompt")
            job.similar = body.get("similar", 0.5) if source else None
            job.model_name = body.get("model_name") or (V4_IMAGE_MODEL if source else V4_TEXT_MODEL)
            images.append(job)
        for job in images:
            job.batch = [image.id for image in images]
        data: Any = [self._job_data(job) for job in images]
        if count == 1 and not self.v4_single_as_array:
            data = data[0]
        return await self._finish(request, fault, data)

    async def _fetch_source(self, url: str) -> None:
        """Download a create's source image, as AKOOL must to start from it, and refuse the
        create (charging nothing) when the link does not give it: an expired Discord link, a
        deleted file. UNCERTAIN: AKOOL documents no code for a source it cannot download; 1003
        with a message naming the field is the shape of its other validation errors.
        Only links to 127.0.0.1 are fetched: tests never reach anything else."""
        if not url:
            return
        if urlsplit(url).hostname != "127.0.0.1":
            self.source_fetches.append(SourceFetch(url, None))
            return
        assert self._session is not None
        try:
            async with self._session.get(url, allow_redirects=False) as response:
                status = response.status
                data = await response.read()
        except aiohttp.ClientError:
            status, data = 0, b""
        self.source_fetches.append(SourceFetch(url, status))
        if status != 200 or not data:
            raise _envelope_error(1003, "validate error: source_image could not be downloaded")

    async def _press(self, request: web.Request) -> web.Response:
        body, fault = await self._begin(request, "createbybutton")
        if not isinstance(body, dict):
            raise _envelope_error(1003, "Parameter error")
        parent = self.jobs.get(str(body.get("_id")))
        button = body.get("button")
        if parent is None:
            raise _envelope_error(1008, "Content does not exist")
        if parent.status(self.clock()) is not ImageStatus.COMPLETED:
            raise _envelope_error(1010, "This content cannot be operated")
        if button in parent.used_buttons:
            raise _envelope_error(1011, "This content has already been operated")
        if button not in parent.buttons:
            raise _envelope_error(1003, "validate error: button")
        if self.balance < CREDITS_PER_JOB:
            raise _envelope_error(1104, "Insufficient credit balance")
        self.balance -= CREDITS_PER_JOB
        parent.buttons.remove(button)
        parent.used_buttons.append(button)
        child = self._new_job(
            kind="upscale" if button.startswith("U") else "variation",
            prompt=parent.prompt,
            scale=parent.scale,
            webhook_url=body.get("webhookUrl"),
            parent=parent,
            button=button,
        )
        data = self._job_data(child)
        data["op_buttonMessageId"] = secrets.token_urlsafe(15)
        return await self._finish(request, fault, data)

    async def _result(self, request: web.Request) -> web.Response:
        _, fault = await self._begin(request, "infobymodelid")
        job = self.jobs.get(request.query.get("image_model_id", ""))
        if job is None:
            raise _envelope_error(1008, "Content does not exist")
        return await self._finish(request, fault, self._job_data(job))

    async def _quota(self, request: web.Request) -> web.Response:
        _, fault = await self._begin(request, "quota")
        return await self._finish(request, fault, {"credit": self.balance})

    async def _image(self, request: web.Request) -> web.Response:
        name = request.match_info["name"].removesuffix(".png")
        job_id, _, candidate = name.partition("-")
        job = self.jobs.get(job_id)
        if job is None or job.status(self.clock()) is not ImageStatus.COMPLETED:
            raise web.HTTPNotFound()
        if self.wall_clock() >= job.born + RESULT_LIFETIME:
            self.calls["expired image"] += 1
            raise web.HTTPNotFound()  # deleted after 7 days
        self.calls["image"] += 1
        served = job.result
        if served.body is not None and served.times != 0:
            if served.times is not None:
                served.times -= 1
            # The raw header: aiohttp's content_type= refuses a value with parameters.
            return web.Response(body=served.body, headers={"Content-Type": served.content_type})
        data = self.png(job_id, int(candidate) if candidate else None)
        return web.Response(body=data, content_type="image/png")


@functools.lru_cache(maxsize=16)
def _result_png(size: tuple[int, int], seed: str, noise: bool, pad_to: int | None) -> bytes:
    # A 4K result takes a moment to make: made once, however often it is served.
    return make_png(*size, seed, noise=noise, pad_to=pad_to)


def _envelope_error(code: int, msg: str, *, status: int = 200) -> web.HTTPException:
    """AKOOL reports errors with HTTP 200 and a non-1000 code in the JSON envelope."""
    text = json.dumps({"code": code, "msg": msg})
    if status == 200:
        return web.HTTPOk(text=text, content_type="application/json")
    error = web.HTTPException(text=text, content_type="application/json")
    error.set_status(status)
    return error


def _v3_off_answer(shape: V3Off, code: int, msg: str) -> web.HTTPException:
    if shape is V3Off.HTTP_404:
        return web.HTTPNotFound(text="404 page not found")
    if shape is V3Off.HTTP_410:
        return _envelope_error(410, "Gone", status=410)
    return _envelope_error(code, msg)


def _v4_problem(body: dict[str, Any]) -> str | None:
    """What AKOOL's validation would say about a v4 body, in its style (code 1003); unknown
    fields are ignored, as an API does."""
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return "prompt cannot be empty"
    sources = body.get("source_images", [])
    if not isinstance(sources, list) or not all(isinstance(u, str) and u for u in sources):
        return "validate error: source_images"
    scale = body.get("scale", "1:1")
    if scale not in V4_SCALES or (scale == "Original" and not sources):
        return "validate error: scale"
    if body.get("resolution", "4k") not in V4_RESOLUTIONS:
        return "validate error: resolution"
    count = body.get("batch_quantity", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 4:
        return "validate error: batch_quantity must be between 1 and 4"
    similar = body.get("similar", 0.5)
    if not isinstance(similar, int | float) or isinstance(similar, bool) or not 0 <= similar <= 1:
        return "validate error: similar must be between 0 and 1"
    negative = body.get("negative_prompt", "")
    if not isinstance(negative, str):
        return "validate error: negative_prompt"
    webhook = body.get("webhookurl", "")
    if not isinstance(webhook, str):
        return "validate error: webhookurl"
    model = body.get("model_name")
    if model is not None and model not in V4_MODELS:
        return "validate error: model_name"
    return None
