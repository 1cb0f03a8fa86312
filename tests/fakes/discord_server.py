"""A loopback fake of Discord: the gateway (websocket) and the REST API, on one aiohttp app.

The real discord.py client connects to it unchanged except for two URLs (``Route.BASE`` and
``DiscordWebSocket.DEFAULT_GATEWAY``). It speaks the real payload shapes, honours the
``compress=zlib-stream`` (or ``zstd-stream``) query the client sends, records every REST call
with its JSON body, keeps the messages the bot posts (so fetching one returns its components),
and echoes the bot's own actions back over the gateway as Discord does (MESSAGE_CREATE for its
messages, THREAD_CREATE for its threads, MESSAGE_REACTION_ADD for its reactions), so the
adapter is tested against seeing itself.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import WSMsgType, web

Json = dict[str, Any]
DISCORD_EPOCH_MS = 1420070400000
# view channel, send messages, add reactions, read history: what @everyone gets on a course server
MEMBER_PERMISSIONS = str(1024 | 2048 | 64 | 65536)
TEXT_CHANNEL, DM_CHANNEL, PUBLIC_THREAD = 0, 1, 11
EPHEMERAL_FLAG = 64


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


_counter = itertools.count(1)


def snowflake() -> int:
    """A fresh id whose timestamp is now, as Discord's are."""
    return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) + next(_counter) % (1 << 22)


# ---------------------------------------------------------------- payload builders


def user_payload(user_id: int, name: str, *, bot: bool = False) -> Json:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


def member_payload(user: Json | None, roles: tuple[int, ...] = ()) -> Json:
    member: Json = {
        "roles": [str(r) for r in roles],
        "joined_at": now_iso(),
        "deaf": False,
        "mute": False,
        "flags": 0,
        "nick": None,
        "permissions": MEMBER_PERMISSIONS,
    }
    if user is not None:
        member["user"] = user
    return member


@dataclass
class FakeMember:
    user_id: int
    name: str
    roles: tuple[int, ...] = ()
    bot: bool = False

    @property
    def user(self) -> Json:
        return user_payload(self.user_id, self.name, bot=self.bot)


@dataclass
class FakeGuild:
    id: int
    name: str
    channel_ids: tuple[int, ...]
    role_ids: tuple[int, ...] = ()
    members: list[FakeMember] = field(default_factory=list)

    def channel_payload(self, channel_id: int) -> Json:
        return {
            "id": str(channel_id),
            "type": TEXT_CHANNEL,
            "guild_id": str(self.id),
            "name": f"canal-{channel_id}",
            "position": self.channel_ids.index(channel_id),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "default_auto_archive_duration": 1440,
        }

    def create_payload(self, bot: FakeMember) -> Json:
        everyone = {"id": str(self.id), "name": "@everyone", "permissions": MEMBER_PERMISSIONS}
        roles = [everyone] + [
            {"id": str(r), "name": f"role-{r}", "permissions": "0"} for r in self.role_ids
        ]
        for position, role in enumerate(roles):
            role.update(
                position=position, color=0, hoist=False, managed=False, mentionable=True, flags=0
            )
        return {
            "id": str(self.id),
            "name": self.name,
            "owner_id": "1",  # the teacher; owners may do anything, so not one of the members
            "roles": roles,
            "channels": [self.channel_payload(c) for c in self.channel_ids],
            "threads": [],
            "members": [member_payload(bot.user)],
            "member_count": len(self.members) + 1,
            "joined_at": now_iso(),
            "large": False,
            "unavailable": False,
            "features": [],
            "emojis": [],
            "stickers": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "pt-BR",
            "system_channel_flags": 0,
        }

    def member(self, user_id: int) -> FakeMember | None:
        return next((m for m in self.members if m.user_id == user_id), None)


@dataclass(frozen=True)
class RecordedCall:
    method: str
    path: str  # below /api/v10, e.g. /channels/2001/messages
    query: dict[str, str]
    json: Any  # the JSON body (or multipart payload_json), None when there was none
    files: tuple[tuple[str, bytes], ...] = ()  # (filename, content) of multipart uploads


Handler = Callable[[web.Request, re.Match[str], Any], Awaitable[web.Response]]


def json_response(data: Any, status: int = 200) -> web.Response:
    # discord.py only parses bodies whose Content-Type is exactly application/json.
    return web.Response(
        status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )


