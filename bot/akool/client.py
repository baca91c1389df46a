"""The AKOOL HTTP client: every request the bot makes to AKOOL goes through :class:`AkoolClient`.

Two create endpoints: v3 ``createbyprompt`` (a Midjourney-style grid of four candidates with U/V
buttons; deprecated in AKOOL's newer docs) and v4 ``createBySourcePrompt`` (1-4 separate images,
each with its own id). When v3 create answers that it is gone, :meth:`AkoolClient.create_image`
raises :class:`AkoolCreateApiGone`, so the caller can send the job through v4 instead.

Success is ``code == 1000`` in the JSON envelope, whatever the HTTP status. Reads retry with
bounded exponential backoff and jitter. Creates cost credits, so they are retried only when the
request certainly did not start a job (the connection never opened, or AKOOL throttled it);
otherwise they fail with :class:`AkoolUncertainCreateError`.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Final, Protocol

import aiohttp
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from bot.akool.errors import (
    SUCCESS,
    AkoolAPIError,
    AkoolCreateApiGone,
    AkoolError,
    AkoolTransportError,
    AkoolUncertainCreateError,
)
from bot.akool.gone import create_api_gone
from bot.akool.models import Credit, ImageBatch, ImageJob
from bot.akool.source_prompt import SourcePromptRequest
from bot.bodies import BodyTooLargeError, read_capped
from bot.budget import Budget, PriorityBudget, RequestKind
from bot.secret import Secret
from bot.settings import DEFAULT_AKOOL_BASE_URL

log = logging.getLogger(__name__)

CREATE_PATH: Final = "/api/open/v3/content/image/createbyprompt"
SOURCE_PROMPT_PATH: Final = "/api/open/v4/content/image/createBySourcePrompt"
BUTTON_PATH: Final = "/api/open/v3/content/image/createbybutton"
RESULT_PATH: Final = "/api/open/v3/content/image/infobymodelid"
CREDIT_PATH: Final = "/api/open/v3/faceswap/quota/info"
LEGACY_AUTH_PATH: Final = "/api/open/v3/getToken"

# AKOOL's own names for the endpoints, as the metrics label them.
_ENDPOINTS: Final = {
    CREATE_PATH: "createbyprompt",
    BUTTON_PATH: "createbybutton",
    RESULT_PATH: "infobymodelid",
    CREDIT_PATH: "quota",
}

# An AKOOL answer is a small JSON envelope; anything far larger is not one.
_MAX_BODY_BYTES: Final = 1024 * 1024
_THROTTLED: Final = 1005
# How much of a body that is not an envelope is kept to tell a retired route from an outage.
_BODY_SHOWN: Final = 500


class RequestObserver(Protocol):
    """Watches each request (the metrics): the context covers the exchange, budget wait
    excluded, and sees the exception it ends with."""

    def akool_request(self, endpoint: str) -> AbstractContextManager[None]: ...


class _Unobserved:
    def akool_request(self, endpoint: str) -> AbstractContextManager[None]:
        return contextlib.nullcontext()


class _NotSentError(AkoolTransportError):
    """The connection never opened, so AKOOL cannot have seen the request."""


class _MaybeSentError(AkoolTransportError):
    """The request may have reached AKOOL, but no usable answer came back."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        body: str = "",
        cause: str = "transport",
    ) -> None:
        super().__init__(message, http_status=http_status, cause=cause)
        # The start of a body that is not an envelope (a router's 404 page), for diagnosis.
        self.body = body


class _ThrottledError(AkoolTransportError):
    """HTTP 429: AKOOL turned the request away before doing anything."""


def _safe_to_resend(exc: BaseException) -> bool:
    """For creates: retry only when no job can have been started by the failed attempt."""
    if isinstance(exc, _NotSentError | _ThrottledError):
        return True
    return isinstance(exc, AkoolAPIError) and exc.code == _THROTTLED


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, AkoolError) and exc.retryable


