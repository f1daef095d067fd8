"""What the bot keeps between updates: its dependencies, and the questions behind "More" buttons."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from telegram.ext import CallbackContext, ExtBot

from index import Briefbot, Settings

from .access import Gate, RateLimit

log = logging.getLogger(__name__)
KEEP_DAYS = 90  # "More" under an answer older than this asks the user to ask again


class QuestionMemory:
    """Questions keyed by a short hash in a SQLite file, so "More" works after a restart.

    The answer message is a reply to the question, and Telegram hands that message back with every
    button press, so most presses need no memory at all; this file covers questions that were deleted.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._db() as db:
                db.execute("CREATE TABLE IF NOT EXISTS questions (key TEXT PRIMARY KEY, question TEXT, at REAL)")
                db.execute("DELETE FROM questions WHERE at < ?", (time.time() - KEEP_DAYS * 86400,))
        except (OSError, sqlite3.Error) as exc:  # a read-only disk loses only the fallback, not the bot
            log.warning("question memory disabled (%s): More needs the original question message", exc)
            self.path = None

    @staticmethod
    def key(question: str) -> str:
        """A 12-hex-digit key: short enough for callback_data, collisions negligible at desk scale."""
        return hashlib.sha256(" ".join(question.split()).encode()).hexdigest()[:12]

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        assert self.path is not None
        db = sqlite3.connect(self.path, timeout=5)
        try:
            with db:
                yield db
        finally:
            db.close()

    def remember(self, question: str) -> str:
        """Store ``question``; return its key."""
        key = self.key(question)
        if self.path is not None:
            try:
                with self._db() as db:
                    db.execute("INSERT OR REPLACE INTO questions VALUES (?, ?, ?)", (key, question, time.time()))
            except sqlite3.Error as exc:
                log.warning("could not remember a question: %s", exc)
        return key

    def recall(self, key: str) -> str | None:
        """The question stored under ``key``, if any."""
        if self.path is None:
            return None
        try:
            with self._db() as db:
                row = db.execute("SELECT question FROM questions WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            log.warning("could not recall a question: %s", exc)
            return None
        return str(row[0]) if row else None


@dataclass
class Deps:
    """Everything handlers use, built once from settings and the service."""

    service: Briefbot
    settings: Settings
    gate: Gate
    rate: RateLimit
    strangers: RateLimit
    questions: QuestionMemory

    @classmethod
    def build(cls, settings: Settings, service: Briefbot) -> Deps:
        """The dependencies for one application."""
        return cls(service=service, settings=settings, gate=Gate(settings), rate=RateLimit(settings.rate_limit),
                   strangers=RateLimit(1, window=600.0),  # a stranger hears "private bot" once per 10 min
                   questions=QuestionMemory(settings.store / "bot-questions.sqlite"))


class BriefContext(CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The callback context, with typed access to the bot's dependencies."""

    @property
    def deps(self) -> Deps:
        """The dependencies stored in ``bot_data`` by ``build_application``."""
        return cast(Deps, self.bot_data["deps"])
