"""Telegram faults (429, 5xx, timeouts, dropped connections) are retried without a reply sent twice;
the token never reaches a log line or a reply."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest
from bot_harness import ADMIN, LATE, QUESTION, QUOTE, TOKEN, USER, make_settings, running
from fake_bot_api import FakeBotAPI

from bot import BotConfigError, build_application, run
from bot.net import REDACTOR, protect_token
from index import Briefbot, Settings


def replies_to(fake: FakeBotAPI, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Bot messages that reply to ``message``."""
    return [m for m in fake.sent(message["chat"]["id"])
            if m.get("reply_to_message", {}).get("message_id") == message["message_id"]]


def secret_of(token: str) -> str:
    """The secret half of a bot token (the part before ':' is the bot's public id)."""
    return token.split(":", 1)[1]


@pytest.mark.parametrize(("kind", "times", "calls"), [
    ("429", 1, 2),  # RetryAfter: PTB's rate limiter waits retry_after, then resends
    ("502", 2, 3),  # the server said it failed: resent with backoff
    ("500", 1, 2),
    ("reset", 2, 3),  # dropped before processing: resent
    ("slow", 1, 1),  # processed, response too late: NOT resent (it was delivered)
])
async def test_reply_faults_deliver_exactly_once(fake: FakeBotAPI, bot: Any, kind: str, times: int,
                                                 calls: int) -> None:
    fake.fail("sendMessage", kind, times, delay=LATE)
    question = fake.say(fake.private(USER), QUESTION)
    [reply] = await fake.wait_for(lambda: replies_to(fake, question))
    assert QUOTE in reply["text"]
    await fake.settle(quiet=LATE + 0.1 if kind == "slow" else 0.3)
    assert len(fake.sent(USER)) == 1
    assert len(fake.calls_to("sendMessage")) == calls


async def test_idempotent_calls_retry_even_after_a_timeout(fake: FakeBotAPI, bot: Any) -> None:
    # /add edits its status message; an edit that hangs, or lands after the timeout, is simply sent again
    fake.fail("editMessageText", "hang", 1, delay=LATE)
    fake.fail("editMessageText", "slow", 1, delay=LATE)
    fake.fail("sendChatAction", "reset", 1)
    doc = fake.add_file(b"# Note\n\nThe desk moved to the third floor in May.\n", "note.md")
    fake.say(fake.private(ADMIN), None, document=doc, caption="/add")
    await fake.wait_for(lambda: any(m["text"].endswith("0 failed") for m in fake.sent(ADMIN)), within=20)
    [status] = fake.sent(ADMIN)
    assert status["text"].startswith("✓ new: Note")
    question = fake.say(fake.private(USER), "Where did the desk move in May?")
    [reply] = await fake.wait_for(lambda: replies_to(fake, question))
    assert "third floor" in reply["text"]
    assert [c.outcome for c in fake.calls_to("sendChatAction")][:2] == ["fault:reset", "ok"]


async def test_many_chats_under_random_faults_answer_every_question_once(fake: FakeBotAPI, svc: Briefbot) -> None:
    users = list(range(2000, 2020))
    settings = make_settings(svc.settings.store, fake, allowed_users=users)
    rng = random.Random(7)
    for method, kinds in {"sendMessage": ["502", "503", "500", "reset", "reset", "slow", "429"],
                          "sendChatAction": ["502", "reset", "hang"], "getUpdates": ["502"]}.items():
        for kind in kinds:
            fake.fail(method, kind, delay=LATE)
        rng.shuffle(fake.faults[method])
    async with running(settings, svc):
        asked = [fake.say(fake.private(u), QUESTION) for u in users for _ in range(2)]
        await fake.wait_for(lambda: all(replies_to(fake, m) for m in asked), within=30)
        await fake.settle(quiet=LATE + 0.1)
    assert all(len(replies_to(fake, m)) == 1 for m in asked)
    assert len(fake.sent()) == len(asked)
    assert not any(fake.faults.values())  # every fault was injected


async def test_token_never_reaches_logs_or_replies(fake: FakeBotAPI, svc: Briefbot,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(svc.settings.store, fake)
    fake.fail("sendMessage", "reset", 1)
    fake.fail("sendMessage", "slow", 1, delay=LATE)  # a TimedOut reaches the error handler, with traceback
    fake.fail("getUpdates", "502", 1)
    async with running(settings, svc) as app:
        assert secret_of(TOKEN) not in repr(app) + repr(app.bot)  # tracebacks and crash reports show these
        question = fake.say(fake.private(USER), QUESTION)
        fake.say(fake.private(USER), QUESTION)
        await fake.wait_for(lambda: replies_to(fake, question))
        await fake.settle(quiet=LATE + 0.1)
    logging.getLogger("test").error("failed calling %s", f"{fake.url}/bot{TOKEN}/getMe",
                                    exc_info=RuntimeError(f"cannot reach /bot{TOKEN}/getMe"))
    secret = secret_of(TOKEN)
    assert any(r.exc_info for r in caplog.records)  # tracebacks were logged...
    assert "<redacted>" in caplog.text  # ...and the token was there to be redacted
    for record in caplog.records:
        assert secret not in record.getMessage() and secret not in (record.exc_text or "")
    assert secret not in caplog.text
    assert not any(secret in str(c.params) for c in fake.calls)


def test_redactor_scrubs_messages_args_and_tracebacks() -> None:
    protect_token("42:ANOTHER-secret-token-zzzzzzzz")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "url %s", ("https://h/bot42:ANOTHER-secret-token-zzzzzzzz/x",),
                               None)
    REDACTOR.scrub(record)
    assert record.getMessage() == "url https://h/bot<redacted>/x"
    try:
        raise ValueError("ANOTHER-secret-token-zzzzzzzz")
    except ValueError as exc:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, (type(exc), exc, exc.__traceback__))
    REDACTOR.scrub(record)
    assert record.exc_text is not None and "ANOTHER" not in record.exc_text and "<redacted>" in record.exc_text


def test_refuses_to_start_without_a_token(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(store=tmp_path / "store", model="hash", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(BotConfigError, match="BRIEFBOT_TELEGRAM_TOKEN"):
        run(settings)
    with pytest.raises(BotConfigError, match="No Telegram bot token"):
        build_application(settings, Briefbot(settings))
    from index.cli import main

    assert main(["serve"]) == 1
    assert "No Telegram bot token: set BRIEFBOT_TELEGRAM_TOKEN" in capsys.readouterr().err
