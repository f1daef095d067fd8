"""Shared pieces of the bot tests: ids, settings, and the real application running against the fake server."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fake_bot_api import FakeBotAPI

from bot import Network, build_application
from bot.app import ALLOWED_UPDATES
from index import Briefbot, Settings

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "putin-xi-isw-news.txt"
TOKEN = "123456789:TEST-secret-token-AbCdEf0123456789"
ADMIN, USER, STRANGER = 1001, 1002, 1003
GROUP, UNKNOWN_GROUP, CHANNEL, UNKNOWN_CHANNEL = -100500, -100999, -100700, -100777
# Answered by the hash embedder over the sample; the quote of its first passage:
QUESTION = "What did Xi commit to in the UNSC?"
QUOTE = "Xi praised Putin, reaffirmed China’s commitment to Russia in the UNSC"
OFF_TOPIC = "What is the capital of Peru?"
ARCTIC = ("# Arctic budget note\n\nThe ministry allocated 42 billion rubles to the Arctic icebreaker fleet in "
          "2024. Analysts expect delays at the Baltic shipyard.\n")
ARCTIC_Q = "How much did the ministry allocate to the Arctic icebreaker fleet?"
ARCTIC_QUOTE = "The ministry allocated 42 billion rubles to the Arctic icebreaker fleet in 2024."


def pdf_bytes(paragraphs: list[str]) -> bytes:
    """A real PDF, made with reportlab."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    out = io.BytesIO()
    style = getSampleStyleSheet()["BodyText"]
    SimpleDocTemplate(out, pagesize=A4, title="Arctic budget note").build([Paragraph(p, style) for p in paragraphs])
    return out.getvalue()


# Short timeouts and backoff so injected faults cost milliseconds, not seconds. The read timeout leaves
# room for a busy machine: a sendMessage answered after it is not resent (bot/net.py), so a stall of
# the test process past it would lose a reply that no fault asked to lose.
FAST = Network(connect_timeout=1.0, read_timeout=2.0, write_timeout=2.0, pool_timeout=2.0, backoff=0.05,
               leave_grace=0.5)
LATE = FAST.read_timeout + 0.5  # a "slow" or "hang" fault answers this late: after the read timeout


def make_settings(store: Path, api: FakeBotAPI, **overrides: Any) -> Settings:
    """Settings for a bot on the fake server with the hash embedder and the test allow-lists."""
    values: dict[str, Any] = dict(
        store=store, model="hash", telegram_token=TOKEN, telegram_api_url=api.url, allowed_chats=[GROUP],
        allowed_users=[USER], admins=[ADMIN], qa_channels=[CHANNEL], allowed_url_hosts=["127.0.0.1"],
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def running(settings: Settings, service: Briefbot, network: Network = FAST) -> AsyncIterator[Any]:
    """The real Application, long polling the fake server, for the duration of the block."""
    app = build_application(settings, service, network=network)
    await app.initialize()
    if app.post_init:  # run_polling would call it; start() does not
        await app.post_init(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=ALLOWED_UPDATES)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def listening(port: int, within: float) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``: PTB calls setWebhook before its
    web server listens (Telegram retries a refused delivery; a test must wait instead)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)
        else:
            writer.close()
            await writer.wait_closed()
            return
