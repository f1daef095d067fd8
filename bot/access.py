"""Who may use the bot: allow-lists of chats and users, admins, and per-user rates."""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable

from telegram import Chat, ChatMember, Update, User

from index import Settings

TELEGRAM_DOWNLOAD_MB = 20.0  # bots cannot download larger files through getFile


class Verdict(enum.Enum):
    """What to do with an update."""

    SERVE = "serve"
    REFUSE = "refuse"  # a stranger in a private chat: tell them, briefly
    IGNORE = "ignore"  # say nothing
    LEAVE = "leave"  # an unknown group or channel: say nothing and leave


class Gate:
    """The allow-lists from the settings, applied to each update before any handler runs."""

    def __init__(self, settings: Settings) -> None:
        self.chats = set(settings.allowed_chats)
        self.users = set(settings.allowed_users)
        self.admins = set(settings.admins)
        self.channels = set(settings.qa_channels)
        self.leave_unknown = settings.leave_unknown_groups
        self.upload_limit_mb = min(settings.max_file_mb, TELEGRAM_DOWNLOAD_MB)

    @property
    def configured(self) -> bool:
        """False when no list names anyone, so everyone is turned away."""
        return bool(self.chats or self.users or self.admins or self.channels)

    def is_admin(self, user: User | None) -> bool:
        """True for users on the admin list; channel posts have no user and are never admin."""
        return user is not None and user.id in self.admins

    def verdict(self, update: Update) -> Verdict:
        """Serve when the chat is allowed, or in a private chat the sender is; admins always."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None:
            return Verdict.IGNORE
        member = update.my_chat_member
        if member is not None and member.new_chat_member.status in (ChatMember.LEFT, ChatMember.BANNED):
            return Verdict.IGNORE  # removed from a chat: nothing to do, nothing to leave
        if self.is_admin(user) or chat.id in self.chats:
            return Verdict.SERVE
        if chat.type == Chat.CHANNEL and chat.id in self.channels:
            return Verdict.SERVE
        if chat.type == Chat.PRIVATE:
            return Verdict.SERVE if user is not None and user.id in self.users else Verdict.REFUSE
        return Verdict.LEAVE if self.leave_unknown else Verdict.IGNORE

    def moved(self, old: int, new: int) -> bool:
        """Group ``old`` is now supergroup ``new`` (Telegram's upgrade gives a group a new id): the new id
        is allowed when the old one was. True when that newly allows it."""
        if old not in self.chats or new in self.chats:
            return False
        self.chats.add(new)
        return True

    def upload_too_big(self, size: int | None) -> str | None:
        """A one-line reason when a document is over the upload limit, else None."""
        if size is not None and size > self.upload_limit_mb * 1e6:
            return f"that file is {size / 1e6:.1f} MB; the limit is {self.upload_limit_mb:g} MB"
        return None


class RateLimit:
    """At most ``limit`` events per key in any sliding ``window`` seconds."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[int | str, deque[float]] = {}

    def wait(self, key: int | str) -> float:
        """0 and the event is counted, or the seconds until ``key`` may go again (nothing counted)."""
        now = self.clock()
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            return events[0] + self.window - now
        events.append(now)
        if len(self._events) > 10_000:  # forget idle keys so the table cannot grow without bound
            self._events = {k: v for k, v in self._events.items() if v and v[-1] > now - self.window}
        return 0.0
