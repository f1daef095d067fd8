"""A Bot API server on 127.0.0.1 for tests: it records every call, serves updates and files, injects
faults, and rejects what Telegram rejects (text over 4,096 characters, HTML outside Telegram's subset).

The real python-telegram-bot talks HTTP to it through ``base_url``; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from telegram_html import HtmlError, parse_html, utf16_len

TEXT_LIMIT = 4096
DOWNLOAD_CAP = 20 * 1024 * 1024  # Telegram's getFile limit for bots
__all__ = ["Call", "FakeBotAPI", "Fault", "HtmlError", "parse_html", "utf16_len"]


class ApiError(Exception):
    """An error response: HTTP status, description, optional parameters."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class Call:
    """One request the bot made, what it sent, and how the server answered."""

    method: str
    params: dict[str, Any]
    outcome: str = "ok"  # ok | error:<code> | fault:<kind>
    at: float = field(default_factory=time.monotonic)


@dataclass
class Fault:
    """What to do to the next call of a method: 429 | 500 | 502 | 503 | slow | hang | reset."""

    kind: str
    retry_after: int = 1
    delay: float = 3.0


JSON_PARAMS = {"reply_markup", "reply_parameters", "link_preview_options", "commands", "allowed_updates",
               "scope", "entities"}


def _decode(form: Any) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in form.items():
        if not isinstance(value, str):
            continue
        if key in JSON_PARAMS:
            params[key] = json.loads(value)
        elif key in ("text", "caption", "data", "question", "url", "secret_token"):
            params[key] = value
        elif re.fullmatch(r"-?\d+", value):
            params[key] = int(value)
        elif value in ("true", "false"):
            params[key] = value == "true"
        else:
            params[key] = value
    return params


