"""An edited question gets its answer edited: in place, in every kind of chat, after a restart too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot_harness import CHANNEL, GROUP, OFF_TOPIC, QUESTION, QUOTE, USER, make_settings, running
from fake_bot_api import FakeBotAPI

from index import REFUSAL, Briefbot, Settings

MENTION = "@briefbot_test_bot"


def replies_to(fake: FakeBotAPI, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Bot messages that reply to ``message``, oldest first."""
    return [m for m in fake.sent(message["chat"]["id"])
            if m.get("reply_to_message", {}).get("message_id") == message["message_id"]]


async def test_an_edited_question_edits_its_answer_in_place(fake: FakeBotAPI, bot: Any, svc: Briefbot) -> None:
    asked = fake.say(fake.private(USER), OFF_TOPIC)
    [refusal] = await fake.wait_for(lambda: replies_to(fake, asked))
    assert refusal["text"] == REFUSAL and "reply_markup" not in refusal
    fake.edit(asked, QUESTION)  # the user fixes the question
    await fake.wait_for(lambda: refusal.get("_edits"))
    await fake.settle()
    assert replies_to(fake, asked) == [refusal]  # no second reply: the refusal became the answer
    assert QUOTE in refusal["text"] and "reply_markup" in refusal
    assert fake.calls_to("editMessageText")[0].params["parse_mode"] == "HTML"
    searched = svc.asked
    fake.edit(asked, f"  {QUESTION} ")  # the same question: nothing to do
    await fake.drained()
    assert svc.asked == searched and len(refusal["_edits"]) == 1
    fake.edit(asked, OFF_TOPIC)  # and back: the buttons go with the passages
    await fake.wait_for(lambda: len(refusal["_edits"]) == 2)
    assert refusal["text"] == REFUSAL and "reply_markup" not in refusal
    assert replies_to(fake, asked) == [refusal]


async def test_edits_that_ask_nothing_leave_the_answer_alone(fake: FakeBotAPI, bot: Any, svc: Briefbot) -> None:
    chat = fake.private(USER)
    asked = fake.say(chat, QUESTION)
    [answer] = await fake.wait_for(lambda: replies_to(fake, asked))
    searched = svc.asked
    for text in ("thanks", "https://example.org/report.html", "/sources"):
        fake.edit(asked, text)
    await fake.drained()
    assert svc.asked == searched and "_edits" not in answer and fake.sent(USER) == [answer]
    greeting = fake.say(chat, "hi")
    [_, hello] = await fake.wait_for(lambda: fake.sent(USER) if len(fake.sent(USER)) == 2 else None)
    fake.edit(greeting, QUESTION)  # small talk edited into a question: answered, as a new reply
    [reply] = await fake.wait_for(lambda: replies_to(fake, greeting))
    assert QUOTE in reply["text"] and "_edits" not in hello


async def test_an_edited_caption_edits_its_answer(fake: FakeBotAPI, bot: Any) -> None:
    photo = [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]
    asked = fake.say(fake.private(USER), None, photo=photo, caption=f"{OFF_TOPIC}")
    [refusal] = await fake.wait_for(lambda: replies_to(fake, asked))
    fake.edit(asked, QUESTION)
    await fake.wait_for(lambda: QUOTE in refusal["text"])
    in_group = fake.say(fake.group(GROUP), None, user=fake.user(USER), photo=photo, caption="the map from today")
    fake.edit(in_group, f"{MENTION} {QUESTION}")  # now addressed to the bot: a new reply
    [reply] = await fake.wait_for(lambda: replies_to(fake, in_group))
    assert QUOTE in reply["text"] and replies_to(fake, asked) == [refusal]
    posted = fake.post(fake.channel(CHANNEL), None, photo=photo, caption="Today's map")  # asks nothing
    fake.edit(posted, f"{OFF_TOPIC}")
    [channel_refusal] = await fake.wait_for(lambda: replies_to(fake, posted))
    fake.edit(posted, QUESTION)
    await fake.wait_for(lambda: QUOTE in channel_refusal["text"])
    screenshot = fake.post(fake.channel(CHANNEL), None, photo=photo, caption=QUESTION)  # a new post asks too
    [answer] = await fake.wait_for(lambda: replies_to(fake, screenshot))
    assert QUOTE in answer["text"]


