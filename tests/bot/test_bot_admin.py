"""Admins change the store from Telegram: /add a document or URL, /forget, /stats; nobody else can."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from bot_harness import ADMIN, ARCTIC, ARCTIC_Q, ARCTIC_QUOTE, GROUP, QUESTION, USER, make_settings, pdf_bytes, running
from fake_bot_api import FakeBotAPI

from bot import render
from index import REFUSAL, Briefbot
from index.embed import HashEmbedder


async def ask(fake: FakeBotAPI, chat_id: int, question: str) -> str:
    """Ask in a private chat; the text of the reply."""
    asked = fake.say(fake.private(chat_id), question)

    def reply() -> list[dict[str, Any]]:
        return [m for m in fake.sent(chat_id) if m.get("reply_to_message", {}).get("message_id") == asked["message_id"]]

    return str((await fake.wait_for(reply))[0]["text"])


async def final_status(fake: FakeBotAPI, chat_id: int) -> dict[str, Any]:
    """The status message of an /add once its summary line is in."""
    def done() -> list[dict[str, Any]]:
        return [m for m in fake.sent(chat_id) if " failed" in m["text"] and "unchanged" in m["text"]]

    return (await fake.wait_for(done))[0]


async def test_admin_adds_a_pdf_by_sending_it_and_the_next_question_cites_it(fake: FakeBotAPI, bot: Any) -> None:
    assert await ask(fake, USER, ARCTIC_Q) == REFUSAL
    doc = fake.add_file(pdf_bytes(ARCTIC.split("\n\n")[1:]), "arctic-note.pdf", "application/pdf")
    fake.say(fake.private(ADMIN), None, document=doc)
    status = await final_status(fake, ADMIN)
    assert status["text"].startswith("✓ new: ") and "(1 chunk)" in status["text"]
    assert status["text"].endswith("1 new, 0 updated, 0 unchanged, 0 failed")
    assert status["_edits"][:2] == ["Downloading arctic-note.pdf…", "Reading and indexing arctic-note.pdf (0.0 MB)…"]
    assert [c.method for c in fake.calls if c.method in ("getFile", "download")] == ["getFile", "download"]
    assert ARCTIC_QUOTE in await ask(fake, USER, ARCTIC_Q)


async def test_add_by_caption_and_by_reply_in_a_group(fake: FakeBotAPI, bot: Any) -> None:
    group, admin = fake.group(GROUP), fake.user(ADMIN)
    doc = fake.add_file(ARCTIC.encode(), "arctic.md", "text/markdown")
    fake.say(group, None, user=admin, document=doc, caption="/add")
    first = await final_status(fake, GROUP)
    assert first["text"].startswith("✓ new: Arctic budget note")
    # the same file again, as a reply: nothing changes; a plain document in a group is not an /add
    shared = fake.say(group, None, user=admin, document=fake.add_file(ARCTIC.encode(), "arctic.md"))
    await fake.drained()
    assert len(fake.sent(GROUP)) == 1
    fake.say(group, "/add", user=admin, reply_to=shared)
    await fake.wait_for(lambda: len([m for m in fake.sent(GROUP) if "failed" in m["text"]]) == 2)
    second = [m for m in fake.sent(GROUP) if "failed" in m["text"]][1]
    assert second["text"].endswith("0 new, 0 updated, 1 unchanged, 0 failed")


async def test_admin_adds_a_url(fake: FakeBotAPI, bot: Any) -> None:
    page = (b"<html><head><title>Arctic budget note</title></head><body><article><h1>Arctic budget note</h1>"
            + "".join(f"<p>{p}</p>" for p in ARCTIC.split("\n\n")[1:]).encode() + b"</article></body></html>")
    url = fake.add_page("arctic.html", page)
    fake.say(fake.private(ADMIN), f"/add {url} not-a-url")
    status = await final_status(fake, ADMIN)
    assert "✗ not-a-url: not a URL" in status["text"] and "✓ new: " in status["text"]
    assert status["text"].endswith("1 new, 0 updated, 0 unchanged, 1 failed")
    asked = fake.say(fake.private(USER), ARCTIC_Q)
    [reply] = await fake.wait_for(lambda: [m for m in fake.sent(USER) if m.get("reply_to_message", {}).get(
        "message_id") == asked["message_id"]])
    assert ARCTIC_QUOTE in reply["text"] and f'<a href="{url}">' in reply["_html"]


async def test_a_link_alone_is_no_question_and_an_admin_is_shown_add(fake: FakeBotAPI, bot: Any, svc: Briefbot) -> None:
    url = fake.add_page("note.html", b"<html><body><p>Never fetched.</p></body></html>")
    asked = svc.asked
    for user, told in ((ADMIN, render.LINK_ADMIN), (USER, render.LINK_ONLY)):
        sent = fake.say(fake.private(user), f" {url} ")
        [reply] = await fake.wait_for(lambda sent=sent, user=user: [  # type: ignore[misc]
            m for m in fake.sent(user) if m.get("reply_to_message", {}).get("message_id") == sent["message_id"]])
        assert reply["text"] == told
    assert len(svc.sources()) == 1 and svc.asked == asked  # nothing added, nothing searched for


async def test_add_refuses_oversized_and_broken_files(fake: FakeBotAPI, svc: Briefbot) -> None:
    settings = make_settings(svc.settings.store, fake, max_file_mb=1)
    async with running(settings, Briefbot(settings)):
        chat = fake.private(ADMIN)
        fake.say(chat, None, document=fake.add_file(b"x", "huge.pdf", size=25_000_000), caption="/add")
        big = await final_status(fake, ADMIN)
        assert "✗ huge.pdf: that file is 25.0 MB; the limit is 1 MB" in big["text"]
        assert not fake.calls_to("getFile")  # refused before downloading
        fake.say(chat, None, document=fake.add_file(b"%PDF-1.4 garbage \x00\xff", "../../etc/broken.pdf"))
        await fake.wait_for(lambda: len([m for m in fake.sent(ADMIN) if " failed" in m["text"]]) == 2)
        broken = fake.sent(ADMIN)[-1]
        assert broken["text"].startswith("✗ broken.pdf") and broken["text"].endswith("1 failed")
        fake.say(chat, "/add")
        await fake.wait_for(lambda: fake.sent(ADMIN)[-1]["text"].startswith("Send a document"))


async def test_forget_and_stats(fake: FakeBotAPI, bot: Any, svc: Briefbot) -> None:
    [report] = svc.sources()
    chat = fake.private(ADMIN)
    assert "Xi praised Putin" in await ask(fake, ADMIN, QUESTION)
    fake.say(chat, "/stats")
    await fake.wait_for(lambda: fake.sent(ADMIN)[-1]["text"].startswith(f"1 report, {report.chunks} chunks"))
    assert "1 question, 1 answered, 0 refused" in fake.sent(ADMIN)[-1]["text"]
    fake.say(chat, f"/forget {report.report_id}")
    await fake.wait_for(lambda: fake.sent(ADMIN)[-1]["text"].startswith("Forgot"))
    assert fake.sent(ADMIN)[-1]["text"] == f"Forgot {report.report_id} {report.title}."
    assert await ask(fake, ADMIN, QUESTION) == render.EMPTY  # its only report forgotten
    fake.say(chat, "/forget zzzzzzzz")
    await fake.wait_for(lambda: fake.sent(ADMIN)[-1]["text"].startswith("No report"))
    assert fake.sent(ADMIN)[-1]["text"] == "No report with id or path 'zzzzzzzz'."
    fake.say(chat, "/forget")
    await fake.wait_for(lambda: fake.sent(ADMIN)[-1]["text"].startswith("Say which report"))


async def test_non_admins_cannot_change_the_store(fake: FakeBotAPI, bot: Any, svc: Briefbot) -> None:
    [report] = svc.sources()
    doc = fake.add_file(ARCTIC.encode(), "arctic.md")
    fake.say(fake.private(USER), None, document=doc, caption="/add")
    fake.say(fake.group(GROUP), f"/forget {report.report_id}", user=fake.user(USER))
    fake.say(fake.private(USER), "/stats")
    fake.say(fake.private(USER), "/add http://127.0.0.1/x")
    await fake.wait_for(lambda: len(fake.sent()) == 4)
    await fake.drained()
    assert [m["text"] for m in fake.sent()] == ["Only admins can do that."] * 4
    assert not fake.calls_to("getFile") and svc.sources() == [report]


class PacedEmbedder(HashEmbedder):
    """The hash embedder at a model's pace: a call takes a moment, as encoding 512 sentences does."""

    def embed(self, texts: list[str]) -> np.ndarray:
        time.sleep(0.3)
        return super().embed(texts)


async def test_a_long_document_shows_its_progress_then_the_result(fake: FakeBotAPI, svc: Briefbot,
                                                                  monkeypatch: Any) -> None:
    monkeypatch.setattr("bot.admin.EDIT_EVERY", 0.0)  # every progress step becomes an edit
    settings = svc.settings
    body = "\n\n".join(f"Convoy {n} of the grain corridor carried {n * 7} tonnes past buoy {n % 13}."
                       for n in range(1100))
    async with running(settings, Briefbot(settings, embedder=PacedEmbedder())):
        fake.say(fake.private(ADMIN), None, document=fake.add_file(f"# Convoys\n\n{body}".encode(), "convoys.md"))
        status = await final_status(fake, ADMIN)
    assert status["text"].startswith("✓ new: Convoys")
    edits = status["_edits"]
    assert edits[:2] == ["Downloading convoys.md…", "Reading and indexing convoys.md (0.1 MB)…"]
    assert edits[2:-1] == [f"Indexing convoys.md: {n:,} of 1,101 sentences embedded ({100 * n // 1101}%)…"
                           for n in (0, 512, 1024, 1101)] + ["Updating the keyword index…"]
    assert edits[-1] == status["_html"]  # in order, and no progress edit after the result
