"""Interaction callbacks and the interaction webhook (follow-ups, ``@original``)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from tests.fakes.discord_server.interaction import FakeInteraction
from tests.fakes.discord_server.models import (
    MESSAGE_FLAG_EPHEMERAL,
    MESSAGE_FLAG_LOADING,
    FakeChannel,
    FakeMessage,
    InteractionCallback,
)
from tests.fakes.discord_server.rest_base import (
    RestBase,
    error,
    json_response,
    no_content,
)
from tests.fakes.discord_server.state import UploadedFile
from tests.fakes.discord_server.validation import form_error, validate_message

log = logging.getLogger(__name__)


class InteractionEndpoints(RestBase):
    # ------------------------------------------------------------------ interactions

    def _interaction_channel(self, ix: FakeInteraction) -> FakeChannel | None:
        channel = self.state.channels.get(ix.channel_id)
        return None if channel is None or channel.deleted else channel

    async def interaction_callback(self, request: web.Request) -> web.Response:
        state = self.state
        ix = state.interactions.get(int(request.match_info["ix"]))
        if ix is None or ix.token != request.match_info["token"]:
            return error(404, 10062, "Unknown interaction")
        if ix.responses:
            return error(400, 40060, "Interaction has already been acknowledged.")
        now = state.now()
        elapsed = now - (ix.dispatched_at or now)
        deadline = state.interaction_response_deadline
        if deadline is not None and elapsed > deadline:
            log.warning(
                "fake discord: interaction %s answered after %.2fs (> %ss)",
                ix.id,
                elapsed,
                deadline,
            )
            return error(404, 10062, "Unknown interaction")
        body: dict[str, Any] = self._body(request) or {}
        files: list[UploadedFile] = self._files(request)
        cb_type = int(body.get("type", 0))
        data: dict[str, Any] = body.get("data") or {}
        allowed = {
            2: {1, 4, 5, 9, 10, 12},
            3: {4, 5, 6, 7, 9, 10, 12},
            4: {8},
            5: {4, 5, 6, 7, 10, 12},
        }.get(ix.type, {1})
        if cb_type not in allowed:
            return json_response(
                form_error(
                    ["type"], "INTERACTION_RESPONSE_TYPE_INVALID", f"Invalid type {cb_type}"
                ),
                status=400,
            )
        channel = self._interaction_channel(ix)
        if channel is None and cb_type in (4, 5):
            return error(404, 10003, "Unknown Channel")
        if cb_type in (4, 7):
            too_large = self._too_large(
                request, channel or self.state.channels[ix.channel_id], files
            )
            if too_large:
                return too_large
            existing = ix.message.payload() if cb_type == 7 and ix.message else None
            problem = validate_message(data, file_count=len(files), existing=existing)
            if problem:
                return json_response(problem, status=400)
        callback = InteractionCallback(
            type=cb_type, data=body.get("data"), time=now, elapsed=elapsed
        )
        msg: FakeMessage | None = None
        msg_type = 20 if ix.type == 2 else 0
        if cb_type == 4 and channel is not None:
            msg = state.create_message(
                channel,
                state.bot_user,
                data,
                files,
                msg_type=msg_type,
                webhook_id=state.application_id,
                interaction=ix,
            )
            ix.original_message = msg
        elif cb_type == 5 and channel is not None:
            flags = MESSAGE_FLAG_LOADING | (int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL)
            msg = state.create_message(
                channel,
                state.bot_user,
                {},
                msg_type=msg_type,
                webhook_id=state.application_id,
                interaction=ix,
                flags=flags,
            )
            ix.original_message = msg
        elif cb_type in (6, 7) and ix.message is not None:
            ix.original_message = ix.message
            if cb_type == 7:
                msg = state.edit_message(ix.message, data, files, source="interaction_callback")
        callback.attachments = list(msg.attachments) if msg is not None and cb_type == 4 else []
        ix.responses.append(callback)
        state.feed.notify()
        log.debug(
            "fake discord: interaction %s got callback type %s after %.3fs", ix.id, cb_type, elapsed
        )
        if request.query.get("with_response") not in ("1", "true", "True"):
            return no_content()
        result: dict[str, Any] = {
            "interaction": {
                "id": str(ix.id),
                "type": ix.type,
                "response_message_loading": cb_type == 5,
                "response_message_ephemeral": bool(msg and msg.ephemeral),
            }
        }
        if msg is not None:
            result["interaction"]["response_message_id"] = str(msg.id)
            result["resource"] = {"type": cb_type, "message": msg.payload()}
        return json_response(result)

    def _webhook_interaction(self, request: web.Request) -> FakeInteraction | None:
        ix = self.state.interactions_by_token.get(request.match_info["token"])
        if ix is None or int(request.match_info["app"]) != self.state.application_id:
            return None
        return ix

    async def execute_webhook(self, request: web.Request) -> web.Response:
        """Follow-up messages. The first one after a "thinking" defer fills in the placeholder."""
        state = self.state
        ix = self._webhook_interaction(request)
        if ix is None or not ix.responses:
            return error(404, 10015, "Unknown Webhook")
        channel = self._interaction_channel(ix)
        if channel is None:
            return error(404, 10003, "Unknown Channel")
        body: dict[str, Any] = self._body(request) or {}
        files: list[UploadedFile] = self._files(request)
        too_large = self._too_large(request, channel, files)
        if too_large:
            return too_large
        problem = validate_message(body, file_count=len(files))
        if problem:
            return json_response(problem, status=400)
        placeholder = ix.original_message
        if ix.responses[0].type == 5 and placeholder is not None and placeholder.loading:
            # Discord turns the deferred "thinking" message into the first follow-up; its
            # visibility was fixed by the defer (the follow-up's own ephemeral flag is ignored).
            placeholder.flags &= ~MESSAGE_FLAG_LOADING
            msg = state.edit_message(placeholder, body, files, source="followup", mark_edited=False)
        else:
            msg = state.create_message(
                channel,
                state.bot_user,
                body,
                files,
                webhook_id=state.application_id,
                interaction=ix,
            )
        ix.followups.append(msg)
        state.feed.notify()
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(msg.payload())
        return no_content()

    async def webhook_message(self, request: web.Request) -> web.Response:
        state = self.state
        ix = self._webhook_interaction(request)
        if ix is None or not ix.responses:
            return error(404, 10015, "Unknown Webhook")
        ref = request.match_info["message"]
        msg: FakeMessage | None
        if ref == "@original":
            msg = ix.original_message
        else:
            candidate = state.all_messages.get(int(ref)) if ref.isdigit() else None
            owned = candidate is ix.original_message or candidate in ix.followups
            msg = candidate if owned else None
        if msg is None or msg.deleted:
            return error(404, 10008, "Unknown Message")
        if request.method == "GET":
            return json_response(msg.payload())
        if request.method == "DELETE":
            state.delete_message(msg)
            return no_content()
        body: dict[str, Any] = self._body(request) or {}
        files: list[UploadedFile] = self._files(request)
        too_large = self._too_large(request, state.channels[msg.channel_id], files)
        if too_large:
            return too_large
        problem = validate_message(body, file_count=len(files), existing=msg.payload())
        if problem:
            return json_response(problem, status=400)
        msg.flags &= ~MESSAGE_FLAG_LOADING
        state.edit_message(msg, body, files, source="webhook")
        if ref == "@original":
            ix.original_edits += 1
            state.feed.notify()
        return json_response(msg.payload())