async def test_a_long_answer_edited_into_a_short_one_loses_its_extra_parts(tmp_path: Path, fake: FakeBotAPI) -> None:
    settings = make_settings(tmp_path / "store", fake, top_k=8)  # eight long passages: more than one message holds
    service = Briefbot(settings)
    notes = tmp_path / "convoys.md"
    places = ["Kursk", "Belgorod", "Bryansk", "Voronezh", "Rostov", "Luhansk", "Donetsk", "Melitopol",
              "Kherson", "Mariupol"]
    sentence = ("Rail convoys carried artillery shells from the depot at {0}, by way of sidings, yards and "
                "junctions that the convoy {1} crews used each night, towards the front near Bakhmut, Soledar, "
                "Kreminna and Svatove, and each convoy of ammunition wagons leaving {0} was tracked by satellite "
                "imagery over several days, counted by analysts wagon by wagon, and reported as convoy {1}")
    notes.write_text("# Convoy notes\n\n" + "\n\n".join(
        f"{sentence.format(place, n)}. {sentence.format(place, n + 10)}. {sentence.format(place, n + 20)}." for n, place in enumerate(places)))
    assert service.ingest([str(notes)]).line().startswith("1 new")
    async with running(settings, service):
        asked = fake.say(fake.private(USER), "Where did the rail convoys carry artillery shells?")
        await fake.wait_for(lambda: replies_to(fake, asked))
        await fake.settle()
        parts = replies_to(fake, asked)
        assert len(parts) >= 2 and "reply_markup" in parts[-1] and "reply_markup" not in parts[0]
        fake.edit(asked, OFF_TOPIC)
        await fake.wait_for(lambda: len(fake.deleted) == len(parts) - 1)
        assert replies_to(fake, asked) == [parts[0]] and parts[0]["text"] == REFUSAL
        assert fake.deleted == parts[1:]
        fake.edit(asked, "Where did the rail convoys carry artillery shells?")  # long again: the rest sent anew
        await fake.wait_for(lambda: len(replies_to(fake, asked)) == len(parts))
        again = replies_to(fake, asked)
        assert again[0] is parts[0] and "Convoy" in again[0]["text"] and "reply_markup" in again[-1]


async def test_an_answer_the_user_deleted_is_sent_anew(fake: FakeBotAPI, bot: Any) -> None:
    asked = fake.say(fake.private(USER), OFF_TOPIC)
    [refusal] = await fake.wait_for(lambda: replies_to(fake, asked))
    fake.user_deletes(refusal)
    fake.edit(asked, QUESTION)
    [answer] = await fake.wait_for(lambda: replies_to(fake, asked))
    assert QUOTE in answer["text"] and answer["message_id"] != refusal["message_id"]


async def test_a_question_edited_while_it_is_answered_gets_one_answer(fake: FakeBotAPI, bot: Any) -> None:
    asked = fake.say(fake.private(USER), OFF_TOPIC)
    fake.edit(asked, QUESTION)  # both updates in one getUpdates batch, handled at once
    await fake.wait_for(lambda: (r := replies_to(fake, asked)) and QUOTE in r[0]["text"])
    await fake.settle()
    [answer] = replies_to(fake, asked)
    assert answer.get("_edits") == [answer["_html"]]  # sent as the refusal, then edited


async def test_groups_answer_an_edit_addressed_to_the_bot(fake: FakeBotAPI, bot: Any) -> None:
    group, ann = fake.group(GROUP), fake.user(USER)
    chatter = fake.say(group, "Did anyone read the Xi note?", user=ann)
    fake.edit(chatter, "Did anyone read the Xi note? It's long")  # still not addressed: silence
    await fake.drained()
    assert fake.sent(GROUP) == []
    fake.edit(chatter, f"{MENTION} {QUESTION}")
    [answer] = await fake.wait_for(lambda: replies_to(fake, chatter))
    assert QUOTE in answer["text"]
    fake.edit(chatter, OFF_TOPIC)  # the mention taken out: the answer stays as it was
    command = fake.say(group, f"/ask{MENTION} {OFF_TOPIC}", user=ann)
    [refusal] = await fake.wait_for(lambda: replies_to(fake, command))
    await fake.drained()
    assert "_edits" not in answer
    fake.edit(command, f"/ask {QUESTION}")
    await fake.wait_for(lambda: refusal.get("_edits"))
    assert QUOTE in refusal["text"] and replies_to(fake, command) == [refusal]
    other = fake.say(group, f"/ask@some_other_bot {OFF_TOPIC}", user=ann)
    fake.edit(other, f"/ask@some_other_bot {QUESTION}")
    await fake.drained()
    assert replies_to(fake, other) == []


async def test_a_qa_channel_post_edited_edits_its_answer(fake: FakeBotAPI, bot: Any) -> None:
    post = fake.post(fake.channel(CHANNEL), OFF_TOPIC)
    [refusal] = await fake.wait_for(lambda: replies_to(fake, post))
    fake.edit(post, QUESTION)
    await fake.wait_for(lambda: refusal.get("_edits"))
    assert QUOTE in refusal["text"] and replies_to(fake, post) == [refusal]


async def test_an_edit_after_a_restart_still_edits_the_answer(fake: FakeBotAPI, bot_settings: Settings,
                                                              svc: Briefbot) -> None:
    chat = fake.private(USER)
    async with running(bot_settings, svc):
        asked = fake.say(chat, OFF_TOPIC)
        [refusal] = await fake.wait_for(lambda: replies_to(fake, asked))
    async with running(bot_settings, svc):  # the same store: the memory of answers is on disk
        fake.edit(asked, QUESTION)
        await fake.wait_for(lambda: refusal.get("_edits"))
    assert QUOTE in refusal["text"] and replies_to(fake, asked) == [refusal]
