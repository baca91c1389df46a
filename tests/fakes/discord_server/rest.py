"""The fake REST API (``/api/v10``): routing, auth, request recording and fault injection."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from tests.fakes.behind import behind
from tests.fakes.discord_server.command_validation import command_errors
from tests.fakes.discord_server.models import (
    FakeGuild,
    FakeMessage,
    RecordedRequest,
)
from tests.fakes.discord_server.rest_base import (
    API_PREFIX,
    ATTACH_FILES,
    EMBED_LINKS,
    SEND_MESSAGES,
    TOKEN_AUTH,
    VIEW_CHANNEL,
    Handler,
    error,
    json_response,
    no_content,
)
from tests.fakes.discord_server.rest_interactions import InteractionEndpoints
from tests.fakes.discord_server.state import UploadedFile
from tests.fakes.discord_server.validation import form_error, validate_message

log = logging.getLogger(__name__)


class RestApi(InteractionEndpoints):
    """Every endpoint the fake implements; anything else is logged and answered 404."""

    # ------------------------------------------------------------------ plumbing

    def install(self, app: web.Application) -> None:
        r = app.router
        p = API_PREFIX
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/users/@me", self.get_me),
            ("POST", "/users/@me/channels", self.create_dm),
            ("GET", "/users/{user_id:[0-9]+}", self.get_user),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway_bot),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/applications/{app}/commands", self.list_commands),
            ("PUT", "/applications/{app}/commands", self.put_commands),
            ("POST", "/applications/{app}/commands", self.post_command),
            ("GET", "/applications/{app}/commands/{cmd}", self.get_command),
            ("DELETE", "/applications/{app}/commands/{cmd}", self.delete_command),
            ("GET", "/applications/{app}/guilds/{guild}/commands", self.list_commands),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self.put_commands),
            ("POST", "/applications/{app}/guilds/{guild}/commands", self.post_command),
            ("GET", "/applications/{app}/guilds/{guild}/commands/{cmd}", self.get_command),
            ("DELETE", "/applications/{app}/guilds/{guild}/commands/{cmd}", self.delete_command),
            ("GET", "/channels/{channel:[0-9]+}", self.get_channel),
            ("GET", "/channels/{channel:[0-9]+}/messages", self.list_messages),
            ("POST", "/channels/{channel:[0-9]+}/messages", self.post_message),
            ("GET", "/channels/{channel:[0-9]+}/messages/{message:[0-9]+}", self.get_message),
            ("PATCH", "/channels/{channel:[0-9]+}/messages/{message:[0-9]+}", self.patch_message),
            ("DELETE", "/channels/{channel:[0-9]+}/messages/{message:[0-9]+}", self.delete_message),
            ("POST", "/channels/{channel:[0-9]+}/typing", self.typing),
            ("PUT", "/channels/{channel}/messages/{message}/reactions/{emoji}/@me", self.react),
            (
                "DELETE",
                "/channels/{channel}/messages/{message}/reactions/{emoji}/@me",
                self.unreact,
            ),
            ("GET", "/users/@me/guilds", self.list_my_guilds),
            ("DELETE", "/users/@me/guilds/{guild:[0-9]+}", self.leave_guild),
            ("GET", "/guilds/{guild:[0-9]+}", self.get_guild),
            ("GET", "/guilds/{guild:[0-9]+}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild:[0-9]+}/roles", self.get_guild_roles),
            ("GET", "/guilds/{guild:[0-9]+}/members/{user:[0-9]+}", self.get_member),
            ("POST", "/interactions/{ix:[0-9]+}/{token}/callback", self.interaction_callback),
            ("POST", "/webhooks/{app:[0-9]+}/{token}", self.execute_webhook),
            ("GET", "/webhooks/{app:[0-9]+}/{token}/messages/{message}", self.webhook_message),
            ("PATCH", "/webhooks/{app:[0-9]+}/{token}/messages/{message}", self.webhook_message),
            ("DELETE", "/webhooks/{app:[0-9]+}/{token}/messages/{message}", self.webhook_message),
            ("*", "/{tail:.*}", self.unimplemented_route),  # last: whatever else is asked
        ]
        # Every API call goes through _around, not an aiohttp middleware: see tests.fakes.behind.
        for method, path, handler in routes:
            r.add_route(method, p + path, behind(self._around, handler))
        r.add_route("GET", "/attachments/{channel}/{attachment}/{filename}", self.get_attachment)

    async def _around(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record the call, apply holds, faults and auth, then answer it with ``handler``."""
        path = request.path[len(API_PREFIX) :]
        body, files = await self._read_body(request)
        self._bodies[id(request)] = (body, files)
        record = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            json=body,
            files=[(f, name, len(data)) for f, name, data in files],
            time=self.state.now(),
        )
        self.requests.append(record)
        response: web.StreamResponse
        hold = next((h for h in self.holds if h.matches(request.method, path, body)), None)
        if hold is not None:
            hold.taken = True
            hold.request = record
            if not hold.after:
                await hold.keep()
                if request.transport is None or request.transport.is_closing():
                    # Its client died while the call was held: it never reaches Discord.
                    self._bodies.pop(id(request), None)
                    hold.settled.set()
                    return no_content()
        fault = next((f for f in self.faults if f.matches(request.method, path)), None)
        if fault is not None:
            fault.times -= 1
            log.info("fake discord: injecting %s for %s %s", fault.status, request.method, path)
            response = fault.response(path)
        elif (
            not TOKEN_AUTH.match(path)
            and request.headers.get("Authorization") != f"Bot {self.state.token}"
        ):
            response = error(401, 0, "401: Unauthorized")
        else:
            try:
                response = await handler(request)
            finally:
                self._bodies.pop(id(request), None)
        self._bodies.pop(id(request), None)
        record.status = response.status
        self.state.feed.notify()
        if hold is not None:
            if hold.after:
                await hold.keep()
            hold.settled.set()
        return response

    # ------------------------------------------------------------------ users, gateway, app

    async def get_me(self, request: web.Request) -> web.Response:
        user = self.state.bot_user.payload()
        user.update(verified=True, mfa_enabled=False, locale="en-US", email=None, bio="")
        return json_response(user)

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.state.users.get(int(request.match_info["user_id"]))
        return json_response(user.payload()) if user else error(404, 10013, "Unknown User")

    async def create_dm(self, request: web.Request) -> web.Response:
        body = self._body(request) or {}
        user = self.state.users.get(int(body.get("recipient_id") or 0))
        if user is None:
            return error(400, 50035, "Invalid Form Body")
        return json_response(self.state.dm_channel(user).payload())

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self._gateway_url(request)})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self._gateway_url(request),
                "shards": self.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 86_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    @staticmethod
    def _gateway_url(request: web.Request) -> str:
        return f"ws://{request.host}/gateway"

    async def get_application(self, request: web.Request) -> web.Response:
        state = self.state
        return json_response(
            {
                "id": str(state.application_id),
                "name": state.bot_user.name,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "rpc_origins": [],
                "bot_public": state.bot_public,
                "bot_require_code_grant": False,
                "bot": state.bot_user.payload(),
                "owner": state.application_owner().payload(),
                "team": state.team.payload() if state.team is not None else None,
                "verify_key": "0" * 64,
                "flags": 0,
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "approximate_guild_count": len(state.guilds),
                "integration_types_config": {"0": {}},
            }
        )

    # ------------------------------------------------------------------ application commands

    def _command_scope(self, request: web.Request) -> tuple[int | None, web.Response | None]:
        if int(request.match_info["app"]) != self.state.application_id:
            return None, error(
                403, 20012, "You are not authorized to perform this action on this application"
            )
        guild = request.match_info.get("guild")
        if guild is None:
            return None, None
        if int(guild) not in self.state.guilds:
            return None, error(403, 50001, "Missing Access")
        return int(guild), None

    def _commands(self, guild_id: int | None) -> list[dict[str, Any]]:
        if guild_id:
            return self.state.guild_commands.get(guild_id, [])
        return self.state.global_commands

    async def list_commands(self, request: web.Request) -> web.Response:
        guild_id, err = self._command_scope(request)
        return err or json_response(self._commands(guild_id))

    async def put_commands(self, request: web.Request) -> web.Response:
        guild_id, err = self._command_scope(request)
        if err:
            return err
        bodies = self._body(request) or []
        problem = command_errors(bodies)
        if problem is not None:
            return json_response(problem, status=400)
        return json_response(self.state.upsert_commands(bodies, guild_id, replace=True))

    async def post_command(self, request: web.Request) -> web.Response:
        guild_id, err = self._command_scope(request)
        if err:
            return err
        result = self.state.upsert_commands([self._body(request)], guild_id, replace=False)
        name = self._body(request)["name"]
        return json_response(next(c for c in result if c["name"] == name), status=201)

    async def get_command(self, request: web.Request) -> web.Response:
        guild_id, err = self._command_scope(request)
        if err:
            return err
        for cmd in self._commands(guild_id):
            if cmd["id"] == request.match_info["cmd"]:
                return json_response(cmd)
        return error(404, 10063, "Unknown application command")

    async def delete_command(self, request: web.Request) -> web.Response:
        guild_id, err = self._command_scope(request)
        if err:
            return err
        commands = self._commands(guild_id)
        for cmd in list(commands):
            if cmd["id"] == request.match_info["cmd"]:
                commands.remove(cmd)
                return no_content()
        return error(404, 10063, "Unknown application command")

    # ------------------------------------------------------------------ channels and messages

    async def get_channel(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        return json_response(channel.payload()) if channel else error(404, 10003, "Unknown Channel")

    async def list_messages(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return error(404, 10003, "Unknown Channel")
        msgs = self.state.messages(channel)
        if "before" in request.query:
            msgs = [m for m in msgs if m.id < int(request.query["before"])]
        if "after" in request.query:
            msgs = [m for m in msgs if m.id > int(request.query["after"])]
        limit = int(request.query.get("limit", 50))
        # Discord answers newest first.
        return json_response([m.payload() for m in reversed(msgs)][:limit])

    async def post_message(self, request: web.Request) -> web.Response:
        state = self.state
        channel = self._channel(request)
        if channel is None:
            return error(404, 10003, "Unknown Channel")
        body: dict[str, Any] = self._body(request) or {}
        files: list[UploadedFile] = self._files(request)
        perms = self._bot_permissions(channel)
        if not perms & VIEW_CHANNEL:
            return error(403, 50001, "Missing Access")
        if not perms & SEND_MESSAGES or (files and not perms & ATTACH_FILES):
            return error(403, 50013, "Missing Permissions")
        too_large = self._too_large(request, channel, files)
        if too_large:
            return too_large
        problem = validate_message(body, file_count=len(files))
        if problem:
            return json_response(problem, status=400)
        if body.get("nonce") is not None and body.get("enforce_nonce"):
            existing = state.find_nonce(channel, state.bot_user, body["nonce"])
            if existing is not None:
                log.debug(
                    "fake discord: nonce %r reused; returning message %s",
                    body["nonce"],
                    existing.id,
                )
                return json_response(existing.payload())
        reference = body.get("message_reference") or {}
        if reference.get("message_id"):
            ref_channel = int(reference.get("channel_id") or channel.id)
            if state.get_message(
                ref_channel, int(reference["message_id"])
            ) is None and reference.get("fail_if_not_exists", True):
                return json_response(
                    form_error(
                        ["message_reference"],
                        "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                        "Unknown message",
                    ),
                    status=400,
                )
        if not perms & EMBED_LINKS and body.get("embeds"):
            body = {**body, "embeds": []}  # Discord silently drops embeds without Embed Links
        msg = state.create_message(channel, state.bot_user, body, files)
        return json_response(msg.payload())

    def _message(self, request: web.Request) -> tuple[FakeMessage | None, web.Response | None]:
        channel = self._channel(request)
        if channel is None:
            return None, error(404, 10003, "Unknown Channel")
        msg = self.state.get_message(channel.id, int(request.match_info["message"]))
        if msg is None:
            return None, error(404, 10008, "Unknown Message")
        return msg, None

    async def get_message(self, request: web.Request) -> web.Response:
        msg, err = self._message(request)
        if err or msg is None:
            return err or error(404, 10008, "Unknown Message")
        return json_response(msg.payload())

    async def patch_message(self, request: web.Request) -> web.Response:
        msg, err = self._message(request)
        if err or msg is None:
            return err or error(404, 10008, "Unknown Message")
        body: dict[str, Any] = self._body(request) or {}
        files: list[UploadedFile] = self._files(request)
        if msg.author.id != self.state.bot_user.id and set(body) - {"flags"}:
            return error(403, 50005, "Cannot edit a message authored by another user")
        channel = self.state.channels[msg.channel_id]
        too_large = self._too_large(request, channel, files)
        if too_large:
            return too_large
        problem = validate_message(body, file_count=len(files), existing=msg.payload())
        if problem:
            return json_response(problem, status=400)
        self.state.edit_message(msg, body, files, source="channel")
        return json_response(msg.payload())

    async def delete_message(self, request: web.Request) -> web.Response:
        msg, err = self._message(request)
        if err or msg is None:
            return err or error(404, 10008, "Unknown Message")
        self.state.delete_message(msg)
        return no_content()

    async def typing(self, request: web.Request) -> web.Response:
        return no_content() if self._channel(request) else error(404, 10003, "Unknown Channel")

    async def react(self, request: web.Request) -> web.Response:
        msg, err = self._message(request)
        if err or msg is None:
            return err or error(404, 10008, "Unknown Message")
        msg.reactions.setdefault(request.match_info["emoji"], set()).add(self.state.bot_user.id)
        self.state.feed.notify()
        return no_content()

    async def unreact(self, request: web.Request) -> web.Response:
        msg, err = self._message(request)
        if err or msg is None:
            return err or error(404, 10008, "Unknown Message")
        msg.reactions.get(request.match_info["emoji"], set()).discard(self.state.bot_user.id)
        self.state.feed.notify()
        return no_content()

    async def get_attachment(self, request: web.Request) -> web.Response:
        """The CDN: a file for a link that is signed, unexpired and of a file still kept;
        otherwise Discord's 404 "This content is no longer available."."""
        attachment_id = int(request.match_info["attachment"])
        attachment = self.state.attachments.get(attachment_id)
        if attachment is None or not self.state.link_works(attachment, request.query):
            self.state.cdn_requests.append((attachment_id, 404))
            return web.Response(status=404, text="This content is no longer available.")
        self.state.cdn_requests.append((attachment_id, 200))
        return web.Response(body=attachment.data, headers={"Content-Type": attachment.content_type})

    # ------------------------------------------------------------------ guilds

    async def leave_guild(self, request: web.Request) -> web.Response:
        guild = self.state.guilds.get(int(request.match_info["guild"]))
        if guild is None or guild.bot_left:
            return error(404, 10004, "Unknown Guild")
        if guild.owner_id == self.state.bot_user.id:
            return error(400, 50055, "Invalid Guild")  # an owner deletes its server instead
        self.state.bot_leaves(guild)
        return no_content()

    async def list_my_guilds(self, request: web.Request) -> web.Response:
        """The servers the bot is in (partial guilds), oldest first, paged by ``after``."""
        after = int(request.query.get("after", 0))
        limit = int(request.query.get("limit", 200))
        guilds = sorted(
            (g for g in self.state.guilds.values() if not g.bot_left and g.id > after),
            key=lambda g: g.id,
        )
        bot_id = self.state.bot_user.id
        return json_response(
            [
                {
                    "id": str(g.id),
                    "name": g.name,
                    "icon": None,
                    "banner": None,
                    "owner": g.owner_id == bot_id,
                    "permissions": str(g.member_permissions(bot_id)),
                    "features": list(g.features),
                }
                for g in guilds[:limit]
            ]
        )

    def _guild(self, request: web.Request) -> tuple[FakeGuild | None, web.Response | None]:
        """The guild in the path; Discord answers 404 for one that does not exist and 403
        Missing Access for one the bot is not in."""
        guild = self.state.guilds.get(int(request.match_info["guild"]))
        if guild is None:
            return None, error(404, 10004, "Unknown Guild")
        if guild.bot_left:
            return None, error(403, 50001, "Missing Access")
        return guild, None

    async def get_guild(self, request: web.Request) -> web.Response:
        guild, err = self._guild(request)
        if guild is None:
            return err or error(404, 10004, "Unknown Guild")
        data = guild.base_payload()
        if request.query.get("with_counts") in ("true", "1", "True"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return json_response(data)

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild, err = self._guild(request)
        if guild is None:
            return err or error(404, 10004, "Unknown Guild")
        return json_response([self.state.channels[c].payload() for c in guild.channel_ids])

    async def get_guild_roles(self, request: web.Request) -> web.Response:
        guild, err = self._guild(request)
        if guild is None:
            return err or error(404, 10004, "Unknown Guild")
        return json_response([r.payload() for r in guild.roles.values()])

    async def get_member(self, request: web.Request) -> web.Response:
        guild, err = self._guild(request)
        if guild is None:
            return err or error(404, 10004, "Unknown Guild")
        member = guild.members.get(int(request.match_info["user"]))
        return json_response(member.payload()) if member else error(404, 10007, "Unknown Member")