def not_found(message: str, code: int) -> web.Response:
    return json_response({"message": message, "code": code}, status=404)


class _Compressor:
    """Per-connection transport compression, as the client asked for in the URL."""

    def __init__(self, kind: str | None) -> None:
        self.kind = kind
        self._zlib = zlib.compressobj() if kind == "zlib-stream" else None
        self._zstd: Any = None
        if kind == "zstd-stream":
            self._zstd = _zstd_compressor()
        elif kind not in (None, "zlib-stream"):
            raise ValueError(f"the fake gateway does not speak compress={kind}")

    def encode(self, text: str) -> str | bytes:
        raw = text.encode()
        if self._zlib is not None:
            return self._zlib.compress(raw) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
        if self._zstd is not None:
            return self._zstd(raw)
        return text


def _zstd_compressor() -> Callable[[bytes], bytes]:
    """One zstd frame per message: the client decompresses each message on its own."""
    try:
        import zstandard  # type: ignore[import-not-found]

        compressor = zstandard.ZstdCompressor()
        return lambda data: compressor.compress(data)
    except ImportError:
        from compression import zstd  # type: ignore[import-not-found]

        return lambda data: zstd.compress(data)


class FakeDiscord:
    """Start with ``await fake.start()``; point discord.py at ``api_base`` and ``gateway_url``."""

    def __init__(
        self,
        guilds: list[FakeGuild],
        *,
        bot_id: int = 9000,
        application_id: int = 9100,
        heartbeat_interval_ms: int = 41250,
    ) -> None:
        self.guilds = {g.id: g for g in guilds}
        self.bot = FakeMember(bot_id, "Monitor", bot=True)
        self.application_id = application_id
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.calls: list[RecordedCall] = []
        self.messages: dict[int, Json] = {}
        self.reactors: dict[tuple[int, str], list[Json]] = {}  # (message, emoji) -> users
        self.channels: dict[int, Json] = {}  # threads and DM channels the fake knows
        self.interactions: dict[str, Json] = {}  # token -> the interaction payload
        self.identify: Json | None = None
        self.refuse_threads = False  # as when the bot lacks "Create Public Threads"
        self.refuse_token = False  # as Discord answers a wrong or reset bot token
        self.refuse_intents = False  # as when Message Content Intent is off in the portal
        self.compression: str | None = None
        self._ws: web.WebSocketResponse | None = None
        self._compressor = _Compressor(None)
        self._seq = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = self._route_table()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # ------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        self.compression = request.query.get("compress")
        self._compressor = _Compressor(self.compression)
        await self._send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                break
            await self._on_client_message(json.loads(msg.data))
        return ws

    async def _on_client_message(self, message: Json) -> None:
        op = message.get("op")
        if op == 1:  # heartbeat
            await self._send({"op": 11})
        elif op == 2:  # identify
            self.identify = message["d"]
            if self.refuse_intents and self._ws is not None:
                await self._ws.close(code=4014, message=b"Disallowed intent(s).")
                return
            await self._ready()

    async def _ready(self) -> None:
        await self.dispatch(
            "READY",
            {
                "v": 10,
                "user": {**self.bot.user, "verified": True, "mfa_enabled": False, "flags": 0},
                "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
                "session_id": "fake-session",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(self.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
            },
        )
        for guild in self.guilds.values():
            await self.dispatch("GUILD_CREATE", guild.create_payload(self.bot))

    async def _send(self, payload: Json) -> None:
        if self._ws is None or self._ws.closed:
            raise RuntimeError("no client is connected to the fake gateway")
        encoded = self._compressor.encode(json.dumps(payload))
        if isinstance(encoded, bytes):
            await self._ws.send_bytes(encoded)
        else:
            await self._ws.send_str(encoded)

    async def dispatch(self, event: str, data: Json) -> None:
        """Send a DISPATCH (op 0) event to the connected client."""
        self._seq += 1
        await self._send({"op": 0, "t": event, "s": self._seq, "d": data})

    # ------------------------------------------------------------ scripted user events

    def user_message(
        self,
        author: FakeMember,
        channel_id: int,
        content: str,
        *,
        guild_id: int | None = None,
        mention_bot: bool = False,
    ) -> Json:
        """A MESSAGE_CREATE payload by a user (not sent; pass it to ``dispatch``)."""
        if mention_bot:
            content = f"<@{self.bot.user_id}> {content}"
        guild_id = guild_id if guild_id is not None else self._guild_of(channel_id)
        message = self._message(channel_id, author.user, content, guild_id=guild_id)
        if guild_id is not None:
            message["member"] = member_payload(None, author.roles)
        if mention_bot:
            mentioned = {**self.bot.user, "member": member_payload(None)} if guild_id else {}
            message["mentions"] = [mentioned or self.bot.user]
        self.messages[int(message["id"])] = message
        return message

    def reaction(
        self, user: FakeMember, message_id: int, emoji: str, *, added: bool = True
    ) -> tuple[str, Json]:
        """A MESSAGE_REACTION_ADD/REMOVE (event name, payload) on a stored message."""
        message = self.messages[message_id]
        data: Json = {
            "user_id": str(user.user_id),
            "channel_id": message["channel_id"],
            "message_id": str(message_id),
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
        }
        guild_id = message.get("guild_id")
        if guild_id is not None:
            data["guild_id"] = guild_id
        self._set_reactor(message_id, emoji, user.user, present=added)
        if added:
            data["message_author_id"] = message["author"]["id"]
            if guild_id is not None:
                data["member"] = member_payload(user.user, user.roles)
            return "MESSAGE_REACTION_ADD", data
        return "MESSAGE_REACTION_REMOVE", data

    def slash_command(
        self, user: FakeMember, channel_id: int, name: str, options: dict[str, str] | None = None
    ) -> Json:
        """An INTERACTION_CREATE payload for ``/name`` in a guild channel or thread."""
        data: Json = {"id": str(snowflake()), "name": name, "type": 1}
        if options:
            data["options"] = [{"name": k, "type": 3, "value": v} for k, v in options.items()]
        return self._interaction(user, channel_id, 2, data)

    def button_click(self, user: FakeMember, message_id: int, custom_id: str) -> Json:
        """An INTERACTION_CREATE payload for a click on a button of a stored message."""
        message = self.messages[message_id]
        payload = self._interaction(
            user, int(message["channel_id"]), 3, {"custom_id": custom_id, "component_type": 2}
        )
        payload["message"] = message
        return payload

    def _interaction(self, user: FakeMember, channel_id: int, kind: int, data: Json) -> Json:
        guild_id = self._guild_of(channel_id)
        payload: Json = {
            "id": str(snowflake()),
            "application_id": str(self.application_id),
            "type": kind,
            "token": f"token-{snowflake()}",
            "version": 1,
            "channel_id": str(channel_id),
            "channel": self._channel(channel_id),
            "data": data,
            "locale": "pt-BR",
            "app_permissions": "2248473465835073",
            "entitlements": [],
            "authorizing_integration_owners": {},
            "context": 0 if guild_id is not None else 1,
            "attachment_size_limit": 8388608,
        }
        if guild_id is not None:
            payload["guild_id"] = str(guild_id)
            payload["guild_locale"] = "pt-BR"
            payload["member"] = member_payload(user.user, user.roles)
        else:
            payload["user"] = user.user
        self.interactions[payload["token"]] = payload
        return payload

    def dm_channel(self, user: FakeMember) -> int:
        channel_id = snowflake()
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": DM_CHANNEL,
            "recipients": [user.user],
            "last_message_id": None,
        }
        return channel_id

    # ------------------------------------------------------------ what the bot did

    def find(self, method: str, pattern: str) -> list[RecordedCall]:
        regex = re.compile(pattern)
        return [c for c in self.calls if c.method == method and regex.fullmatch(c.path)]

    async def wait_for(
        self,
        method: str,
        pattern: str,
        where: Callable[[RecordedCall], bool] = lambda c: True,
        *,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[RecordedCall]:
        """Wait until ``count`` matching REST calls were recorded; return them."""

        def matching() -> list[RecordedCall]:
            return [c for c in self.find(method, pattern) if where(c)]

        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: len(matching()) >= count), timeout
                )
            except TimeoutError:
                seen = "\n".join(f"  {c.method} {c.path} {c.json}" for c in self.calls)
                raise AssertionError(
                    f"no {count}x {method} {pattern} within {timeout}s; calls:\n{seen}"
                ) from None
        return matching()

    # ------------------------------------------------------------ REST

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body, files = await self._body(request)
        call = RecordedCall(request.method, path, dict(request.query), body, files)
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if method == request.method and match:
                response = await handler(request, match, body)
                break
        else:
            response = not_found(f"the fake Discord has no route {request.method} {path}", 0)
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        return response

    @staticmethod
    async def _body(request: web.Request) -> tuple[Any, tuple[tuple[str, bytes], ...]]:
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            payload: Any = None
            files: list[tuple[str, bytes]] = []
            async for part in reader:
                data = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":  # type: ignore[union-attr]
                    payload = json.loads(data)
                else:
                    files.append((part.filename or "", bytes(data)))  # type: ignore[union-attr]
            return payload, tuple(files)
        if request.can_read_body:
            text = await request.text()
            return (json.loads(text) if text else None), ()
        return None, ()

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        table: list[tuple[str, str, Handler]] = [
            ("GET", r"/gateway/bot", self._get_gateway_bot),
            ("GET", r"/users/@me", self._get_me),
            ("GET", r"/oauth2/applications/@me", self._get_application),
            ("PUT", r"/applications/(\d+)/guilds/(\d+)/commands", self._put_commands),
            ("PUT", r"/applications/(\d+)/commands", self._put_commands),
            ("GET", r"/channels/(\d+)", self._get_channel),
            ("PATCH", r"/channels/(\d+)", self._patch_thread),
            ("POST", r"/channels/(\d+)/typing", self._no_content),
            ("POST", r"/channels/(\d+)/messages", self._post_message),
            ("GET", r"/channels/(\d+)/messages/(\d+)", self._get_message),
            ("PATCH", r"/channels/(\d+)/messages/(\d+)", self._patch_message),
            ("POST", r"/channels/(\d+)/messages/(\d+)/threads", self._post_thread),
            ("PUT", r"/channels/(\d+)/messages/(\d+)/reactions/([^/]+)/@me", self._put_reaction),
            ("GET", r"/channels/(\d+)/messages/(\d+)/reactions/([^/]+)", self._get_reactors),
            ("GET", r"/guilds/(\d+)/members/(\d+)", self._get_member),
            ("POST", r"/interactions/(\d+)/([^/]+)/callback", self._callback),
            ("GET", r"/webhooks/(\d+)/([^/]+)/messages/@original", self._get_original),
            ("PATCH", r"/webhooks/(\d+)/([^/]+)/messages/@original", self._patch_original),
            ("PATCH", r"/webhooks/(\d+)/([^/]+)/messages/(\d+)", self._patch_followup),
            ("POST", r"/webhooks/(\d+)/([^/]+)", self._post_followup),
        ]
        return [(m, re.compile(p), h) for m, p, h in table]

    async def _get_gateway_bot(
        self, request: web.Request, m: re.Match[str], body: Any
    ) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return json_response({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    async def _get_me(self, request: web.Request, m: re.Match[str], body: Any) -> web.Response:
        if self.refuse_token:
            return json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        return json_response(self.bot.user)

    async def _get_application(
        self, request: web.Request, m: re.Match[str], body: Any
    ) -> web.Response:
        return json_response(
            {
                "id": str(self.application_id),
                "name": "Monitor",
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": user_payload(1, "owner"),
                "verify_key": "0" * 64,
                "flags": 0,
                "summary": "",
            }
        )

    async def _put_commands(
        self, request: web.Request, m: re.Match[str], body: Any
    ) -> web.Response:
        guild = m.group(2) if m.re.groups > 1 else None
        commands = [
            {
                **c,
                "id": str(snowflake()),
                "application_id": m.group(1),
                "guild_id": guild,
                "version": "1",
                "default_member_permissions": None,
                "nsfw": False,
            }
            for c in body or []
        ]
        return json_response(commands)

    async def _get_channel(self, request: web.Request, m: re.Match[str], body: Any) -> web.Response:
        channel_id = int(m.group(1))
        if self._guild_of(channel_id) is None and channel_id not in self.channels:
            return not_found("Unknown Channel", 10003)
        return json_response(self._channel(channel_id))

    async def _patch_thread(
        self, request: web.Request, m: re.Match[str], body: Any
    ) -> web.Response:
        thread = self.channels.get(int(m.group(1)))
        if thread is None or thread["type"] != PUBLIC_THREAD:
            return not_found("Unknown Channel", 10003)
        thread.update({k: v for k, v in (body or {}).items() if k in ("name", "archived")})
        await self._echo("THREAD_UPDATE", thread)
        return json_response(thread)

    async def _no_content(self, request: web.Request, m: re.Match[str], body: Any) -> web.Response:
        return web.Response(status=204)

    async def _post_message(
        self, request: web.Request, m: re.Match[str], body: Any
    ) -> web.Response:
        channel_id = int(m.group(1))
        message = self._bot_message(channel_id, body or {})
        await self._echo("MESSAGE_CREATE", message)
        return json_response(message)

    async def _get_message(self, request: web.Request, m: re.Match[str], body: Any) -> web.Response:
        message = self.messages.get(int(m.group(2)))
        if message is None or message["channel_id"] != m.group(1):
            return not_found("Unknown Message", 10008)
        return json_response(message)

    async def _patch_message(
        self, request: web.Request, m: re.Match[str], body: Any
    ) -> web.Response:
        message = self.messages.get(int(m.group(2)))
        if message is None:
            return not_found("Unknown Message", 10008)
        _apply_edit(message, body or {})
        return json_response(message)

    async def _post_thread(self, request: web.Request, m: re.Match[str], body: Any) -> web.Response:
        parent_id, message_id = int(m.group(1)), int(m.group(2))
        if self.refuse_threads:
            return json_response({"message": "Missing Permissions", "code": 50013}, status=403)
        guild_id = self._guild_of(parent_id)
        if guild_id is None or message_id not in self.messages:
            return not_found("Unknown Message", 10008)
        # As on Discord, a thread started from a message has that message's id.
        thread: Json = {
            "id": str(message_id),
            "type": PUBLIC_THREAD,
            "guild_id": str(guild_id),
            "parent_id": str(parent_id),
            "owner_id": str(self.bot.user_id),
            "name": body["name"],
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration", 1440),
                "archive_timestamp": now_iso(),
                "locked": False,
            },
        }
        self.channels[message_id] = thread
        await self._echo("THREAD_CREATE", {**thread, "newly_created": True})
        return json_response(thread, status=201)

    async def _put_reaction(
        self, request: web.Request, m: re.Match[str], body: Any
    ) -> web.Response:
        channel_id, message_id = m.group(1), m.group(2)
        data: Json = {
            "user_id": str(self.bot.user_id),
            "channel_id": channel_id,
            "message_id": message_id,
            "emoji": {"id": None, "name": unquote(m.group(3))},
            "message_author_id": str(self.bot.user_id),
            "burst": False,
            "type": 0,
        }
        guild_id = self._guild_of(int(channel_id))
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
            data["member"] = member_payload(self.bot.user)
        if int(message_id) in self.messages:
            self._set_reactor(int(message_id), unquote(m.group(3)), self.bot.user, present=True)
        await self._echo("MESSAGE_REACTION_ADD", data)
        return web.Response(status=204)

    async def _get_reactors(
        self, request: web.Request, m: re.Match[str], body: Any
    ) -> web.Response:
        """GET .../reactions/{emoji}?limit=&after=: who reacted, by ascending user id."""
        users = self.reactors.get((int(m.group(2)), unquote(m.group(3))), [])
        after = int(request.query.get("after", "0"))
        limit = int(request.query.get("limit", "25"))
        ordered = sorted((u for u in users if int(u["id"]) > after), key=lambda u: int(u["id"]))
        return json_response(ordered[:limit])

    def _set_reactor(self, message_id: int, emoji: str, user: Json, *, present: bool) -> None:
        """Keep the message's reactors and its ``reactions`` summary as Discord does."""
        users = self.reactors.setdefault((message_id, emoji), [])
        users[:] = [u for u in users if u["id"] != user["id"]] + ([user] if present else [])
        summary = []
        for (message, name), reactors in self.reactors.items():
            if message == message_id and reactors:
                count = len(reactors)
                summary.append(
                    {
                        "count": count,
                        "count_details": {"burst": 0, "normal": count},
                        "me": any(u["id"] == self.bot.user["id"] for u in reactors),
                        "me_burst": False,
                        "burst_colors": [],
                        "emoji": {"id": None, "name": name},
                    }
                )
        self.messages[message_id]["reactions"] = summary

    async def _get_member(self, request: web.Request, m: re.Match[str], body: Any) -> web.Response:
        guild = self.guilds.get(int(m.group(1)))
        member = guild.member(int(m.group(2))) if guild else None
        if member is None:
            return not_found("Unknown Member", 10007)
        return json_response(member_payload(member.user, member.roles))

    async def _callback(self, request: web.Request, m: re.Match[str], body: Any) -> web.Response:
        interaction = self.interactions.get(m.group(2))
        if interaction is None:
            return not_found("Unknown interaction", 10062)
        kind = body["type"]
        result: Json = {
            "interaction": {
                "id": interaction["id"],
                "type": interaction["type"],
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(
                    (body.get("data") or {}).get("flags", 0) & EPHEMERAL_FLAG
                ),
            },
            "resource": {"type": kind},
        }
        if kind in (4, 5):  # a message (or "thinking…") becomes the original response
            original = self._bot_message(
                int(interaction["channel_id"]), body.get("data") or {}, store=False
            )
            original["interaction_metadata"] = {
                "id": interaction["id"],
                "type": interaction["type"],
                "user": _invoker(interaction),
                "authorizing_integration_owners": {},
            }
            original["webhook_id"] = str(self.application_id)
            interaction["original"] = original
            self.messages[int(original["id"])] = original
            result["interaction"]["response_message_id"] = original["id"]
            result["resource"]["message"] = original
        return json_response(result)

    def _original(self, token: str) -> Json | None:
        interaction = self.interactions.get(token)
        return interaction.get("original") if interaction else None

    async def _get_original(
        self, request: web.Request, m: re.Match[str], body: Any
    ) -> web.Response:
        original = self._original(m.group(2))
        return json_response(original) if original else not_found("Unknown Message", 10008)

    async def _patch_original(
        self, request: web.Request, m: re.Match[str], body: Any
    ) -> web.Response:
        original = self._original(m.group(2))
        if original is None:
            return not_found("Unknown Message", 10008)
        _apply_edit(original, body or {})
        return json_response(original)

    async def _patch_followup(
        self, request: web.Request, m: re.Match[str], body: Any
    ) -> web.Response:
        message = self.messages.get(int(m.group(3)))
        if message is None:
            return not_found("Unknown Message", 10008)
        _apply_edit(message, body or {})
        return json_response(message)

    async def _post_followup(
        self, request: web.Request, m: re.Match[str], body: Any
    ) -> web.Response:
        interaction = self.interactions.get(m.group(2))
        if interaction is None:
            return not_found("Unknown Webhook", 10015)
        message = self._bot_message(int(interaction["channel_id"]), body or {})
        message["webhook_id"] = str(self.application_id)
        return json_response(message)

    # ------------------------------------------------------------ helpers

    def _guild_of(self, channel_id: int) -> int | None:
        for guild in self.guilds.values():
            if channel_id in guild.channel_ids:
                return guild.id
        known = self.channels.get(channel_id)
        if known is not None and "guild_id" in known:
            return int(known["guild_id"])
        return None

    def _channel(self, channel_id: int) -> Json:
        if channel_id in self.channels:
            return self.channels[channel_id]
        guild_id = self._guild_of(channel_id)
        if guild_id is None:
            raise KeyError(f"the fake Discord knows no channel {channel_id}")
        return self.guilds[guild_id].channel_payload(channel_id)

    def _message(
        self, channel_id: int, author: Json, content: str, *, guild_id: int | None
    ) -> Json:
        message: Json = {
            "id": str(snowflake()),
            "channel_id": str(channel_id),
            "author": author,
            "content": content,
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }
        if guild_id is not None:
            message["guild_id"] = str(guild_id)
        return message

    def _bot_message(self, channel_id: int, body: Json, *, store: bool = True) -> Json:
        guild_id = self._guild_of(channel_id)
        message = self._message(channel_id, self.bot.user, "", guild_id=guild_id)
        _apply_edit(message, body)
        message["edited_timestamp"] = None
        message["flags"] = body.get("flags", 0) or 0
        if store:
            self.messages[int(message["id"])] = message
        return message

    async def _echo(self, event: str, data: Json) -> None:
        if self._ws is not None and not self._ws.closed:
            await self.dispatch(event, data)

    def posted(self, channel_id: int) -> Iterator[Json]:
        """Messages currently in a channel (as last edited), oldest first."""
        for message in self.messages.values():
            if message["channel_id"] == str(channel_id):
                yield message


def _apply_edit(message: Json, body: Json) -> None:
    for key in ("content", "embeds", "components"):
        if key in body and body[key] is not None:
            message[key] = body[key]
    if body.get("content") is not None or body.get("embeds") is not None:
        message["edited_timestamp"] = now_iso()


def _invoker(interaction: Json) -> Json:
    member = interaction.get("member")
    return member["user"] if member else interaction["user"]
