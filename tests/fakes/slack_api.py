"""A loopback fake of Slack, both directions, for the real slack_bolt / slack_sdk.

``FakeSlackAPI`` is the Web API (``https://slack.com/api/<method>``) on 127.0.0.1: point an
``AsyncWebClient``'s ``base_url`` at ``fake.api_url``. It records every call, keeps the
messages it was sent (threads, metadata, reactions) and answers like Slack does, including
``{"ok": false, "error": ...}`` for what Slack refuses. It also serves ``response_url`` and
the file upload URLs of the ``files.upload`` v2 sequence.

``SlackSender`` is Slack's other half: it signs Events API, slash command and interactivity
requests (``v0`` HMAC-SHA256 of ``v0:{timestamp}:{body}``) and posts them to the app.

The approach follows slack_bolt's own scenario tests (``tests/mock_web_api_server``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import ClientSession, WSMsgType, web

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0FAKE"
APP_ID = "AFAKE"
BOT_TOKEN = "xoxb-fake-token"
_JSON_FIELDS = ("blocks", "metadata", "files", "attachments")


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass
class Upload:
    file_id: str
    filename: str
    content: bytes = b""


@dataclass
class FakeSlackAPI:
    """Slack's Web API on a loopback port. Use as ``async with FakeSlackAPI() as slack:``."""

    usergroups: dict[str, list[str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    _failures: dict[str, list[str]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _port: int = 0
    _clock: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def __aenter__(self) -> FakeSlackAPI:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{key}", self._response_url)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/link/", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for socket in self.sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, key: str) -> str:
        return f"{self.base_url}/response/{key}"

    # --- what tests look at ---------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(
        self, method: str, where: Callable[[Call], bool] = lambda c: True, timeout: float = 5.0
    ) -> Call:
        """The first recorded call to ``method`` matching ``where``, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.calls_to(method) if where(c)]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                seen = [(c.method, c.params) for c in self.calls]
                raise AssertionError(f"no {method} call matched within {timeout}s; calls: {seen}")
            await asyncio.sleep(0.01)

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        for message in self.messages.get(channel, []):
            if message["ts"] == ts:
                return message
        raise KeyError(f"no message {ts} in {channel}")

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The bot's messages posted in a thread, oldest first (the parent excluded)."""
        return [
            m
            for m in self.messages.get(channel, [])
            if m.get("thread_ts") == thread_ts and m.get("user") == BOT_USER_ID
        ]

    def add_user_message(self, channel: str, user: str, text: str, thread_ts: str = "") -> str:
        """A message a person wrote (so threads and reactions have something to point at)."""
        ts = self._next_ts()
        message = {"type": "message", "user": user, "text": text, "ts": ts}
        if thread_ts:
            message["thread_ts"] = thread_ts
        self.messages.setdefault(channel, []).append(message)
        return ts

    def react(self, channel: str, ts: str, user: str, name: str) -> None:
        """Someone adds a reaction (Slack's shape: ``[{name, users, count}]``)."""
        reactions = self.message(channel, ts).setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None:
            entry = {"name": name, "users": [], "count": 0}
            reactions.append(entry)
        if user not in entry["users"]:
            entry["users"].append(user)
            entry["count"] += 1

    def unreact(self, channel: str, ts: str, user: str, name: str) -> None:
        message = self.message(channel, ts)
        for entry in message.get("reactions", []):
            if entry["name"] == name and user in entry["users"]:
                entry["users"].remove(user)
                entry["count"] -= 1
        message["reactions"] = [r for r in message.get("reactions", []) if r["count"]]

    def reaction_names(self, message: dict[str, Any], user: str = BOT_USER_ID) -> list[str]:
        return [r["name"] for r in message.get("reactions", []) if user in r["users"]]

    def fail(self, method: str, error: str, times: int = 1) -> None:
        """Make the next ``times`` calls to ``method`` answer ``{"ok": false, "error": error}``."""
        self._failures.setdefault(method, []).extend([error] * times)

    # --- the server -----------------------------------------------------------------------

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._clock):06d}"

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append(Call(method, params))
        wanted = "Bearer xapp-" if method == "apps.connections.open" else "Bearer xoxb-"
        if not request.headers.get("Authorization", "").startswith(wanted):
            return _reply({"ok": False, "error": "not_authed"})
        if self._failures.get(method):
            return _reply({"ok": False, "error": self._failures[method].pop(0)})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return _reply({"ok": False, "error": "unknown_method"})
        return _reply(handler(params))

    async def _response_url(self, request: web.Request) -> web.Response:
        self.calls.append(
            Call("response_url", {"key": request.match_info["key"]} | await request.json())
        )
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.uploads[request.match_info["file_id"]]
        upload.content = await request.read()
        self.calls.append(Call("file_upload", {"file_id": upload.file_id}))
        return web.Response(text="OK - 200")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: say hello, then relay envelopes pushed by the test; keep the acks."""
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.sockets.append(socket)
        await socket.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": APP_ID}}
        )
        async for frame in socket:
            if frame.type == WSMsgType.TEXT:
                self.socket_acks.append(json.loads(frame.data))
        return socket

    async def push(self, kind: str, payload: dict[str, Any]) -> str:
        """Send a Socket Mode envelope (``events_api``, ``slash_commands``, ``interactive``)."""
        envelope_id = f"env-{next(self._clock)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        await self.sockets[-1].send_json(envelope)
        return envelope_id

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self._port}/link/?ticket=fake"}

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.com/",
            "team": "Fake Workspace",
            "user": "assistente",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        if error := _blocks_error(params.get("blocks")):
            return {"ok": False, "error": error}
        message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": self._next_ts()}
        message |= {
            k: params[k] for k in ("text", "blocks", "metadata", "thread_ts") if k in params
        }
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            message = self.message(params.get("channel", ""), params.get("ts", ""))
        except KeyError:
            return {"ok": False, "error": "message_not_found"}
        if error := _blocks_error(params.get("blocks")):
            return {"ok": False, "error": error}
        message |= {k: params[k] for k in ("text", "blocks", "metadata") if k in params}
        return {
            "ok": True,
            "channel": params["channel"],
            "ts": message["ts"],
            "text": message.get("text", ""),
        }

    def _chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel") or not params.get("user"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            message = self.message(params.get("channel", ""), params.get("timestamp", ""))
        except KeyError:
            return {"ok": False, "error": "message_not_found"}
        if str(params.get("name")) in self.reaction_names(message):
            return {"ok": False, "error": "already_reacted"}
        self.react(params["channel"], params["timestamp"], BOT_USER_ID, str(params.get("name")))
        return {"ok": True}

    def _reactions_get(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            message = self.message(params.get("channel", ""), params.get("timestamp", ""))
        except KeyError:
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "type": "message", "channel": params["channel"], "message": message}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel", "")
        try:
            anchor = self.message(channel, params.get("ts", ""))
        except KeyError:
            return {"ok": False, "error": "thread_not_found"}
        root = anchor.get("thread_ts", anchor["ts"])
        thread = [
            m for m in self.messages[channel] if m["ts"] == root or m.get("thread_ts") == root
        ]
        return _page(thread, params)

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel", "")
        if channel not in self.messages:
            return {"ok": False, "error": "channel_not_found"}
        top = [m for m in self.messages[channel] if m.get("thread_ts", m["ts"]) == m["ts"]]
        return _page(list(reversed(top)), params)

    def _usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("usergroup", "")
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def _files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("filename") or not str(params.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{len(self.uploads) + 1:08d}"
        self.uploads[file_id] = Upload(file_id, str(params["filename"]))
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files") or []
        if not files or any(f.get("id") not in self.uploads for f in files):
            return {"ok": False, "error": "file_not_found"}
        if any(not self.uploads[f["id"]].content for f in files):
            return {"ok": False, "error": "file_upload_not_completed"}
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")} for f in files]}


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    raw = await request.read()
    if raw:
        if request.content_type == "application/json":
            params |= json.loads(raw)
        else:
            params |= dict(parse_qsl(raw.decode(), keep_blank_values=True))
    for key in _JSON_FIELDS:
        if isinstance(params.get(key), str) and params[key]:
            params[key] = json.loads(params[key])
    return params


def _blocks_error(blocks: Any) -> str:
    """Slack's refusal of oversized blocks (``invalid_blocks``), so tests catch limits."""
    if blocks is None:
        return ""
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        text = (block.get("text") or {}).get("text", "")
        if block.get("type") == "section" and not 0 < len(text) <= 3000:
            return "invalid_blocks"
    return ""


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _page(messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    inclusive = _truthy(params.get("inclusive"))

    def inside(ts: str) -> bool:
        oldest, latest = params.get("oldest"), params.get("latest")
        if oldest and (ts < oldest or (ts == oldest and not inclusive)):
            return False
        return not (latest and (ts > latest or (ts == latest and not inclusive)))

    kept = [dict(m) for m in messages if inside(m["ts"])]
    if not _truthy(params.get("include_all_metadata")):
        for m in kept:
            m.pop("metadata", None)
    limit = int(params.get("limit") or 100)
    return {"ok": True, "messages": kept[:limit], "has_more": len(kept) > limit}


def _reply(body: dict[str, Any]) -> web.Response:
    return web.json_response(body)


# --- Slack's side: signed requests to the app ------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class SlackSender:
    """Posts what Slack would post to the app's request URL, signed with ``secret``."""

    url: str
    secret: str
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        signed: bool = True,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        sent = {"Content-Type": content_type} | (headers or {})
        if signed:
            sent["X-Slack-Request-Timestamp"] = stamp
            sent["X-Slack-Signature"] = signature(secret or self.secret, stamp, body)
        async with ClientSession() as session, session.post(self.url, data=body, headers=sent) as r:
            return r.status, await r.text()

    def event_body(self, event: dict[str, Any], event_id: str = "") -> dict[str, Any]:
        return {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }

    async def event(
        self, event: dict[str, Any], event_id: str = "", retry: int = 0
    ) -> tuple[int, str]:
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        body = json.dumps(self.event_body(event, event_id)).encode()
        return await self.post(body, "application/json", headers=headers if retry else None)

    async def command(
        self, command: str, text: str, user: str, channel: str, response_url: str
    ) -> tuple[int, str]:
        form = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else "curso",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "response_url": response_url,
            "trigger_id": f"{next(self._ids)}.trigger",
        }
        return await self.post(urlencode(form).encode(), "application/x-www-form-urlencoded")

    async def block_action(
        self,
        action_id: str,
        value: str,
        user: str,
        channel: str,
        message: dict[str, Any],
        response_url: str,
    ) -> tuple[int, str]:
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "fake"},
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "api_app_id": APP_ID,
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel,
                "is_ephemeral": False,
                "thread_ts": message.get("thread_ts", message["ts"]),
            },
            "trigger_id": f"{next(self._ids)}.trigger",
            "channel": {"id": channel, "name": "curso"},
            "message": message,
            "response_url": response_url,
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": f"feedback:{value}",
                    "value": value,
                    "action_ts": str(time.time()),
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post(body, "application/x-www-form-urlencoded")
