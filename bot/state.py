"""What the bot keeps between updates: its dependencies, the questions behind "More" buttons, which
messages answer which (so an edited question edits its answer), and which groups moved to a new id."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import sqlite3
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from telegram.ext import CallbackContext, ExtBot

from index import Briefbot, Settings

from .access import Gate, RateLimit

log = logging.getLogger(__name__)
KEEP_DAYS = 90  # "More" under an older answer asks to ask again; an older question edited gets a new answer


class _Memory:
    """One table of a SQLite file; a disk that refuses it loses only what the table adds, never the bot."""

    SCHEMA = ""
    TABLE = ""
    LOST = ""  # what the bot cannot do while the table is off
    EXPIRES = True  # rows older than KEEP_DAYS are dropped at start

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._db() as db:
                db.execute(f"CREATE TABLE IF NOT EXISTS {self.TABLE} ({self.SCHEMA})")
                if self.EXPIRES:
                    db.execute(f"DELETE FROM {self.TABLE} WHERE at < ?", (time.time() - KEEP_DAYS * 86400,))
        except (OSError, sqlite3.Error) as exc:
            log.warning("%s memory disabled (%s): %s", self.TABLE, exc, self.LOST)
            self.path = None

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        assert self.path is not None
        db = sqlite3.connect(self.path, timeout=5)
        try:
            with db:
                yield db
        finally:
            db.close()

    def _write(self, sql: str, row: tuple[Any, ...]) -> None:
        if self.path is None:
            return
        try:
            with self._db() as db:
                db.execute(sql, row)
        except sqlite3.Error as exc:
            log.warning("could not write to %s memory: %s", self.TABLE, exc)

    def _read(self, sql: str, key: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if self.path is None:
            return None
        try:
            with self._db() as db:
                row = db.execute(sql, key).fetchone()
        except sqlite3.Error as exc:
            log.warning("could not read %s memory: %s", self.TABLE, exc)
            return None
        return tuple(row) if row else None

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.path is None:
            return []
        try:
            with self._db() as db:
                return [tuple(row) for row in db.execute(sql)]
        except sqlite3.Error as exc:
            log.warning("could not read %s memory: %s", self.TABLE, exc)
            return []


class QuestionMemory(_Memory):
    """Questions keyed by a short hash in a SQLite file, so "More" works after a restart.

    The answer message is a reply to the question, and Telegram hands that message back with every
    button press, so most presses need no memory at all; this file covers questions that were deleted.
    """

    TABLE = "questions"
    SCHEMA = "key TEXT PRIMARY KEY, question TEXT, at REAL"
    LOST = "More needs the original question message"

    @staticmethod
    def key(question: str) -> str:
        """A 12-hex-digit key: short enough for callback_data, collisions negligible at desk scale."""
        return hashlib.sha256(" ".join(question.split()).encode()).hexdigest()[:12]

    def remember(self, question: str) -> str:
        """Store ``question``; return its key."""
        key = self.key(question)
        self._write("INSERT OR REPLACE INTO questions VALUES (?, ?, ?)", (key, question, time.time()))
        return key

    def recall(self, key: str) -> str | None:
        """The question stored under ``key``, if any."""
        row = self._read("SELECT question FROM questions WHERE key = ?", (key,))
        return str(row[0]) if row else None


@dataclass(frozen=True, slots=True)
class Replied:
    """The answer the bot sent to one message: the question it read there, and its messages' ids."""

    question: str
    messages: tuple[int, ...]


class AnswerMemory(_Memory):
    """Which messages of the bot answer which message of a chat, so an edited question edits its answer.

    In memory too, so that a question and its edit, handled at once, take turns (``turn``).
    """

    TABLE = "answers"
    SCHEMA = "chat INTEGER, message INTEGER, question TEXT, replies TEXT, at REAL, PRIMARY KEY (chat, message)"
    LOST = "an edited question gets a new answer instead of its old one edited"

    def __init__(self, path: Path | None) -> None:
        super().__init__(path)
        self._turns: weakref.WeakValueDictionary[tuple[int, int], asyncio.Lock] = weakref.WeakValueDictionary()

    def turn(self, chat_id: int, message_id: int) -> asyncio.Lock:
        """The lock for answering one message: its edit waits until the first answer is sent."""
        lock = self._turns.get((chat_id, message_id))
        if lock is None:
            lock = self._turns[(chat_id, message_id)] = asyncio.Lock()
        return lock

    def remember(self, chat_id: int, message_id: int, question: str, replies: list[int]) -> None:
        """Record that ``replies`` answer ``question``, asked in message ``message_id``."""
        self._write("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                    (chat_id, message_id, question, json.dumps(replies), time.time()))

    def recall(self, chat_id: int, message_id: int) -> Replied | None:
        """What the bot answered to that message, if it did (and remembers)."""
        row = self._read("SELECT question, replies FROM answers WHERE chat = ? AND message = ?", (chat_id, message_id))
        if row is None:
            return None
        return Replied(str(row[0]), tuple(int(i) for i in json.loads(row[1])))


class ChatMoves(_Memory):
    """Groups that became supergroups (Telegram gives the chat a new id): old id to new, kept for good,
    so a restart still serves an allowed group under its new id."""

    TABLE = "moves"
    SCHEMA = "old INTEGER PRIMARY KEY, new INTEGER, at REAL"
    LOST = "an allowed group that became a supergroup is served until a restart, not after"
    EXPIRES = False

    def remember(self, old: int, new: int) -> None:
        """Record that chat ``old`` is now chat ``new``."""
        self._write("INSERT OR REPLACE INTO moves VALUES (?, ?, ?)", (old, new, time.time()))

    def all(self) -> list[tuple[int, int]]:
        """Every move recorded, as (old, new) ids."""
        return [(int(old), int(new)) for old, new in self._rows("SELECT old, new FROM moves")]


@dataclass
class Deps:
    """Everything handlers use, built once from settings and the service."""

    service: Briefbot
    settings: Settings
    gate: Gate
    rate: RateLimit
    strangers: RateLimit
    questions: QuestionMemory
    answers: AnswerMemory
    moves: ChatMoves
    leave_grace: float  # seconds before leaving an unknown supergroup: it may be an allowed group, moved
    leaving: set[int] = field(default_factory=set)  # chats a leave is scheduled for

    @classmethod
    def build(cls, settings: Settings, service: Briefbot, *, leave_grace: float = 5.0) -> Deps:
        """The dependencies for one application; allowed groups that moved are allowed under their new ids."""
        path = settings.store / "bot-questions.sqlite"
        deps = cls(service=service, settings=settings, gate=Gate(settings), rate=RateLimit(settings.rate_limit),
                   strangers=RateLimit(1, window=600.0),  # a stranger hears "private bot" once per 10 min
                   questions=QuestionMemory(path), answers=AnswerMemory(path), moves=ChatMoves(path),
                   leave_grace=leave_grace)
        for old, new in deps.moves.all():
            deps.gate.moved(old, new)
        return deps

    def follow(self, old: int, new: int) -> bool:
        """Group ``old`` became supergroup ``new``: serve it there if it was served; True if so."""
        if not self.gate.moved(old, new):
            return new in self.gate.chats
        self.moves.remember(old, new)
        log.warning("allowed group %s became supergroup %s and is served under its new id; "
                    "add %s to BRIEFBOT_ALLOWED_CHATS to say so in the settings", old, new, new)
        return True


class BriefContext(CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The callback context, with typed access to the bot's dependencies."""

    @property
    def deps(self) -> Deps:
        """The dependencies stored in ``bot_data`` by ``build_application``."""
        return cast(Deps, self.bot_data["deps"])
