"""Telegram faults under load: questions from many concurrent chats while 429s, 5xx, timeouts and dropped
connections are injected at random; every question is answered exactly once and nothing crashes.

CI: 100 questions from 10 chats. --slow: 1,000 questions from 50 chats.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from bot_harness import QUESTION, QUOTE, SAMPLE, TOKEN, make_settings, running

from index import Briefbot
from tests.reliability.botkit import RandomFaultAPI, replies_to


async def test_questions_from_many_chats_under_random_faults(tmp_path: Path, slow: bool,
                                                             caplog: pytest.LogCaptureFixture,
                                                             figures: dict[str, Any]) -> None:
    chats, per_chat = (50, 20) if slow else (10, 10)
    caplog.set_level(logging.WARNING)
    fake = RandomFaultAPI(TOKEN, rate=0.15, seed=2026)
    await fake.start()
    try:
        users = list(range(5000, 5000 + chats))
        settings = make_settings(tmp_path / "store", fake, allowed_users=users, rate_limit=10_000)
        svc = Briefbot(settings)
        assert svc.ingest([str(SAMPLE)]).line().startswith("1 new")
        t0 = time.monotonic()
        async with running(settings, svc):
            asked: list[dict[str, Any]] = []
            for wave in range(per_chat):  # each chat asks again while its earlier questions are in flight
                asked += [fake.say(fake.private(u), f"{QUESTION} ({wave})") for u in users]
                await asyncio.sleep(0.05)
            await fake.wait_for(lambda: all(replies_to(fake, m) for m in asked), within=540 if slow else 120)
            took = time.monotonic() - t0
            await fake.settle(quiet=2.0)  # late retries would land now
            fake.enabled = False  # then one more question: the bot is still up and answering
            last = fake.say(fake.private(users[0]), QUESTION)
            [after] = await fake.wait_for(lambda: replies_to(fake, last), within=30)
        assert QUOTE in after["text"]
    finally:
        await fake.stop()
    once = [len(replies_to(fake, m)) for m in asked]
    assert once == [1] * len(asked), f"{sum(n > 1 for n in once)} questions answered twice, {once.count(0)} never"
    assert all(QUOTE in replies_to(fake, m)[0]["text"] for m in asked)  # answers, not apologies
    assert len(fake.sent()) == len(asked) + 1  # nothing else was sent to anyone
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors[:3]]
    assert TOKEN.split(":", 1)[1] not in caplog.text
    injected = dict(sorted(fake.injected.items()))
    assert sum(injected.values()) >= len(asked) // 10  # the faults really happened
    figures.update(chats=chats, questions=len(asked), answered_once=once.count(1), duplicates=0, lost=0,
                   faults_injected=sum(injected.values()), faults=injected, api_calls=len(fake.calls),
                   seconds_to_answer_all=round(took, 1), crashes=0)
