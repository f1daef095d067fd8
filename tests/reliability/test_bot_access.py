"""Access, beyond tests/bot: uploaded file names cannot escape anything, strangers and unknown chats can
use no command at all, and admin checks hold for anonymous admins, posts on behalf of channels,
forwarded commands and the Q&A channel itself."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from bot_harness import (
    ADMIN,
    CHANNEL,
    GROUP,
    QUESTION,
    SAMPLE,
    STRANGER,
    TOKEN,
    UNKNOWN_GROUP,
    USER,
    make_settings,
    running,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.admin import safe_name
from index import Briefbot
from tests.reliability.botkit import TelegramPathsAPI, replies_to

ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}
HOSTILE_NAMES = [
    "../../etc/passwd", "../../etc/passwd.md", "..\\..\\windows\\system32\\evil.txt", "/etc/cron.d/briefbot.md",
    "a/../../b.md", "....//....//x.txt", "..", ".", "...", " ../ .md", "x\x00.md", "\x1b[31mred.txt",
    "<b>bold</b>&amp;.md", "evil\u202etxt.md", "~/.ssh/authorized_keys", "C:\\boot.ini", "%2e%2e%2fetc%2fpasswd",
    "\u2025/\u2025/etc/passwd.md", "n" * 600 + ".md", "", "file\nname.md", ".hidden.md", "con.txt",
]


@pytest.fixture
async def fake() -> AsyncIterator[TelegramPathsAPI]:
    api = TelegramPathsAPI(TOKEN)
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
def svc(tmp_path: Path, fake: TelegramPathsAPI) -> Briefbot:
    service = Briefbot(make_settings(tmp_path / "store", fake, rate_limit=10_000))
    assert service.ingest([str(SAMPLE)]).line().startswith("1 new")
    return service


@pytest.fixture
async def bot(svc: Briefbot, fake: TelegramPathsAPI) -> AsyncIterator[Any]:
    async with running(svc.settings, svc) as app:
        yield app


def tree(root: Path, skip: Path) -> dict[str, float]:
    """Every file under ``root`` but outside ``skip``, with its modification time."""
    out = {}
    for dirpath, _, files in os.walk(root):
        if Path(dirpath).is_relative_to(skip):
            continue
        for f in files:
            out[os.path.join(dirpath, f)] = os.stat(os.path.join(dirpath, f)).st_mtime
    return out


def test_safe_name_is_one_harmless_label(slow: bool, figures: dict[str, Any]) -> None:
    tried = []

    @settings(max_examples=5000 if slow else 500, deadline=None, database=None)
    @given(st.one_of(st.text(), st.sampled_from(HOSTILE_NAMES),
                     st.lists(st.sampled_from(["..", ".", "/", "\\", "a", "\x00", " ", ".md", "\u202e"])).map("".join)))
    def check(name: str) -> None:
        tried.append(name)
        safe = safe_name(name)
        assert safe and len(safe) <= 120
        assert "/" not in safe and "\\" not in safe and safe not in (".", "..")
        assert not re.search(r"[\x00-\x1f\x7f]", safe)
        assert not safe.startswith((".", " ")) and not safe.endswith((".", " "))

    check()
    figures.update(names_tried=len(tried), unsafe=0)


async def test_uploaded_file_names_cannot_escape(tmp_path: Path, fake: TelegramPathsAPI, bot: Any, svc: Briefbot,
                                                 slow: bool, figures: dict[str, Any]) -> None:
    names = HOSTILE_NAMES + ([f"../{'x/' * n}../etc/f{n}.md" for n in range(40)] if slow else [])
    before = tree(tmp_path, svc.settings.store)
    passwd = os.stat("/etc/passwd").st_mtime
    chat = fake.private(ADMIN)
    for n, name in enumerate(names):
        body = f"# Upload {n}\n\nThe desk filed upload number {n} about the bridge repairs.\n".encode()
        fake.say(chat, None, document=fake.add_file(body, name, "text/markdown"), caption="/add")
        await fake.wait_for(lambda n=n: len([m for m in fake.sent(ADMIN) if " failed" in m["text"]]) == n + 1,
                            within=30)
    statuses = [m for m in fake.sent(ADMIN) if " failed" in m["text"]]
    for n, (name, status) in enumerate(zip(names, statuses, strict=True)):
        first = status["text"].split("\n")[0]
        if name.endswith(".ini"):  # boot.ini: refused for its type, under its safe name
            assert first == "✗ boot.ini: unsupported file type .ini (supported: pdf, txt, md, html, docx)", first
            continue
        assert first.startswith("✓ new: ") and f"Upload {n} " in first, (name, status["text"])
        assert "<" not in status["text"] or "&lt;" in status["_html"]  # names are escaped, never markup
    assert tree(tmp_path, svc.settings.store) == before, "a file appeared or changed outside the store"
    assert os.stat("/etc/passwd").st_mtime == passwd
    keys = [k for k in svc.store.snapshot().sources if k.startswith("telegram:")]
    assert len(keys) == len(names) - 1  # all but boot.ini
    for key in keys:
        _, label = key.split("/", 1)
        assert "/" not in label and "\\" not in label and label not in (".", "..") and len(label) <= 120, key
    downloads = [c.params["path"] for c in fake.calls_to("download")]
    assert len(downloads) == len(names) and all(re.fullmatch(r"documents/FILE\d+\.\w+", p) for p in downloads)
    figures.update(names_tried=len(names), stored_under_safe_labels=len(keys), refused_by_type=1, files_outside_store=0)


async def test_strangers_and_unknown_groups_can_use_no_command(fake: TelegramPathsAPI, bot: Any, svc: Briefbot,
                                                               figures: dict[str, Any]) -> None:
    [report] = svc.sources()
    url = fake.add_page("p.html", b"<html><body><p>The bridge was repaired in May by the army.</p></body></html>")
    stranger, user = fake.private(STRANGER, "Eve"), fake.user(STRANGER, "Eve")
    group = fake.group(UNKNOWN_GROUP)
    commands = [f"/forget {report.report_id}", "/stats", "/sources", "/help", "/start", f"/ask {QUESTION}",
                f"/add {url}", QUESTION]
    for text in commands:
        fake.say(stranger, text)
        fake.say(group, text, user=fake.user(USER))  # a known user, in a chat that is not allowed
    doc = fake.add_file(b"# Planted\n\nA planted report about the bridge.\n", "planted.md")
    fake.say(stranger, None, document=doc)  # a private document is an /add for admins
    fake.say(stranger, None, document=doc, caption="/add")
    fake.say(group, None, user=fake.user(USER), document=doc, caption="/add")
    await fake.drained(quiet=1.0)
    sent = fake.sent()
    assert [m["chat"]["id"] for m in sent] == [STRANGER]  # one short refusal, nothing more, nothing in the group
    assert "private briefing bot" in sent[0]["text"] and report.report_id not in sent[0]["text"]
    assert {c.params["chat_id"] for c in fake.calls_to("leaveChat")} == {UNKNOWN_GROUP}
    assert not fake.calls_to("getFile") and not fake.calls_to("sendChatAction")
    assert svc.sources() == [report] and svc.asked == 0  # nothing added, forgotten, or even searched
    assert user["id"] == STRANGER
    figures.update(commands_tried=2 * len(commands) + 3, served=0, refusals_sent=1, store_changes=0)


async def test_admin_checks_hold_in_groups_and_channels(fake: TelegramPathsAPI, bot: Any, svc: Briefbot,
                                                        figures: dict[str, Any]) -> None:
    [report] = svc.sources()
    url = fake.add_page("q.html", b"<html><body><p>The bridge was repaired in May by the army.</p></body></html>")
    group, channel = fake.group(GROUP), fake.channel(CHANNEL)
    doc = fake.add_file(b"# Planted\n\nA planted report about the bridge.\n", "planted.md")
    admin_doc = fake.say(group, None, user=fake.user(ADMIN), document=doc)  # shared, not added
    await fake.drained()
    tries = [
        dict(text=f"/forget {report.report_id}", user=fake.user(USER)),
        dict(text="/stats", user=fake.user(USER)),
        dict(text=f"/add {url}", user=fake.user(USER)),
        dict(text=None, user=fake.user(USER), document=doc, caption="/add"),
        dict(text="/add", user=fake.user(USER), reply_to=admin_doc),  # a non-admin replying /add to an admin's file
        dict(text=f"/forget {report.report_id}", user=ANONYMOUS_ADMIN, sender_chat=group),  # anonymous group admin
        dict(text=f"/forget {report.report_id}", user=CHANNEL_BOT, sender_chat=fake.channel(-100888, "Other")),
        dict(text=f"/forget {report.report_id}", user=fake.user(USER),  # an admin's command, forwarded by a user
             forward_origin={"type": "user", "date": 0, "sender_user": fake.user(ADMIN)}),
    ]
    asked = [fake.say(group, t.pop("text"), **t) for t in tries]
    for post in (f"/forget {report.report_id}", "/stats", f"/add {url}", f"/forget@briefbot_test_bot {report.report_id}"):
        fake.post(channel, post)  # channel posts have no user: never an admin
    await fake.wait_for(lambda: all(replies_to(fake, m) for m in asked), within=20)
    await fake.drained(quiet=1.0)
    for m in asked:
        [reply] = replies_to(fake, m)
        assert reply["text"] == "Only admins can do that.", (m.get("text"), reply["text"])
    assert fake.sent(CHANNEL) == []  # commands posted in the channel are not questions either
    assert not fake.calls_to("getFile") and svc.sources() == [report]
    fake.say(group, "/stats", user=fake.user(ADMIN))  # and the admin can
    await fake.wait_for(lambda: fake.sent(GROUP)[-1]["text"].startswith("1 report"))
    figures.update(attempts=len(tries) + 4, refused=len(tries), ignored_channel_posts=4, store_changes=0)
