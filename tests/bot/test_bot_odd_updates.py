"""Legitimate but unusual updates: commands for other bots, buttons the bot never made, bare mentions,
anonymous admins, a command asked back at the bot's own answer."""

from __future__ import annotations

from typing import Any

import pytest
from bot_harness import ADMIN, ARCTIC, GROUP, QUESTION, QUOTE, USER, make_settings, running
from fake_bot_api import FakeBotAPI

from bot import render
from bot.handlers import ASK_ME
from index import Briefbot

MENTION = "@briefbot_test_bot"
ANONYMOUS = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
PHOTO = [{"file_id": "P", "file_unique_id": "PU", "width": 1, "height": 1}]


def replies_to(fake: FakeBotAPI, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Bot messages that reply to ``message``."""
    return [m for m in fake.sent(message["chat"]["id"])
            if m.get("reply_to_message", {}).get("message_id") == message["message_id"]]


async def test_a_document_captioned_for_another_bot_is_left_to_it(fake: FakeBotAPI, bot: Any) -> None:
    doc = fake.add_file(ARCTIC.encode(), "arctic.md", "text/markdown")
    for sender in (fake.user(USER), fake.user(ADMIN, "Boss")):
        fake.say(fake.group(GROUP), None, document=doc, caption="/add@other_bot", user=sender)
    mine = fake.say(fake.group(GROUP), None, document=doc, caption=f"/add{MENTION}", user=fake.user(USER))
    [refused] = await fake.wait_for(lambda: replies_to(fake, mine))  # ours: a non-admin is told why not
    await fake.settle()
    assert refused["text"] == render.NOT_ADMIN and len(fake.sent(GROUP)) == 1 and not fake.calls_to("getFile")


async def test_a_button_the_bot_does_not_know_is_answered(fake: FakeBotAPI, bot: Any) -> None:
    asked = fake.say(fake.private(USER), QUESTION)
    [answer] = await fake.wait_for(lambda: replies_to(fake, asked))
    for data in ("bogus", "more:abc", "src:-1", "more:99999:0123456789ab"):  # an older version's, or forged
        fake.press(answer, data, user=fake.user(USER))
    await fake.wait_for(lambda: len(fake.calls_to("answerCallbackQuery")) == 4)
    assert {c.params["text"] for c in fake.calls_to("answerCallbackQuery")} == {render.STALE_BUTTON}


async def test_a_bare_mention_or_ask_gets_the_prompt(fake: FakeBotAPI, bot: Any, svc: Briefbot) -> None:
    group, ann = fake.group(GROUP), fake.user(USER)
    said = [fake.say(fake.private(USER), MENTION), fake.say(group, f"{MENTION}?", user=ann),
            fake.say(group, f"{MENTION} 🤔", user=ann),
            fake.say(group, None, caption=f"/ask{MENTION}", photo=PHOTO, user=ann)]
    for message in said:
        [reply] = await fake.wait_for(lambda m=message: replies_to(fake, m))
        assert reply["text"] == ASK_ME
    assert svc.asked == 0  # nothing was searched


async def test_a_caption_command_replying_to_the_bot_is_no_question(fake: FakeBotAPI, bot: Any,
                                                                    svc: Briefbot) -> None:
    group, ann = fake.group(GROUP), fake.user(USER)
    asked = fake.say(group, f"{MENTION} {QUESTION}", user=ann)
    [answer] = await fake.wait_for(lambda: replies_to(fake, asked))
    for command in ("/help", "/sources", "/ask@some_other_bot what?"):
        fake.say(group, None, user=ann, reply_to=answer, caption=command, photo=PHOTO)
    await fake.settle()
    assert svc.asked == 1 and fake.sent(GROUP) == [answer]


async def test_ask_as_a_reply_to_the_bots_answer_is_not_that_answer_asked(fake: FakeBotAPI, bot: Any,
                                                                          svc: Briefbot) -> None:
    group, ann = fake.group(GROUP), fake.user(USER)
    asked = fake.say(group, f"{MENTION} {QUESTION}", user=ann)
    [answer] = await fake.wait_for(lambda: replies_to(fake, asked))
    again = fake.say(group, f"/ask{MENTION}", user=ann, reply_to=answer)
    [hint] = await fake.wait_for(lambda: replies_to(fake, again))
    assert hint["text"].startswith("Ask like this: /ask") and svc.asked == 1
    other = fake.say(group, QUESTION, user=fake.user(USER + 7, "Bo"))  # another user's message is asked
    relayed = fake.say(group, "/ask", user=ann, reply_to=other)
    [reply] = await fake.wait_for(lambda: replies_to(fake, relayed))
    assert QUOTE in reply["text"]


async def test_anonymous_admins_of_two_groups_do_not_share_a_rate_limit(fake: FakeBotAPI, svc: Briefbot) -> None:
    other = -100501
    settings = make_settings(svc.settings.store, fake, allowed_chats=[GROUP, other], rate_limit=1)
    async with running(settings, Briefbot(settings)):
        desk, other_desk = fake.group(GROUP), fake.group(other, "Other desk")
        first = fake.say(desk, f"{MENTION} {QUESTION}", user=ANONYMOUS, sender_chat=desk)
        await fake.wait_for(lambda: replies_to(fake, first))
        second = fake.say(other_desk, f"{MENTION} {QUESTION}", user=ANONYMOUS, sender_chat=other_desk)
        [reply] = await fake.wait_for(lambda: replies_to(fake, second))
        assert QUOTE in reply["text"]
        third = fake.say(desk, f"{MENTION} {QUESTION}", user=ANONYMOUS, sender_chat=desk)  # the same desk again
        [limited] = await fake.wait_for(lambda: replies_to(fake, third))
        assert limited["text"].startswith("You're asking faster than 1 question a minute")


async def test_a_user_who_blocked_the_bot_costs_one_log_line(fake: FakeBotAPI, bot: Any,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    fake.left.add(USER)  # every call to the chat now answers 403, as for a user who blocked the bot
    fake.say(fake.private(USER), QUESTION)
    [line] = await fake.wait_for(lambda: [r for r in caplog.records if "Telegram call failed" in r.getMessage()])
    assert line.levelname == "WARNING" and line.exc_info is None and "Forbidden" in line.getMessage()