class FakeBotAPI:
    """The server; one bot (``token``), any number of chats, users, updates, files and faults."""

    def __init__(self, token: str = "123456789:TEST-secret-token-AbCdEf0123456789", *, poll_cap: float = 1.0) -> None:
        self.token = token
        self.bot_id = int(token.split(":")[0])
        self.bot_user = {"id": self.bot_id, "is_bot": True, "first_name": "Briefbot", "username": "briefbot_test_bot",
                         "can_join_groups": True, "can_read_all_group_messages": False,
                         "supports_inline_queries": False}
        self.poll_cap = poll_cap
        self.calls: list[Call] = []
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.chats: dict[int, dict[str, Any]] = {}
        self.left: set[int] = set()
        self.moved: dict[int, int] = {}  # groups that became supergroups: old id to new
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.pages: dict[str, tuple[bytes, str]] = {}
        self.webhook: dict[str, Any] | None = None
        self.outbox: list[dict[str, Any]] = []
        self.deleted: list[dict[str, Any]] = []  # by deleteMessage
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.confirmed = 0  # the highest update id the bot has confirmed receiving
        self.watchers: list[Callable[[Call], None]] = []  # told of each call once it is answered
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.router.add_get("/pages/{name}", self._page)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Close the server; pending long polls return at once."""
        self._closing = True
        self._new_update.set()
        if self._runner:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        """The Bot API root to put in ``telegram_api_url``."""
        return f"http://127.0.0.1:{self.port}"

    # --- the world: chats, users, updates ----------------------------------------------------------
    def user(self, user_id: int, name: str = "Ann") -> dict[str, Any]:
        """A Telegram user."""
        return {"id": user_id, "is_bot": False, "first_name": name}

    def private(self, user_id: int, name: str = "Ann") -> dict[str, Any]:
        """The private chat with a user."""
        return self.chats.setdefault(user_id, {"id": user_id, "type": "private", "first_name": name})

    def group(self, chat_id: int, title: str = "Desk", kind: str = "supergroup") -> dict[str, Any]:
        """A group or supergroup the bot is in."""
        return self.chats.setdefault(chat_id, {"id": chat_id, "type": kind, "title": title})

    def channel(self, chat_id: int, title: str = "Q&A") -> dict[str, Any]:
        """A channel the bot administers."""
        return self.chats.setdefault(chat_id, {"id": chat_id, "type": "channel", "title": title})

    def _push(self, update: dict[str, Any]) -> dict[str, Any]:
        update["update_id"] = next(self._update_ids)
        self._updates.append(update)
        self._new_update.set()
        return update

    def _message(self, chat: dict[str, Any], text: str | None, *, sender: dict[str, Any] | None,
                 reply_to: dict[str, Any] | None = None, document: dict[str, Any] | None = None,
                 caption: str | None = None) -> dict[str, Any]:
        msg: dict[str, Any] = {"message_id": next(self._message_ids[chat["id"]]), "date": int(time.time()),
                               "chat": chat}
        if sender is not None:
            msg["from"] = sender
        else:
            msg["sender_chat"] = chat
        if text is not None:
            msg["text"] = text
            if ents := entities(text):
                msg["entities"] = ents
        if document is not None:
            msg["document"] = document
        if caption is not None:
            msg["caption"] = caption
            if ents := entities(caption):
                msg["caption_entities"] = ents
        if reply_to is not None:
            msg["reply_to_message"] = {k: v for k, v in reply_to.items() if k != "reply_to_message"}
        self.messages[(chat["id"], msg["message_id"])] = msg
        return msg

    def say(self, chat: dict[str, Any], text: str | None, *, user: dict[str, Any] | None = None,
            reply_to: dict[str, Any] | None = None, document: dict[str, Any] | None = None,
            caption: str | None = None, **extra: Any) -> dict[str, Any]:
        """A user writes in a chat (private chats default to their owner); returns the message."""
        if user is None:
            user = self.user(chat["id"], chat.get("first_name", "Ann"))
        msg = self._message(chat, text, sender=user, reply_to=reply_to, document=document, caption=caption)
        msg.update(extra)
        self._push({"message": msg})
        return msg

    def post(self, channel: dict[str, Any], text: str | None, **extra: Any) -> dict[str, Any]:
        """A post in a channel (``caption=`` and ``photo=`` for a picture)."""
        msg = self._message(channel, text, sender=None, caption=extra.pop("caption", None))
        msg.update(extra)
        self._push({"channel_post": msg})
        return msg

    def edit(self, message: dict[str, Any], text: str) -> dict[str, Any]:
        """The sender edits a message (a picture's caption, if it has one): Telegram sends it again, whole,
        as an edited message or post."""
        key = (message["chat"]["id"], message["message_id"])
        field = "text" if "text" in self.messages[key] or "caption" not in self.messages[key] else "caption"
        marks = "entities" if field == "text" else "caption_entities"
        msg = {k: v for k, v in self.messages[key].items() if k != marks}  # updates already queued keep theirs
        msg.update({field: text, "edit_date": int(time.time())})
        if ents := entities(text):
            msg[marks] = ents
        self.messages[key] = msg
        self._push({"edited_channel_post" if msg["chat"]["type"] == "channel" else "edited_message": msg})
        return msg

    def user_deletes(self, message: dict[str, Any]) -> None:
        """A user deletes a message (in a private chat, the bot's too) without the bot being told."""
        msg = self.messages.pop((message["chat"]["id"], message["message_id"]))
        if msg in self.outbox:
            self.outbox.remove(msg)

    def press(self, message: dict[str, Any], data: str, *, user: dict[str, Any],
              drop_reply: bool = False) -> str:
        """A user presses an inline button of a bot message; returns the callback query id."""
        msg = dict(self.messages[(message["chat"]["id"], message["message_id"])])
        if drop_reply:
            msg.pop("reply_to_message", None)
        qid = str(next(self._callback_ids))
        self._push({"callback_query": {"id": qid, "from": user, "message": msg, "data": data,
                                       "chat_instance": f"ci{msg['chat']['id']}"}})
        return qid

    def added_to(self, chat: dict[str, Any], by: dict[str, Any]) -> None:
        """The bot is added to a group by a user."""
        old = {"user": self.bot_user, "status": "left"}
        new = {"user": self.bot_user, "status": "member"}
        self._push({"my_chat_member": {"chat": chat, "from": by, "date": int(time.time()),
                                       "old_chat_member": old, "new_chat_member": new}})

    def migrate(self, group: dict[str, Any], new_id: int, *, join_first: bool = False,
                by: dict[str, Any] | None = None) -> dict[str, Any]:
        """The group becomes a supergroup with a new id, as Telegram does it: a service message in the old
        group (``migrate_to_chat_id``), the bot's joining the new one (``my_chat_member``; first, with
        ``join_first``) and a service message there (``migrate_from_chat_id``). From then on the old id
        answers every call with Telegram's 400 naming the new one. Returns the new supergroup."""
        by = by or self.user(1, "Owner")
        supergroup = self.chats.setdefault(new_id, {"id": new_id, "type": "supergroup", "title": group["title"]})
        moved_to = self._message(group, None, sender=by)
        moved_to["migrate_to_chat_id"] = new_id
        moved_from = self._message(supergroup, None, sender={"id": 1087968824, "is_bot": True,
                                                             "first_name": "Group", "username": "GroupAnonymousBot"})
        moved_from.update(sender_chat=supergroup, migrate_from_chat_id=group["id"])
        if join_first:
            self.added_to(supergroup, by)
        self._push({"message": moved_to})
        if not join_first:
            self.added_to(supergroup, by)
        self._push({"message": moved_from})
        self.moved[group["id"]] = new_id
        return supergroup

    def add_file(self, data: bytes, name: str, mime: str = "application/octet-stream",
                 size: int | None = None) -> dict[str, Any]:
        """A document a user can send; ``size`` overrides the declared size."""
        n = next(self._file_ids)
        file_id = f"FILE{n}"
        self.files[file_id] = (data, name)
        return {"file_id": file_id, "file_unique_id": f"U{n}", "file_name": name, "mime_type": mime,
                "file_size": size if size is not None else len(data)}

    def add_page(self, name: str, body: bytes, content_type: str = "text/html; charset=utf-8") -> str:
        """A web page on this server for URL ingest; returns its URL."""
        self.pages[name] = (body, content_type)
        return f"{self.url}/pages/{name}"

    def take_updates(self) -> list[dict[str, Any]]:
        """Remove and return the queued updates (to deliver them to a webhook instead)."""
        updates, self._updates = self._updates, []
        return updates

    # --- faults and inspection --------------------------------------------------------------------
    def fail(self, method: str, kind: str, times: int = 1, **options: Any) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``kind``."""
        for _ in range(times):
            self.faults[method].append(Fault(kind, **options))

    def calls_to(self, method: str) -> list[Call]:
        """Every call of one method, faults included."""
        return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Messages the bot delivered, oldest first (edits update them in place)."""
        return [m for m in self.outbox if chat_id is None or m["chat"]["id"] == chat_id]

    def html_sent(self, chat_id: int | None = None) -> list[str]:
        """The HTML source of every delivered sendMessage, oldest first."""
        return [m["_html"] for m in self.sent(chat_id)]

    async def wait_for(self, condition: Callable[[], Any], within: float = 10.0) -> Any:
        """Wait until ``condition()`` is truthy (at most ``within`` seconds); return its value."""
        deadline = time.monotonic() + within
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                calls = [c.method + (f" ({c.outcome})" if c.outcome != "ok" else "") for c in self.calls
                         if c.method != "getUpdates" or c.outcome != "ok"]  # successful polls are noise
                raise AssertionError(f"condition not met within {within}s; calls: {calls}")
            await asyncio.sleep(0.02)

    async def drained(self, quiet: float = 0.3) -> None:
        """Wait until the bot has fetched every update queued so far, then for quiet."""
        last = self._updates[-1]["update_id"] if self._updates else 0
        await self.wait_for(lambda: self.confirmed >= last)
        await self.settle(quiet)

    async def settle(self, quiet: float = 0.3) -> None:
        """Wait until no call but getUpdates has arrived for ``quiet`` seconds."""
        while True:
            last = max((c.at for c in self.calls if c.method != "getUpdates"), default=0.0)
            if time.monotonic() - last >= quiet:
                return
            await asyncio.sleep(0.05)

    # --- HTTP ----------------------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = _decode(await request.post()) if request.can_read_body else {}
        call = Call(method, params)
        self.calls.append(call)
        try:
            return await self._answer(request, call)
        finally:
            for watcher in self.watchers:
                watcher(call)

    async def _answer(self, request: web.Request, call: Call) -> web.StreamResponse:
        method = call.method
        params = call.params
        if request.match_info["token"] != self.token:
            call.outcome = "error:401"
            return _error(ApiError(401, "Unauthorized"))
        fault = self.faults[method].popleft() if self.faults[method] else None
        if fault:
            call.outcome = f"fault:{fault.kind}"
            if fault.kind == "429":
                return _error(ApiError(429, f"Too Many Requests: retry after {fault.retry_after}",
                                       {"retry_after": fault.retry_after}))
            if fault.kind.isdigit():
                return _error(ApiError(int(fault.kind), "Internal Server Error"))
            if fault.kind == "reset":  # dropped before the request was processed
                request.transport.abort()  # type: ignore[union-attr]
                return web.Response()
            if fault.kind == "hang":  # never processed, answered too late
                await asyncio.sleep(fault.delay)
                return _error(ApiError(500, "Internal Server Error"))
        handler = getattr(self, f"_m_{method}", None)
        try:
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            result = await handler(params)
        except ApiError as exc:
            if not call.outcome.startswith("fault"):
                call.outcome = f"error:{exc.code}"
            return _error(exc)
        if fault and fault.kind == "slow":  # processed and delivered, but answered too late
            await asyncio.sleep(fault.delay)
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.StreamResponse:
        self.calls.append(Call("download", {"path": request.match_info["path"]}))
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        file_id = request.match_info["path"].split("/")[-1].split(".")[0]
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id][0])

    async def _page(self, request: web.Request) -> web.StreamResponse:
        body, ctype = self.pages[request.match_info["name"]]
        return web.Response(body=body, headers={"Content-Type": ctype})

    # --- methods ---------------------------------------------------------------------------------------
    async def _m_getMe(self, p: dict[str, Any]) -> Any:
        return self.bot_user

    async def _m_deleteWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = None
        return True

    async def _m_setWebhook(self, p: dict[str, Any]) -> Any:
        if not str(p.get("url", "")).startswith("https://") and not p.get("url", "").startswith("http://127.0.0.1"):
            raise ApiError(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        self.webhook = p
        return True

    async def _m_setMyCommands(self, p: dict[str, Any]) -> Any:
        for c in p.get("commands", []):
            if not re.fullmatch(r"[a-z0-9_]{1,32}", c["command"]) or not 1 <= len(c["description"]) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        scope = p.get("scope", {"type": "default"})
        if scope.get("type") == "chat" and scope.get("chat_id") not in self.chats:
            raise ApiError(400, "Bad Request: chat not found")
        return True

    async def _m_getUpdates(self, p: dict[str, Any]) -> Any:
        offset = int(p.get("offset", 0) or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self.confirmed = max(self.confirmed, offset - 1)
        deadline = time.monotonic() + min(float(p.get("timeout", 0) or 0), self.poll_cap)
        while not self._updates and not self._closing and (left := deadline - time.monotonic()) > 0:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), left)
            except TimeoutError:
                break
        return self._updates[: int(p.get("limit", 100) or 100)]

    def _chat(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self.chats.get(p.get("chat_id"))  # type: ignore[arg-type]
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat["id"] in self.moved:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": self.moved[chat["id"]]})
        if chat["id"] in self.left:
            raise ApiError(403, "Forbidden: bot is not a member of the chat")
        return chat

    def _check_text(self, p: dict[str, Any], key: str = "text") -> str:
        text = p.get(key, "")
        if p.get("parse_mode") == "HTML":
            try:
                plain = parse_html(text)
            except HtmlError as exc:
                raise ApiError(400, f"Bad Request: {exc}") from exc
        elif p.get("parse_mode"):
            raise ApiError(400, "Bad Request: unsupported parse_mode in this fake")
        else:
            plain = text
        if not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(plain) > TEXT_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        markup = p.get("reply_markup")
        for row in (markup or {}).get("inline_keyboard", []):
            for button in row:
                if "callback_data" in button and not 1 <= len(button["callback_data"].encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return plain

    async def _m_sendMessage(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p)
        plain = self._check_text(p)
        reply_to = None
        if rp := p.get("reply_parameters"):
            reply_to = self.messages.get((chat["id"], rp["message_id"]))
            if reply_to is None and not rp.get("allow_sending_without_reply"):
                raise ApiError(400, "Bad Request: message to be replied not found")
        sender = None if chat["type"] == "channel" else self.bot_user
        msg = self._message(chat, plain, sender=sender, reply_to=reply_to)
        msg.pop("entities", None)
        if p.get("reply_markup"):
            msg["reply_markup"] = p["reply_markup"]
        msg.update(_html=p.get("text"), _by_bot=True)
        self.outbox.append(msg)
        return _public(msg)

    async def _m_editMessageText(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p)
        msg = self.messages.get((chat["id"], p.get("message_id", -1)))
        if msg is None or not msg.get("_by_bot"):
            raise ApiError(400, "Bad Request: message to edit not found")
        plain = self._check_text(p)
        if msg.get("_html") == p.get("text") and msg.get("reply_markup") == p.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                "markup are exactly the same as a current content and reply markup of the message")
        msg.update(text=plain, _html=p.get("text"))
        msg.pop("reply_markup", None)
        if p.get("reply_markup"):
            msg["reply_markup"] = p["reply_markup"]
        msg.setdefault("_edits", []).append(p.get("text"))
        return _public(msg)

    async def _m_deleteMessage(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p)
        msg = self.messages.get((chat["id"], p.get("message_id", -1)))
        if msg is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        if not msg.get("_by_bot") and chat["type"] == "private":
            raise ApiError(400, "Bad Request: message can't be deleted")
        del self.messages[(chat["id"], msg["message_id"])]
        if msg in self.outbox:
            self.outbox.remove(msg)
        self.deleted.append(msg)
        return True

    async def _m_sendChatAction(self, p: dict[str, Any]) -> Any:
        self._chat(p)
        return True

    async def _m_answerCallbackQuery(self, p: dict[str, Any]) -> Any:
        if len(p.get("text", "")) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    async def _m_leaveChat(self, p: dict[str, Any]) -> Any:
        self.left.add(self._chat(p)["id"])
        return True

    async def _m_getFile(self, p: dict[str, Any]) -> Any:
        file_id = p.get("file_id")
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        data, name = self.files[file_id]
        if len(data) > DOWNLOAD_CAP:
            raise ApiError(400, "Bad Request: file is too big")
        suffix = name.rsplit(".", 1)[-1] if "." in name else "bin"
        return {"file_id": file_id, "file_unique_id": f"U{file_id}", "file_size": len(data),
                "file_path": f"documents/{file_id}.{suffix}"}


def _public(msg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if not k.startswith("_")}


def _error(exc: ApiError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
    if exc.parameters:
        body["parameters"] = exc.parameters
    return web.json_response(body, status=exc.code)


def entities(text: str) -> list[dict[str, Any]]:
    """Telegram's entities for a leading /command and @mentions (offsets in UTF-16 units)."""
    found = []
    if m := re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text):
        found.append({"type": "bot_command", "offset": 0, "length": utf16_len(m.group(0))})
    for m in re.finditer(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}", text):
        found.append({"type": "mention", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))})
    return found
