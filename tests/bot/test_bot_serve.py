"""``briefbot serve`` as deployed: a separate process, long polling or a webhook, stopped by a signal."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
from bot_harness import ADMIN, QUESTION, QUOTE, SAMPLE, TOKEN, USER, listening, make_settings
from fake_bot_api import FakeBotAPI

from index import Briefbot


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serve(fake: FakeBotAPI, tmp_path: Path, **env: str) -> asyncio.subprocess.Process:
    """Start ``briefbot -v serve`` over a store holding the sample, configured only by environment."""
    store = tmp_path / "store"
    Briefbot(make_settings(store, fake)).ingest([str(SAMPLE)])
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFBOT_")}
    environ.update(BRIEFBOT_TELEGRAM_TOKEN=TOKEN, BRIEFBOT_TELEGRAM_API_URL=fake.url, BRIEFBOT_STORE=str(store),
                   BRIEFBOT_MODEL="hash", BRIEFBOT_ALLOWED_USERS=str(USER), BRIEFBOT_ADMINS=str(ADMIN), **env)
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "index.cli", "-v", "serve", env=environ,
                                                cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)


async def stop(proc: asyncio.subprocess.Process) -> str:
    """SIGINT, as Ctrl-C or a supervisor would; the process's stderr once it has exited cleanly."""
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    log = err.decode()
    assert proc.returncode == 0, log[-3000:]
    return log


def answered(fake: FakeBotAPI, question: dict[str, Any]) -> list[dict[str, Any]]:
    """Replies to ``question``."""
    return [m for m in fake.sent(question["chat"]["id"])
            if m.get("reply_to_message", {}).get("message_id") == question["message_id"]]


async def test_serve_long_polls_and_logs_without_the_token(fake: FakeBotAPI, tmp_path: Path) -> None:
    proc = await serve(fake, tmp_path)
    try:
        question = fake.say(fake.private(USER), QUESTION)
        [reply] = await fake.wait_for(lambda: answered(fake, question), within=60)
    finally:
        log = await stop(proc)
    assert QUOTE in reply["text"]
    commands = [c.params for c in fake.calls_to("setMyCommands")]
    assert [c["command"] for c in commands[0]["commands"]] == ["ask", "sources", "help", "start"]
    assert f"question chat={USER} user={USER} offset=0 answered=True" in log
    assert TOKEN.split(":")[1] not in log and "<redacted>" in log  # PTB logs its base URL at DEBUG


async def test_serve_webhook_mode_checks_the_secret(fake: FakeBotAPI, tmp_path: Path) -> None:
    port = free_port()
    proc = await serve(fake, tmp_path, BRIEFBOT_WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
                       BRIEFBOT_WEBHOOK_PORT=str(port), BRIEFBOT_WEBHOOK_SECRET="s3cret-Token_1")
    try:
        await fake.wait_for(lambda: fake.webhook, within=60)
        assert fake.webhook is not None and fake.webhook["secret_token"] == "s3cret-Token_1"
        # PTB calls setWebhook before its server listens (Telegram retries a refused delivery): wait for it.
        await listening(port, within=30)
        question = fake.say(fake.private(USER), QUESTION)
        [update] = fake.take_updates()
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{port}/hook"
            async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as resp:
                assert resp.status == 403
            async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}) as resp:
                assert resp.status == 200
        [reply] = await fake.wait_for(lambda: answered(fake, question), within=30)
        assert QUOTE in reply["text"]
    finally:
        log = await stop(proc)
    assert not fake.calls_to("getUpdates") and TOKEN.split(":")[1] not in log
