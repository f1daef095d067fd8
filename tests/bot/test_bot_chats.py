"""Where the bot answers (private chats, groups when addressed, the Q&A channel) and whom it turns away."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

import pytest
from bot_harness import (
    ADMIN,
    CHANNEL,
    GROUP,
    OFF_TOPIC,
    QUESTION,
    QUOTE,
    STRANGER,
    UNKNOWN_CHANNEL,
    UNKNOWN_GROUP,
    USER,
    make_settings,
    running,
)
from fake_bot_api import FakeBotAPI

from bot import render
from index import REFUSAL, Briefbot, StoreUnavailable


def replies_to(fake: FakeBotAPI, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Bot messages that reply to ``message``."""
    return [m for m in fake.sent(message["chat"]["id"])
            if m.get("reply_to_message", {}).get("message_id") == message["message_id"]]


async def test_private_question_gets_cited_quote_with_buttons(fake: FakeBotAPI, bot: Any,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    question = fake.say(fake.private(USER), QUESTION)
    [reply] = await fake.wait_for(lambda: replies_to(fake, question))
    assert QUOTE in reply["text"]
    assert f"<b>“{QUOTE}" in reply["_html"]  # the quote is the bold part
    assert "— ISW: Putin doesn’t secure no-limits bilateral partnership" in reply["text"]
    buttons = [b["callback_data"] for row in reply["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons[:3] == [f"ctx:{c}" for c in buttons_chunks(reply)] and buttons[-1].startswith("more:3:")
    send = fake.calls_to("sendMessage")[0]
    assert send.params["link_preview_options"] == {"is_disabled": True} and send.params["parse_mode"] == "HTML"
    # typing shown while searching, before the reply
    actions = fake.calls_to("sendChatAction")
    assert actions and actions[0].params["action"] == "typing" and actions[0].at <= send.at
    [line] = await fake.wait_for(lambda: [r.getMessage() for r in caplog.records
                                          if r.getMessage().startswith("question ")])  # logged once sent
    assert f"chat={USER} user={USER} offset=0 answered=True" in line and "reports=e9703d4bf23a7a6b" in line


def buttons_chunks(reply: dict[str, Any]) -> list[str]:
    """The chunk ids behind the Context buttons of a reply."""
    return [b["callback_data"][4:] for row in reply["reply_markup"]["inline_keyboard"] for b in row
            if b["callback_data"].startswith("ctx:")]


async def test_off_topic_question_gets_the_refusal(fake: FakeBotAPI, bot: Any) -> None:
    question = fake.say(fake.private(USER), OFF_TOPIC)
    [reply] = await fake.wait_for(lambda: replies_to(fake, question))
    assert reply["text"] == REFUSAL and "reply_markup" not in reply


async def test_whats_new_gets_the_newest_reports_opening_passages_under_a_note(fake: FakeBotAPI, bot: Any) -> None:
    question = fake.say(fake.private(USER), "What's new?")
    [reply] = await fake.wait_for(lambda: replies_to(fake, question))
    assert reply["_html"].startswith("<i>The opening passages of the newest report, “ISW: Putin doesn’t secure")
    lead = "Vladimir Putin probably failed to secure the kind of partnership he had hoped for"
    assert "\n\n<b>1.</b> " in reply["_html"] and f"<b>{lead}" in reply["_html"]  # the lead paragraph, from its start
    assert [b["text"] for row in reply["reply_markup"]["inline_keyboard"] for b in row][-1] == "More"


async def test_a_greeting_or_a_thank_you_is_answered_in_kind(fake: FakeBotAPI, bot: Any, svc: Briefbot) -> None:
    asked = svc.asked
    said = [("Hi!", render.HELLO), ("good morning 👋", render.HELLO), ("Thanks a lot", render.WELCOME),
            ("ok", render.WELCOME)]
    for n, (text, _) in enumerate(said, 1):
        fake.say(fake.private(USER), text)
        await fake.wait_for(lambda n=n: len(fake.sent(USER)) == n)  # type: ignore[misc]
    assert [m["text"] for m in fake.sent(USER)] == [told for _, told in said]
    assert svc.asked == asked  # none of them was searched
    question = fake.say(fake.private(USER), "Hi, what did Xi commit to in the UNSC?")
    [reply] = await fake.wait_for(lambda: replies_to(fake, question))
    assert QUOTE in reply["text"]  # a greeting in front of a question is still the question
    hello = fake.say(fake.group(GROUP), "@briefbot_test_bot hello", user=fake.user(USER))
    [reply] = await fake.wait_for(lambda: replies_to(fake, hello))
    assert reply["text"] == render.HELLO


async def test_a_photo_or_sticker_in_private_gets_told_to_send_text(fake: FakeBotAPI, bot: Any) -> None:
    photo = [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]
    sent = fake.say(fake.private(USER), None, photo=photo, caption="this map")
    sticker = fake.say(fake.private(USER), None, sticker={
        "file_id": "s1", "file_unique_id": "u2", "type": "regular", "width": 512, "height": 512,
        "is_animated": False, "is_video": False})
    for message in (sent, sticker):
        [reply] = await fake.wait_for(lambda m=message: replies_to(fake, m))
        assert reply["text"] == render.TEXT_ONLY
    fake.say(fake.group(GROUP), None, user=fake.user(USER), photo=photo)  # in a group: silence
    fake.say(fake.group(GROUP), None, user=fake.user(USER), photo=photo, caption=QUESTION)  # not to the bot
    after = fake.say(fake.group(GROUP), f"@{fake.bot_user['username']} {QUESTION}", user=fake.user(USER))
    await fake.wait_for(lambda: replies_to(fake, after))
    assert [m for m in fake.sent(GROUP) if m.get("reply_to_message", {}).get("message_id") != after["message_id"]] == []


async def test_a_picture_captioned_with_a_question_gets_the_caption_answered(fake: FakeBotAPI, bot: Any) -> None:
    photo = [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]
    screenshot = fake.say(fake.private(USER), None, photo=photo, caption=QUESTION)
    in_group = fake.say(fake.group(GROUP), None, user=fake.user(USER), photo=photo,
                        caption=f"@{fake.bot_user['username']} {QUESTION}")
    by_command = fake.say(fake.group(GROUP), None, user=fake.user(USER), photo=photo, caption=f"/ask {QUESTION}")
    for message in (screenshot, in_group, by_command):
        [reply] = await fake.wait_for(lambda m=message: replies_to(fake, m))
        assert QUOTE in reply["text"]


async def test_group_ignores_chatter_and_answers_when_mentioned(fake: FakeBotAPI, bot: Any) -> None:
    group = fake.group(GROUP)
    ann = fake.user(USER)
    fake.say(group, "Morning all. Did anyone see the ISW note on Xi?", user=ann)
    fake.say(group, "/ask@some_other_bot what is this?", user=ann)
    # a channel post mirrored into its discussion group is answered in the channel, not again here
    fake.say(group, f"@briefbot_test_bot {QUESTION}", user=fake.user(777000, "Telegram"), is_automatic_forward=True,
             sender_chat=fake.channel(CHANNEL))
    await fake.drained()
    assert fake.sent(GROUP) == []
    asked = fake.say(group, f"@briefbot_test_bot {QUESTION}", user=ann)
    [reply] = await fake.wait_for(lambda: replies_to(fake, asked))
    assert QUOTE in reply["text"]
    await fake.settle()
    assert len(fake.sent(GROUP)) == 1


async def test_group_answers_a_reply_to_the_bot_and_ask_command(fake: FakeBotAPI, bot: Any) -> None:
    group, ann = fake.group(GROUP), fake.user(USER)
    asked = fake.say(group, f"/ask@briefbot_test_bot {OFF_TOPIC}", user=ann)
    [refusal] = await fake.wait_for(lambda: replies_to(fake, asked))
    assert refusal["text"] == REFUSAL
    follow_up = fake.say(group, QUESTION, user=ann, reply_to=refusal)
    [reply] = await fake.wait_for(lambda: replies_to(fake, follow_up))
    assert QUOTE in reply["text"]
    bare = fake.say(group, "/ask", user=ann)
    [usage] = await fake.wait_for(lambda: replies_to(fake, bare))
    assert usage["text"].startswith("Ask like this: /ask")
    # /ask as a reply to someone's message asks that message
    other = fake.say(group, QUESTION, user=fake.user(USER + 50, "Bo"))
    relay = fake.say(group, "/ask", user=ann, reply_to=other)
    [relayed] = await fake.wait_for(lambda: replies_to(fake, relay))
    assert QUOTE in relayed["text"]


async def test_channel_post_gets_a_reply(fake: FakeBotAPI, bot: Any) -> None:
    channel = fake.channel(CHANNEL)
    fake.post(channel, "Reading list for the week is pinned.")
    await fake.drained()
    post = fake.post(channel, QUESTION)
    [reply] = await fake.wait_for(lambda: replies_to(fake, post))
    assert QUOTE in reply["text"] and reply["sender_chat"]["id"] == CHANNEL
    await fake.settle()
    assert len(fake.sent(CHANNEL)) == 1  # the announcement was not a question


async def test_stranger_is_turned_away_once_and_never_answered(fake: FakeBotAPI, bot: Any) -> None:
    chat = fake.private(STRANGER, "Eve")
    fake.say(chat, QUESTION)
    [refusal] = await fake.wait_for(lambda: fake.sent(STRANGER))
    assert "private" in refusal["text"] and str(STRANGER) in refusal["text"]
    fake.say(chat, "/sources")
    fake.say(chat, "/add http://127.0.0.1/x")
    await fake.settle()
    assert len(fake.sent(STRANGER)) == 1  # refused once, no flood of refusals, nothing else
    assert not fake.calls_to("sendChatAction")


async def test_admin_is_served_in_private_without_being_on_the_user_list(fake: FakeBotAPI, bot: Any) -> None:
    question = fake.say(fake.private(ADMIN), QUESTION)
    [reply] = await fake.wait_for(lambda: replies_to(fake, question))
    assert QUOTE in reply["text"]


async def test_unknown_group_and_channel_get_silence_and_are_left(fake: FakeBotAPI, bot: Any) -> None:
    group, channel = fake.group(UNKNOWN_GROUP), fake.channel(UNKNOWN_CHANNEL)
    fake.say(group, f"@briefbot_test_bot {QUESTION}", user=fake.user(USER))
    fake.post(channel, QUESTION)
    await fake.wait_for(lambda: len(fake.calls_to("leaveChat")) == 2)
    await fake.settle()
    assert fake.sent() == []
    assert {c.params["chat_id"] for c in fake.calls_to("leaveChat")} == {UNKNOWN_GROUP, UNKNOWN_CHANNEL}


async def test_added_to_a_group_stays_only_when_an_admin_added_it(fake: FakeBotAPI, bot: Any) -> None:
    fake.added_to(fake.group(-1001), by=fake.user(ADMIN))
    fake.added_to(fake.group(-1002), by=fake.user(USER))
    await fake.wait_for(lambda: fake.calls_to("leaveChat"))
    await fake.settle()
    assert [c.params["chat_id"] for c in fake.calls_to("leaveChat")] == [-1002]


async def test_unknown_group_without_leaving(fake: FakeBotAPI, tmp_path: Path, svc: Briefbot) -> None:
    settings = make_settings(svc.settings.store, fake, leave_unknown_groups=False)
    async with running(settings, svc):
        fake.say(fake.group(UNKNOWN_GROUP), f"@briefbot_test_bot {QUESTION}", user=fake.user(USER))
        await fake.drained()
    assert fake.sent() == [] and not fake.calls_to("leaveChat")


async def test_rate_limit_and_question_length(fake: FakeBotAPI, svc: Briefbot) -> None:
    settings = make_settings(svc.settings.store, fake, rate_limit=2, max_question_chars=60)
    async with running(settings, Briefbot(settings)):
        chat = fake.private(USER)
        asked = [fake.say(chat, QUESTION) for _ in range(3)]
        await fake.wait_for(lambda: all(replies_to(fake, m) for m in asked))
        texts = [replies_to(fake, m)[0]["text"] for m in asked]
        assert sum(QUOTE in t for t in texts) == 2
        [limited] = [t for t in texts if QUOTE not in t]
        assert limited.startswith("You're asking faster than 2 questions a minute; try again in")
        long_question = "What " * 20 + "?"
        other = fake.say(fake.private(ADMIN), long_question)  # another user has their own budget
        [too_long] = await fake.wait_for(lambda: replies_to(fake, other))
        assert too_long["text"] == f"That question is {len(' '.join(long_question.split()))} characters; the limit is 60."


async def test_help_start_and_paged_sources(fake: FakeBotAPI, bot: Any, svc: Briefbot) -> None:
    for n in range(10):
        svc.ingest_bytes(f"# Report {n}\n\nThe desk filed note number {n} about topic {n}.".encode(),
                         f"note{n}.md", f"test:{n}")
    chat = fake.private(USER)
    fake.say(chat, "/help")
    [text] = await fake.wait_for(lambda: fake.sent(USER))
    assert "I answer from 11 reports" in text["text"] and "What did Xi commit to?" in text["text"]
    assert "/forget" not in text["text"]  # admin help only for admins
    fake.say(chat, "/start")
    await fake.wait_for(lambda: len(fake.sent(USER)) == 2)
    assert fake.sent(USER)[1]["text"] == text["text"]
    fake.say(chat, "/sources")
    page = (await fake.wait_for(lambda: fake.sent(USER)[2:]))[0]
    assert page["text"].startswith("11 reports, newest first — page 1 of 2")
    [[older]] = page["reply_markup"]["inline_keyboard"]
    assert older == {"text": "Older ›", "callback_data": "src:1"}
    fake.press(page, "src:1", user=fake.user(USER))
    await fake.wait_for(lambda: page.get("_edits"))
    assert page["text"].startswith("11 reports, newest first — page 2 of 2") and page["text"].count("\n") == 3
    await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery"))


class DownService(Briefbot):
    """The real service, except its store is away (as when a Chroma server restarts) or it has a bug."""

    error: Exception = StoreUnavailable("The report store can't be searched right now; try again shortly.")

    def ask(self, *args: Any, **kwargs: Any) -> Any:
        if isinstance(self.error, StoreUnavailable):
            raise self.error from ConnectionRefusedError("chroma server at 127.0.0.1:1 refused the connection")
        raise self.error


async def test_store_down_and_unexpected_errors(fake: FakeBotAPI, bot_settings: Any,
                                                caplog: pytest.LogCaptureFixture) -> None:
    service = DownService(bot_settings)
    async with running(bot_settings, service):
        chat = fake.private(USER)
        first = fake.say(chat, QUESTION)
        [down] = await fake.wait_for(lambda: replies_to(fake, first))
        assert down["text"] == "I can't search the reports right now; please try again in a minute."
        service.error = RuntimeError("boom")
        second = fake.say(chat, QUESTION)
        [sorry] = await fake.wait_for(lambda: replies_to(fake, second))
        assert sorry["text"].startswith("Sorry, something went wrong on my side.") and "boom" not in sorry["text"]
    [logged] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert logged.exc_info is not None and "boom" in str(logged.exc_info[1])
    # The store's outage is logged with its cause, which is where a bug behind it would show.
    [away] = [r for r in caplog.records if r.getMessage().startswith("store unavailable")]
    assert away.exc_info is not None and "refused the connection" in "".join(traceback.format_exception(*away.exc_info))
