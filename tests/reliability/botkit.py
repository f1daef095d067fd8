"""Bot pieces for reliability tests, on top of tests/bot: a fake Bot API that injects faults at random,
and one that names downloaded files the way Telegram does."""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Any

from aiohttp import web
from bot_harness import LATE
from fake_bot_api import FakeBotAPI, Fault

# Faults per method. sendMessage never gets "hang" (the call is dropped unprocessed and answered late):
# a timeout there is ambiguous, and bot/net.py deliberately does not resend a reply it may have
# delivered, preferring a rare lost reply to a duplicate. "slow" (processed, answered late) is the
# timeout the bot must not turn into a double reply.
FAULTS = {
    "sendMessage": ["429", "500", "502", "503", "reset", "reset", "slow"],
    "sendChatAction": ["429", "502", "503", "reset", "hang", "slow"],
    "getUpdates": ["502", "503", "reset", "hang"],
}


class RandomFaultAPI(FakeBotAPI):
    """Injects a random fault into a share ``rate`` of calls, at most ``per_request`` times into the same
    request (same method and parameters, i.e. a retry), so that every request eventually goes through."""

    def __init__(self, token: str, *, rate: float, seed: int, per_request: int = 2, delay: float = LATE) -> None:
        super().__init__(token)
        self.rng = random.Random(seed)
        self.rate, self.per_request, self.delay = rate, per_request, delay
        self.injected: Counter[str] = Counter()
        self._hits: Counter[str] = Counter()
        self.enabled = True

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if self.enabled and method in FAULTS and not self.faults[method] and self.rng.random() < self.rate:
            form = await request.post() if request.can_read_body else {}
            key = f"{method}:{sorted((k, str(v)) for k, v in form.items())}"
            if self._hits[key] < self.per_request:
                self._hits[key] += 1
                kind = self.rng.choice(FAULTS[method])
                self.faults[method].append(Fault(kind, retry_after=1, delay=self.delay))
                self.injected[f"{method}:{kind}"] += 1
            return await super()._api(_ReadAlready(request, form))  # type: ignore[arg-type]
        return await super()._api(request)


class _ReadAlready:
    """A request whose form was read already: the base class reads it again through this."""

    can_read_body = True

    def __init__(self, request: web.Request, form: Any) -> None:
        self._request, self._form = request, form

    async def post(self) -> Any:
        return self._form

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


class TelegramPathsAPI(FakeBotAPI):
    """getFile answers ``documents/file_N.ext`` as Telegram does, whatever the user named the file."""

    async def _m_getFile(self, p: dict[str, Any]) -> Any:
        result = await super()._m_getFile(p)
        name = self.files[p["file_id"]][1]
        ext = re.sub(r"[^A-Za-z0-9]", "", name.rsplit(".", 1)[-1])[:8] if "." in name else ""
        result["file_path"] = f"documents/{p['file_id']}.{ext or 'bin'}"
        return result


def replies_to(fake: FakeBotAPI, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Bot messages that reply to ``message``."""
    return [m for m in fake.sent(message["chat"]["id"])
            if m.get("reply_to_message", {}).get("message_id") == message["message_id"]]