class AkoolClient:
    """AKOOL's image endpoints over one shared :class:`aiohttp.ClientSession`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_key: Secret,
        base_url: str = DEFAULT_AKOOL_BASE_URL,
        *,
        timeout: float = 30.0,
        attempts: int = 4,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        budget: PriorityBudget | Budget | None = None,
        observer: RequestObserver | None = None,
    ) -> None:
        self._session = session
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._attempts = attempts
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        # Every request, whoever makes it, waits for the shared budget, so a burst of jobs
        # cannot trip AKOOL's throttling (code 1005); each says what it is for, and the budget
        # serves the most urgent first (a plain budget serves them in turn).
        self._budget = budget
        self._observer = observer or _Unobserved()

    def __repr__(self) -> str:
        return f"AkoolClient(base_url={self._base_url!r})"

    async def create_image(
        self,
        prompt: str,
        scale: str = "1:1",
        source_image: str | None = None,
        webhook_url: str | None = None,
    ) -> ImageJob:
        """Start a four-candidate grid job (v3 ``createbyprompt``), which offers U1-U4 and V1-V4.

        Raises :class:`AkoolCreateApiGone` when AKOOL answers that this endpoint is gone; then
        nothing was created or charged.
        """
        body: dict[str, Any] = {"prompt": prompt, "scale": scale}
        if source_image:
            body["source_image"] = source_image
        if webhook_url:
            body["webhookUrl"] = webhook_url
        try:
            data = await self._create(CREATE_PATH, body)
        except (AkoolAPIError, AkoolUncertainCreateError) as exc:
            cause = exc.__cause__ if isinstance(exc, AkoolUncertainCreateError) else exc
            msg = cause.body if isinstance(cause, _MaybeSentError) else exc.msg
            if create_api_gone(
                http_status=exc.http_status,
                code=exc.code,
                msg=msg,
                quoted=(prompt, source_image or ""),
            ):
                # No log here: whoever switches APIs logs it once, not every process each time.
                raise AkoolCreateApiGone(
                    f"AKOOL's v3 create endpoint is gone: HTTP {exc.http_status}, "
                    f"code {exc.code}: {msg}",
                    code=exc.code,
                    msg=msg,
                    http_status=exc.http_status,
                ) from exc
            raise
        return ImageJob.from_data(data)

    async def create_from_source_prompt(self, request: SourcePromptRequest) -> ImageBatch:
        """Start ``request.batch_quantity`` images (v4 ``createBySourcePrompt``), one job each.

        Each image's ``_id`` is polled through :meth:`get_result` and charged on its own.
        """
        data = await self._create(SOURCE_PROMPT_PATH, request.body())
        return ImageBatch.from_data(data, asked=request.batch_quantity)

    async def press_button(
        self, job_id: str, button: str, webhook_url: str | None = None
    ) -> ImageJob:
        """Use one of a finished job's buttons (``createbybutton``); the answer is a new job."""
        body: dict[str, Any] = {"_id": job_id, "button": button}
        if webhook_url:
            body["webhookUrl"] = webhook_url
        data = await self._create(BUTTON_PATH, body)
        return ImageJob.from_data(data)

    async def get_result(self, job_id: str, *, kind: RequestKind = RequestKind.POLL) -> ImageJob:
        """The job's current state (``infobymodelid``); ``kind`` says what the answer is for."""
        data = await self._read(RESULT_PATH, {"image_model_id": job_id}, kind)
        return ImageJob.from_data(data)

    async def get_credit(self) -> Credit:
        """The account's credit balance (``quota/info``)."""
        return Credit.from_data(await self._read(CREDIT_PATH, None, RequestKind.LOOKUP))

    async def confirm_client_id(self, client_id: Secret) -> None:
        """Ask AKOOL whether ``client_id`` belongs with this API key (``getToken``, which takes
        the pair); :class:`AkoolAPIError` if not. The token it answers with is not kept: the bot
        authenticates with the key itself."""
        body = {"clientId": client_id.reveal(), "clientSecret": self._api_key.reveal()}
        retrying = self._retrying(_retryable)
        async for attempt in retrying:
            with attempt:
                await self._send("POST", LEGACY_AUTH_PATH, RequestKind.LOOKUP, json_body=body)
                return

    async def _read(self, path: str, params: Mapping[str, str] | None, kind: RequestKind) -> Any:
        retrying = self._retrying(_retryable)
        async for attempt in retrying:
            with attempt:
                return await self._send("GET", path, kind, params=params)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    async def _create(self, path: str, body: Mapping[str, Any]) -> Any:
        retrying = self._retrying(_safe_to_resend)
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._send("POST", path, RequestKind.URGENT, json_body=body)
        except _MaybeSentError as exc:
            raise AkoolUncertainCreateError(
                f"create call to {path} may have reached AKOOL but got no answer: {exc}",
                http_status=exc.http_status,
            ) from exc
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _retrying(self, predicate: Any) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_random_exponential(multiplier=self._backoff_initial, max=self._backoff_max),
            retry=retry_if_exception(predicate),
            before_sleep=_log_retry,
            reraise=True,
        )

    async def _send(
        self,
        method: str,
        path: str,
        kind: RequestKind,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> Any:
        if isinstance(self._budget, PriorityBudget):
            await self._budget.acquire(kind)
        elif self._budget is not None:
            await self._budget.acquire()
        with self._observer.akool_request(_ENDPOINTS.get(path, path)):
            return await self._exchange(method, path, params=params, json_body=json_body)

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        json_body: Mapping[str, Any] | None,
    ) -> Any:
        headers = {"x-api-key": self._api_key.reveal(), "Accept": "application/json"}
        try:
            async with self._session.request(
                method,
                self._base_url + path,
                params=params,
                json=json_body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                status = response.status
                try:
                    raw = await read_capped(response, _MAX_BODY_BYTES)
                except BodyTooLargeError:
                    raw = b""  # not an AKOOL envelope; handled below like any non-JSON body
        except aiohttp.ClientConnectorError as exc:
            raise _NotSentError(
                f"cannot connect to AKOOL: {exc.os_error}", cause="connect"
            ) from None
        except TimeoutError:
            raise _MaybeSentError(
                f"AKOOL did not answer within {self._timeout.total} s", cause="timeout"
            ) from None
        except aiohttp.ClientError as exc:
            name = type(exc).__name__
            raise _MaybeSentError(f"connection to AKOOL failed: {name}", cause=name) from None

        log.debug("AKOOL %s %s -> HTTP %s", method, path, status)
        envelope = _envelope(raw)
        if envelope is None:
            if status == 429:
                raise _ThrottledError(
                    "AKOOL answered HTTP 429", http_status=status, cause="http_429"
                )
            raise _MaybeSentError(
                f"AKOOL answered HTTP {status} without a JSON envelope",
                http_status=status,
                body=raw[:_BODY_SHOWN].decode("utf-8", "replace"),
                cause=f"http_{status}",
            )
        code = envelope["code"]
        if code == SUCCESS:
            return envelope.get("data")
        msg = envelope.get("msg")
        error = AkoolAPIError(code, msg if isinstance(msg, str) else "", http_status=status)
        if status >= 500 or status == 429:
            # AKOOL's own code decides the sentence; the HTTP status says a retry may help.
            error.retryable = True
        raise error


def _envelope(raw: bytes) -> dict[str, Any] | None:
    """The ``{code, msg, data}`` object, or ``None`` when the body is not one."""
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(parsed, dict):
        return None
    code = parsed.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    return parsed


def _log_retry(state: Any) -> None:
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    log.warning(
        "AKOOL request failed (%s); retry %d in %.1f s",
        exc,
        state.attempt_number,
        state.next_action.sleep if state.next_action else 0.0,
    )
