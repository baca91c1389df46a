"""The bot's metrics, served at ``GET /metrics`` in Prometheus's text format.

Each bot has a registry of its own (never prometheus_client's global one), so several bots in
one process (the tests) keep their numbers apart. The hot paths call one method here per event;
the gauges that describe "now" (unfinished jobs, the gateway) are read when a scrape comes.

AKOOL reports no moment at which a job finished. Where a verified callback announced the end,
its timestamp (AKOOL's clock, when it sent the callback) is taken as that moment
(``source="webhook"``). Otherwise the moment is the bot's last sight of the job unfinished, its
previous status answer (``source="poll"``): the delays measured from it are upper bounds, the
most that polling can have cost.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Final, TypeVar

import aiohttp
import discord
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.akool.errors import SUCCESS, AkoolError, AkoolTransportError
from bot.budget import Budget, RequestKind
from bot.secret import Secret
from bot.store.models import Job, JobKind, JobStatus

# Each counter and histogram would also export a ``_created`` timestamp series per label set;
# nothing here reads them, and ``jobs_created_created`` would only confuse.
disable_created_metrics()  # type: ignore[no-untyped-call]

PREFIX: Final = "akool_bot"
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

# Discord's interaction deadline is 3 s: the buckets are fine-grained around it.
_RESPONSE_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0)
_AKOOL_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
_DELAY_BUCKETS: Final = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
_WAIT_BUCKETS: Final = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Jobs between their end and their post, remembered for the post's delay; past this many (posts
# that never come in this process), the oldest are forgotten.
_REMEMBERED: Final = 10_000
# An interaction's first response is its callback: POST /interactions/{id}/{token}/callback.
_CALLBACK: Final = re.compile(r"/interactions/([0-9]+)/[^/]+/callback$")

K = TypeVar("K")
V = TypeVar("V")


class Metrics:
    """Every metric of one bot, in one registry."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.registry = CollectorRegistry()
        r = self.registry
        self._created = Counter(
            f"{PREFIX}_jobs_created",
            "Jobs stored: new at AKOOL (imagine, button), or made elsewhere and tracked.",
            ["kind"],
            registry=r,
        )
        self._finished = Counter(
            f"{PREFIX}_jobs_finished", "Jobs the bot saw AKOOL complete.", ["kind"], registry=r
        )
        self._failed = Counter(
            f"{PREFIX}_jobs_failed",
            "Jobs that failed: AKOOL said so, AKOOL no longer knew them, or they timed out.",
            ["kind"],
            registry=r,
        )
        self._delivered = Counter(
            f"{PREFIX}_jobs_delivered",
            "Finished jobs posted in Discord (in their channel or, failing that, by DM).",
            ["kind"],
            registry=r,
        )
        self._undeliverable = Counter(
            f"{PREFIX}_jobs_undeliverable",
            "Finished jobs the bot gave up posting anywhere.",
            ["kind"],
            registry=r,
        )
        self._unfinished = Gauge(
            f"{PREFIX}_jobs_unfinished",
            "Jobs not yet posted, by their status at AKOOL (completed/failed: waiting to be "
            "posted). Read from the store, so every process sharing it reports the same.",
            ["kind", "status"],
            registry=r,
        )
        self._akool_requests = Counter(
            f"{PREFIX}_akool_requests",
            "Requests to AKOOL by endpoint and outcome: AKOOL's code (1000 is success), or the "
            "transport failure (timeout, connect, http_<status> without JSON, aiohttp's error).",
            ["endpoint", "outcome"],
            registry=r,
        )
        self._akool_seconds = Histogram(
            f"{PREFIX}_akool_request_seconds",
            "How long AKOOL took to answer one request (the budget wait not included).",
            ["endpoint"],
            buckets=_AKOOL_BUCKETS,
            registry=r,
        )
        self._noticed = Histogram(
            f"{PREFIX}_job_notice_delay_seconds",
            "From a job's end at AKOOL to the bot knowing it (its confirming status answer).",
            ["source"],
            buckets=_DELAY_BUCKETS,
            registry=r,
        )
        self._posted = Histogram(
            f"{PREFIX}_job_post_delay_seconds",
            "From a job's end at AKOOL to its post in Discord.",
            ["source"],
            buckets=_DELAY_BUCKETS,
            registry=r,
        )
        self._budget_wait = Histogram(
            f"{PREFIX}_budget_wait_seconds",
            "How long a request waited for its AKOOL request budget.",
            ["budget"],
            buckets=_WAIT_BUCKETS,
            registry=r,
        )
        self._first_response = Histogram(
            f"{PREFIX}_interaction_first_response_seconds",
            "From an interaction's creation (its id's timestamp, Discord's clock) to Discord "
            "accepting the bot's first response to it.",
            buckets=_RESPONSE_BUCKETS,
            registry=r,
        )
        self._expired = Counter(
            f"{PREFIX}_interaction_responses_expired",
            "First responses Discord refused because it no longer knew the interaction (404): "
            "sent after its 3 seconds, so the member saw 'The application did not respond'.",
            registry=r,
        )
        self._webhooks = Counter(
            f"{PREFIX}_webhooks",
            "AKOOL callbacks received, by what the bot made of them.",
            ["verdict"],
            registry=r,
        )
        self._gateway = Gauge(
            f"{PREFIX}_gateway_connected",
            "1 while every shard of this process is connected to Discord's gateway.",
            registry=r,
        )
        # AKOOL id -> when its final callback was sent, until the bot confirms the end.
        self._announced: dict[str, float] = {}
        # AKOOL id -> (source, when it ended), from its end until its post.
        self._ended: dict[str, tuple[str, float]] = {}
        # Interactions already counted as expired.
        self._expired_ids: dict[int, bool] = {}

    # Jobs

    def job_created(self, job: Job, *, created: bool = True) -> None:
        if created:
            self._created.labels(job.kind.value).inc()

    def job_ended(self, before: Job, after: Job | None, *, timed: bool = True) -> None:
        """``after`` is ``before`` with AKOOL's latest answer recorded: count it if that ended the
        job. ``timed``: the answer came from AKOOL just now (not a verdict of the bot's own, or a
        job first seen already finished), so the delay since its end can be told."""
        if after is None or before.status.finished or not after.status.finished:
            return
        kind = after.kind.value
        (self._finished if after.status is JobStatus.COMPLETED else self._failed).labels(kind).inc()
        announced = self._announced.pop(after.akool_id, None)
        if not timed:
            return
        if announced is not None:
            source, ended = "webhook", announced
        else:
            source, ended = "poll", before.updated_at
        self._noticed.labels(source).observe(max(0.0, self._clock() - ended))
        _remember(self._ended, after.akool_id, (source, ended))

    def job_delivered(self, job: Job, *, first: bool) -> None:
        """``first``: this call recorded the post (a retry of a recorded one is not counted)."""
        if not first:
            return
        self._delivered.labels(job.kind.value).inc()
        ended = self._ended.pop(job.akool_id, None)
        if ended is not None:
            source, moment = ended
            self._posted.labels(source).observe(max(0.0, self._clock() - moment))

    def job_undeliverable(self, job: Job, *, first: bool) -> None:
        if first:
            self._undeliverable.labels(job.kind.value).inc()
            self._ended.pop(job.akool_id, None)

    # AKOOL

    @contextmanager
    def akool_request(self, endpoint: str) -> Iterator[None]:
        """Time one request to AKOOL and count its outcome (the exception it raises, if any)."""
        started = time.monotonic()
        outcome = str(SUCCESS)
        try:
            yield
        except AkoolError as exc:
            outcome = akool_outcome(exc)
            raise
        except BaseException:
            outcome = "cancelled"
            raise
        finally:
            self._akool_seconds.labels(endpoint).observe(time.monotonic() - started)
            self._akool_requests.labels(endpoint, outcome).inc()

    def request_waited(self, kind: RequestKind, seconds: float) -> None:
        """An AKOOL request waited ``seconds`` for its slot of the budget served by kind (see
        bot.budget): counted as ``akool`` (every request) and as its kind's."""
        self._budget_wait.labels("akool").observe(seconds)
        self._budget_wait.labels(f"akool/{_KIND_LABELS[kind]}").observe(seconds)

    def timed(self, budget: Budget, name: str) -> Budget:
        """``budget`` with the wait of every ``acquire`` measured as ``name``."""
        return _TimedBudget(budget, self._budget_wait.labels(name))

    # Discord

    def discord_trace(self) -> aiohttp.TraceConfig:
        """For discord.py's HTTP session: times each interaction's first response (its
        callback, which Discord accepts once per interaction)."""
        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(self._on_discord_request_end)
        return trace

    async def _on_discord_request_end(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        found = _CALLBACK.search(params.url.path) if params.method == "POST" else None
        if found is None:
            return
        interaction_id = int(found.group(1))
        if params.response.status == 404:
            # Counted once: the error handler's own try at answering is refused as well.
            if interaction_id not in self._expired_ids:
                _remember(self._expired_ids, interaction_id, True)
                self._expired.inc()
            return
        if params.response.status >= 400:
            return  # refused for another reason (already answered, a malformed answer)
        created = discord.utils.snowflake_time(interaction_id).timestamp()
        self._first_response.observe(max(0.0, self._clock() - created))

    # Webhooks

    def webhook(self, verdict: str) -> None:
        self._webhooks.labels(verdict).inc()

    def webhook_accepted(self, akool_id: str, *, final: bool, sent_at: float) -> None:
        """A verified, fresh callback; one that says the job ended dates that end."""
        self._webhooks.labels("accepted").inc()
        if final:
            _remember(self._announced, akool_id, sent_at)

    # Scrapes

    def authorized(self, token: Secret | None, header: str | None) -> bool:
        """Whether a scrape may read the metrics: ``Authorization: Bearer <token>`` when a token
        is set, compared in constant time."""
        if token is None:
            return True
        expected = f"Bearer {token.reveal()}".encode()
        return hmac.compare_digest(expected, (header or "").encode())

    def render(
        self, *, unfinished: Iterable[tuple[JobKind, JobStatus, int]], gateway: bool
    ) -> bytes:
        """The text a scrape gets, with the gauges of "now" set first."""
        counts = {(kind, status): n for kind, status, n in unfinished}
        for kind in JobKind:
            for status in JobStatus:
                self._unfinished.labels(kind.value, status.value).set(counts.get((kind, status), 0))
        self._gateway.set(1 if gateway else 0)
        return generate_latest(self.registry)


def akool_outcome(exc: AkoolError) -> str:
    """An AKOOL error as a label value: its code, or what went wrong in transport."""
    if exc.code is not None:
        return str(exc.code)
    if isinstance(exc, AkoolTransportError):
        return exc.cause
    return type(exc).__name__


_KIND_LABELS: Final = {
    RequestKind.URGENT: "urgent",
    RequestKind.POLL: "polls",
    RequestKind.LOOKUP: "lookups",
}


class _TimedBudget:
    def __init__(self, budget: Budget, waits: Histogram) -> None:
        self._budget = budget
        self._waits = waits
        self.cancel_safe = budget.cancel_safe

    async def acquire(self, headroom: int = 0) -> None:
        started = time.monotonic()
        await self._budget.acquire(headroom)
        self._waits.observe(time.monotonic() - started)


def _remember(memory: dict[K, V], key: K, value: V) -> None:
    memory.pop(key, None)
    memory[key] = value
    while len(memory) > _REMEMBERED:
        del memory[next(iter(memory))]
