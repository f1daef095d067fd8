"""The "More" and "Context" buttons, before and after a restart of the bot, and when things are gone."""

from __future__ import annotations

from typing import Any

from bot_harness import GROUP, QUESTION, QUOTE, STRANGER, USER, running
from fake_bot_api import FakeBotAPI

from index import Briefbot, Settings

OTHER_REPORTS = [
    ("# Grain corridor\n\nTurkey and the UN brokered the grain corridor in July 2022. Xi did not comment on the "
     "corridor. The UNSC discussed shipping insurance.\n"),
    ("# UNSC presidency\n\nRussia took over the UNSC presidency in April 2023. China abstained on two draft "
     "resolutions. Xi spoke with Putin by phone about the UNSC agenda.\n"),
]


def markup_data(message: dict[str, Any]) -> list[str]:
    """Every callback_data under a message."""
    return [b["callback_data"] for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]


async def first_answer(fake: FakeBotAPI, chat: dict[str, Any], user: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """Ask QUESTION; the question and the bot's answer."""
    question = fake.say(chat, QUESTION, user=user)
    await fake.wait_for(lambda: [m for m in fake.sent(chat["id"]) if "reply_markup" in m])
    [answer] = [m for m in fake.sent(chat["id"]) if m.get("reply_to_message", {}).get("message_id") == question[
        "message_id"]]
    return question, answer


def add_reports(svc: Briefbot) -> None:
    """Two more reports, so "More" has something to show."""
    for n, text in enumerate(OTHER_REPORTS):
        svc.ingest_bytes(text.encode(), f"other{n}.md", f"test:other{n}")


async def test_more_and_context_work_and_survive_a_restart(fake: FakeBotAPI, bot_settings: Settings,
                                                           svc: Briefbot) -> None:
    add_reports(svc)
    chat, user = fake.private(USER), fake.user(USER)
    async with running(bot_settings, svc):
        question, answer = await first_answer(fake, chat, user)
        more = [d for d in markup_data(answer) if d.startswith("more:")]
        contexts = [d for d in markup_data(answer) if d.startswith("ctx:")]
        assert more == [more[0]] and more[0].startswith("more:3:") and len(contexts) == 3
        fake.press(answer, more[0], user=user)
        await fake.wait_for(lambda: len(fake.sent(USER)) == 2)
        page2 = fake.sent(USER)[1]
        assert page2["_html"].startswith("<b>4.</b>") and page2["reply_to_message"]["message_id"] == question[
            "message_id"]
        assert QUOTE not in page2["text"]
        fake.press(answer, contexts[0], user=user)
        await fake.wait_for(lambda: len(fake.sent(USER)) == 3)
        context = fake.sent(USER)[2]
        assert context["text"].startswith("Context — ISW: Putin doesn’t secure") and QUOTE in context["text"]
        assert context["reply_to_message"]["message_id"] == answer["message_id"]
        await fake.wait_for(lambda: len(fake.calls_to("answerCallbackQuery")) == 2)
    before = [m["_html"] for m in fake.sent(USER)[1:]]

    # A new process: new service and application over the same store directory.
    restarted = Briefbot(bot_settings)
    async with running(bot_settings, restarted):
        fake.press(answer, more[0], user=user)
        fake.press(answer, contexts[0], user=user)
        await fake.wait_for(lambda: len(fake.sent(USER)) == 5)
        assert sorted(m["_html"] for m in fake.sent(USER)[3:]) == sorted(before)
        # the question was deleted: "More" falls back on the bot's own memory of it
        fake.press(answer, more[0], user=user, drop_reply=True)
        await fake.wait_for(lambda: len(fake.sent(USER)) == 6)
        assert fake.sent(USER)[5]["_html"] == before[0]
        await fake.wait_for(lambda: len(fake.calls_to("answerCallbackQuery")) == 5)


async def test_more_in_a_group_for_another_member(fake: FakeBotAPI, bot: Any, svc: Briefbot) -> None:
    add_reports(svc)
    group, ann, bo = fake.group(GROUP), fake.user(USER), fake.user(USER + 1, "Bo")
    question = fake.say(group, f"@briefbot_test_bot {QUESTION}", user=ann)
    answer = (await fake.wait_for(lambda: fake.sent(GROUP)))[0]
    [more] = [d for d in markup_data(answer) if d.startswith("more:")]
    fake.press(answer, more, user=bo)
    await fake.wait_for(lambda: len(fake.sent(GROUP)) == 2)
    assert fake.sent(GROUP)[1]["reply_to_message"]["message_id"] == question["message_id"]


async def test_gone_question_and_gone_report_answer_with_a_toast(fake: FakeBotAPI, bot: Any, svc: Briefbot) -> None:
    chat, user = fake.private(USER), fake.user(USER)
    _, answer = await first_answer(fake, chat, user)
    [ctx, *_] = [d for d in markup_data(answer) if d.startswith("ctx:")]
    fake.press(answer, "more:3:0123456789ab", user=user, drop_reply=True)
    await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery"))
    toast = fake.calls_to("answerCallbackQuery")[0].params
    assert toast["text"] == "I no longer have that question; please ask it again." and toast["show_alert"] is True
    svc.forget(ctx[4:].split(":")[0])
    fake.press(answer, ctx, user=user)
    await fake.wait_for(lambda: len(fake.calls_to("answerCallbackQuery")) == 2)
    assert fake.calls_to("answerCallbackQuery")[1].params["text"] == "That report is no longer in the store."
    assert len(fake.sent(USER)) == 1


async def test_strangers_cannot_press_buttons(fake: FakeBotAPI, bot: Any) -> None:
    chat, user = fake.private(USER), fake.user(USER)
    _, answer = await first_answer(fake, chat, user)
    for data in markup_data(answer):
        fake.press(answer, data, user=fake.user(STRANGER))  # e.g. a forwarded answer, pressed by someone else
    await fake.wait_for(lambda: len(fake.calls_to("answerCallbackQuery")) == len(markup_data(answer)))
    await fake.drained()
    assert len(fake.sent()) == 1
    assert all("private briefing bot" in c.params["text"] for c in fake.calls_to("answerCallbackQuery"))


async def test_more_pages_on_through_a_digest(fake: FakeBotAPI, bot: Any) -> None:
    chat, user = fake.private(USER), fake.user(USER)
    question = fake.say(chat, "What's new?", user=user)
    [answer] = await fake.wait_for(lambda: [m for m in fake.sent(USER) if "reply_markup" in m])
    assert answer["_html"].startswith("<i>The opening passages of the newest report")
    [more] = [d for d in markup_data(answer) if d.startswith("more:")]
    fake.press(answer, more, user=user)
    await fake.wait_for(lambda: len(fake.sent(USER)) == 2)
    # the sample report's three chunks were the first page: the digest knows there are no more
    assert fake.sent(USER)[1]["text"] == "No more passages."
    assert fake.sent(USER)[1]["reply_to_message"]["message_id"] == question["message_id"]
