"""Scale-out: two ``briefbot serve`` processes in webhook mode over one real ``chroma run`` server.

Both answer the same question identically (nothing they need lives in one process's memory or
disk), and when the Chroma server stops and comes back, a bot tells users it can't search right
now, reconnects by itself, and answers again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from bot_harness import ADMIN, QUESTION, QUOTE, SAMPLE, TOKEN, USER, listening
from fake_bot_api import FakeBotAPI

from bot.render import STORE_DOWN
from index import Briefbot, Settings
from tests.chroma_server import ChromaServer, free_port

SECRET = "scale-out-Secret_1"
pytestmark = pytest.mark.server


def answered(fake: FakeBotAPI, question: dict[str, Any]) -> list[dict[str, Any]]:
    """Replies to ``question``."""
    return [m for m in fake.sent(question["chat"]["id"])
            if m.get("reply_to_message", {}).get("message_id") == question["message_id"]]


async def stop(proc: asyncio.subprocess.Process) -> str:
    """SIGINT, as a supervisor would; the process's stderr once it has exited cleanly."""
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-3000:]
    return err.decode()


async def start_bot(fake: FakeBotAPI, server: ChromaServer, cache: Path, port: int) -> asyncio.subprocess.Process:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFBOT_")}
    environ.update(BRIEFBOT_TELEGRAM_TOKEN=TOKEN, BRIEFBOT_TELEGRAM_API_URL=fake.url, BRIEFBOT_MODEL="hash",
                   BRIEFBOT_CHROMA_HOST="127.0.0.1", BRIEFBOT_CHROMA_PORT=str(server.port),
                   BRIEFBOT_CACHE_DIR=str(cache), BRIEFBOT_ALLOWED_USERS=str(USER), BRIEFBOT_ADMINS=str(ADMIN),
                   BRIEFBOT_WEBHOOK_URL=f"http://127.0.0.1:{port}/hook", BRIEFBOT_WEBHOOK_PORT=str(port),
                   BRIEFBOT_WEBHOOK_SECRET=SECRET)
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "index.cli", "-v", "serve", env=environ,
                                                cwd=cache.parent, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)


async def ask_via(fake: FakeBotAPI, port: int, text: str) -> dict[str, Any]:
    """Queue a question at the fake server, deliver it to one bot's webhook, return the reply."""
    question = fake.say(fake.private(USER), text)
    [update] = fake.take_updates()
    async with aiohttp.ClientSession() as http, http.post(
        f"http://127.0.0.1:{port}/hook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
    ) as resp:
        assert resp.status == 200
    [reply] = await fake.wait_for(lambda: answered(fake, question), within=60)
    return reply


async def test_two_webhook_bots_answer_alike_and_survive_a_chroma_restart(tmp_path: Path,
                                                                          figures: dict[str, Any]) -> None:
    fake = FakeBotAPI(TOKEN)
    await fake.start()
    server = ChromaServer(tmp_path / "chroma")
    server.start()
    procs: list[asyncio.subprocess.Process] = []
    try:
        Briefbot(Settings(chroma_host="127.0.0.1", chroma_port=server.port, model="hash",  # type: ignore[call-arg]
                          cache_dir=tmp_path / "ingest-cache", _env_file=None)).ingest([str(SAMPLE)])
        ports = [free_port(), free_port()]
        for n, port in enumerate(ports):
            (tmp_path / f"bot{n}").mkdir()
            procs.append(await start_bot(fake, server, tmp_path / f"bot{n}" / "cache", port))
        await fake.wait_for(lambda: len(fake.calls_to("setWebhook")) >= 2 or None, within=90)
        for port in ports:
            await listening(port, within=30)

        first, second = [await ask_via(fake, port, QUESTION) for port in ports]
        assert QUOTE in first["text"]
        assert (first["text"], first.get("reply_markup")) == (second["text"], second.get("reply_markup"))

        server.stop()
        down = [await ask_via(fake, port, QUESTION) for port in ports]
        assert all(r["text"] == STORE_DOWN for r in down)

        server.start()  # same port and data
        again = [await ask_via(fake, port, QUESTION) for port in ports]
        assert all(r["text"] == first["text"] for r in again)
    finally:
        logs = [await stop(p) for p in procs]
        server.stop()
        await fake.stop()
    assert all(TOKEN.split(":")[1] not in log for log in logs)
    figures.update(bots=2, identical_answers=2, store_down_replies=len(down), answers_after_restart=len(again))
