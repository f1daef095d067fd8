"""The issue's "done when", tried as a new user would, with the real all-MiniLM-L6-v2 model."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pytest
from bot_harness import (
    ADMIN,
    ARCTIC,
    ARCTIC_Q,
    ARCTIC_QUOTE,
    CHANNEL,
    GROUP,
    QUOTE,
    SAMPLE,
    STRANGER,
    USER,
    make_settings,
    pdf_bytes,
    running,
)
from fake_bot_api import FakeBotAPI

from index import Briefbot

pytestmark = pytest.mark.model


def replies(fake: FakeBotAPI, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Bot messages replying to ``message``."""
    return [m for m in fake.sent(message["chat"]["id"])
            if m.get("reply_to_message", {}).get("message_id") == message["message_id"]]


async def test_done_when(fake: FakeBotAPI, tmp_path: Path, real_embedder: Any) -> None:
    settings = make_settings(tmp_path / "store", fake, model=None)
    service = Briefbot(settings, embedder=real_embedder)
    assert service.ingest([str(SAMPLE)]).line().startswith("1 new")
    async with running(settings, service):
        # a private chat asking "What did Xi commit to?" gets the cited quote within one message
        asked = fake.say(fake.private(USER), "What did Xi commit to?")
        [reply] = await fake.wait_for(lambda: replies(fake, asked))
        assert QUOTE in reply["text"] and html.escape(QUOTE, quote=False) in reply["_html"]
        # a group ignores unaddressed chatter and answers when mentioned
        group, ann = fake.group(GROUP), fake.user(USER)
        fake.say(group, "What did Xi commit to? Anyone?", user=ann)
        await fake.drained()
        assert fake.sent(GROUP) == []
        mention = fake.say(group, "@briefbot_test_bot what did Xi commit to?", user=ann)
        [in_group] = await fake.wait_for(lambda: replies(fake, mention))
        assert QUOTE in in_group["text"]
        # a channel post gets a reply
        post = fake.post(fake.channel(CHANNEL), "What did Xi commit to?")
        [in_channel] = await fake.wait_for(lambda: replies(fake, post))
        assert QUOTE in in_channel["text"]
        # an admin adds a report by sending a PDF, and the next question cites it
        doc = fake.add_file(pdf_bytes(ARCTIC.split("\n\n")[1:]), "arctic-note.pdf", "application/pdf")
        fake.say(fake.private(ADMIN), None, document=doc)
        await fake.wait_for(lambda: any(m["text"].endswith("1 new, 0 updated, 0 unchanged, 0 failed")
                                        for m in fake.sent(ADMIN)), within=30)
        cited = fake.say(fake.private(USER), ARCTIC_Q)
        [arctic] = await fake.wait_for(lambda: replies(fake, cited))
        assert ARCTIC_QUOTE in arctic["text"]
        # and a stranger is turned away
        fake.say(fake.private(STRANGER), "What did Xi commit to?")
        [refusal] = await fake.wait_for(lambda: fake.sent(STRANGER))
        assert "private briefing bot" in refusal["text"] and QUOTE not in refusal["text"]
