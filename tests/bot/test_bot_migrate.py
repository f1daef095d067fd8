"""A group that becomes a supergroup gets a new chat id (Telegram does it when a group grows, or its
history is made visible): an allowed group stays served under its new id, after a restart too, and the
bot never leaves it; an unknown group's supergroup is left as any unknown group."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bot_harness import FAST, QUESTION, QUOTE, USER, make_settings, running
from fake_bot_api import FakeBotAPI

from index import Briefbot

OLD, NEW = -4518810, -1002471352  # a basic group's id, and the supergroup's it becomes
STRANGE_OLD, STRANGE_NEW = -4518999, -1002471999


def answers_in(fake: FakeBotAPI, chat_id: int) -> list[dict[str, Any]]:
    """The bot's messages in a chat that quote the sample's answer."""
    return [m for m in fake.sent(chat_id) if QUOTE in m["text"]]


@pytest.mark.parametrize("join_first", [False, True], ids=["move-first", "join-first"])
async def test_an_allowed_group_that_becomes_a_supergroup_is_served_under_its_new_id(
        fake: FakeBotAPI, svc: Briefbot, join_first: bool, caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(svc.settings.store, fake, allowed_chats=[OLD])
    ann = fake.user(USER)
    async with running(settings, svc):
        supergroup = fake.migrate(fake.group(OLD, kind="group"), NEW, join_first=join_first)
        await asyncio.sleep(FAST.leave_grace + 0.5)  # past the grace an unknown supergroup gets
        question = fake.say(supergroup, f"@briefbot_test_bot {QUESTION}", user=ann)
        [reply] = await fake.wait_for(lambda: answers_in(fake, NEW))
        assert reply["reply_to_message"]["message_id"] == question["message_id"]
        assert not fake.calls_to("leaveChat")
    assert any(f"allowed group {OLD} became supergroup {NEW}" in r.getMessage() for r in caplog.records)
    async with running(settings, svc):  # a restart remembers the move; the settings still name the old id
        fake.say(supergroup, f"@briefbot_test_bot {QUESTION}", user=ann)
        await fake.wait_for(lambda: len(answers_in(fake, NEW)) == 2)
        fake.added_to(supergroup, ann)  # re-added after a restart: not a reason to leave
        await asyncio.sleep(FAST.leave_grace + 0.5)
        assert not fake.calls_to("leaveChat")


async def test_an_unknown_group_that_becomes_a_supergroup_is_left(fake: FakeBotAPI, bot: Any) -> None:
    supergroup = fake.migrate(fake.group(STRANGE_OLD, kind="group"), STRANGE_NEW)
    fake.say(supergroup, f"@briefbot_test_bot {QUESTION}", user=fake.user(USER))
    await fake.wait_for(lambda: fake.calls_to("leaveChat"))
    await asyncio.sleep(FAST.leave_grace + 0.5)  # one leave for the supergroup, however many updates
    assert {c.params["chat_id"] for c in fake.calls_to("leaveChat")} == {STRANGE_OLD, STRANGE_NEW}
    assert len([c for c in fake.calls_to("leaveChat") if c.params["chat_id"] == STRANGE_NEW]) == 1
    assert fake.sent() == []


async def test_a_question_asked_just_before_the_move_is_answered_in_the_supergroup(
        fake: FakeBotAPI, svc: Briefbot) -> None:
    settings = make_settings(svc.settings.store, fake, allowed_chats=[OLD])
    group = fake.group(OLD, kind="group")
    async with running(settings, svc):
        fake.chats[NEW] = {"id": NEW, "type": "supergroup", "title": group["title"]}
        fake.moved[OLD] = NEW  # moved while the question was on its way: the old id now answers 400
        fake.say(group, f"@briefbot_test_bot {QUESTION}", user=fake.user(USER))
        [reply] = await fake.wait_for(lambda: answers_in(fake, NEW))
        assert "reply_to_message" not in reply  # its message has another id in the supergroup
        more = fake.say(fake.chats[NEW], f"@briefbot_test_bot {QUESTION}", user=fake.user(USER))
        await fake.wait_for(lambda: [m for m in answers_in(fake, NEW)
                                     if m.get("reply_to_message", {}).get("message_id") == more["message_id"]])
    assert fake.sent(OLD) == [] and not fake.calls_to("leaveChat")
