"""Bot latency, cold start and memory: ``briefbot serve`` as deployed, against a Bot API server on 127.0.0.1.

The server is the test suite's fake (``tests/bot/fake_bot_api.py``): the real python-telegram-bot in
a separate ``python -m index.cli serve`` process long-polls it over HTTP. Latency is measured at the
server: from the moment an update is queued there to the moment the bot's ``sendMessage`` for that
chat arrives. Cold start: process start to the first ``getUpdates``.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .common import ROOT, latency_summary, peak_rss_mb

TOKEN = "123456789:BENCH-token-AbCdEf0123456789"
CHATS = 20
PER_CHAT = 10
# Telegram's flood limit, which PTB's AIORateLimiter (the bot's) keeps to: messages a second, all chats.
FLOOD_LIMIT = 30


def _fake_api() -> Any:
    sys.path.insert(0, str(ROOT / "tests" / "bot"))
    from fake_bot_api import FakeBotAPI

    return FakeBotAPI(TOKEN)


def _env(fake: Any, store: Path, users: Sequence[int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFBOT_")}
    env.update(BRIEFBOT_TELEGRAM_TOKEN=TOKEN, BRIEFBOT_TELEGRAM_API_URL=fake.url, BRIEFBOT_STORE=str(store),
               BRIEFBOT_ALLOWED_USERS=",".join(map(str, users)), BRIEFBOT_RATE_LIMIT="1000",
               BRIEFBOT_QUESTION_CACHE="0",  # every question pays for its embedding, in both rounds
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False")
    return env


async def _first_start(store: Path, work: Path, log: Callable[[str], None]) -> float:
    """Process start to first getUpdates on a machine that has no export of the question model yet."""
    fake = _fake_api()
    await fake.start()
    models = work / "first-start-models"
    shutil.rmtree(models, ignore_errors=True)
    env = _env(fake, store, [5001])
    env["BRIEFBOT_MODEL_CACHE"] = str(models)
    cwd = work / "bot-first-start"
    cwd.mkdir(exist_ok=True)
    t0 = time.monotonic()
    with open(work / "bot-first-start.log", "w") as errlog:  # noqa: ASYNC230 (once, before the bot starts)
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "index.cli", "serve", env=env, cwd=cwd,
                                                    stdout=errlog, stderr=errlog)
        try:
            await fake.wait_for(lambda: fake.calls_to("getUpdates"), within=300)
            took = float(fake.calls_to("getUpdates")[0].at - t0)
        finally:
            await _stop(proc)
            await fake.stop()
            shutil.rmtree(models, ignore_errors=True)
    log(f"bot: first start on a machine (exports the question model): {took:.1f} s to the first getUpdates")
    return took


async def _stop(proc: Any) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _session(store: Path, work: Path, questions: Sequence[str], *, chats: int, per_chat: int,
                   think: float, log: Callable[[str], None], tag: str) -> dict[str, Any]:
    fake = _fake_api()
    await fake.start()
    users = [5001 + i for i in range(chats)]
    env = _env(fake, store, users)
    cwd = work / f"bot-{tag}"
    cwd.mkdir(exist_ok=True)  # an empty directory: no stray .env is read
    errlog = open(work / f"bot-{tag}.log", "w")  # noqa: SIM115, ASYNC230 (once, before the bot starts)
    t0 = time.monotonic()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "index.cli", "serve", env=env, cwd=cwd,
                                                stdout=errlog, stderr=errlog)
    out: dict[str, Any] = {}
    try:
        await fake.wait_for(lambda: fake.calls_to("getUpdates"), within=120)
        out["cold_start_s"] = fake.calls_to("getUpdates")[0].at - t0
        log(f"bot ({tag}): first getUpdates {out['cold_start_s']:.1f} s after process start")
        # One question first: it also pays for building (or loading) the keyword index.
        warm = await _drive(fake, users[:1], questions, 1, 0.0)
        out["first_reply_ms"] = warm[0]
        out["first_reply_after_start_s"] = time.monotonic() - t0
        for think_time, key in ((0.0, "closed"), (think, "think")):
            if key == "think" and think <= 0:
                continue
            began = time.monotonic()
            lat = await _drive(fake, users, questions, per_chat, think_time)
            out[key] = latency_summary(lat)
            out[key]["replies_per_s"] = len(lat) / (time.monotonic() - began)
            log(f"bot ({tag}, {key}): p50 {out[key]['p50']:.0f} ms, p95 {out[key]['p95']:.0f} ms over {len(lat)}")
        out["peak_rss_mb"] = peak_rss_mb(proc.pid)
    finally:
        await _stop(proc)
        errlog.close()
        await fake.stop()
    return out


async def _drive(fake: Any, users: Sequence[int], questions: Sequence[str], per_chat: int, think: float,
                 ) -> list[float]:
    """Each chat asks ``per_chat`` questions, the next one when the reply to the last has arrived.

    Replies are picked up as the server answers them (a watcher on its calls), not by polling its call
    list: 20 pollers scanning it would take CPU from the bot on the same two cores."""
    rng = random.Random(5)
    latencies: list[float] = []
    waiting: dict[int, asyncio.Future[Any]] = {}

    def watch(call: Any) -> None:
        future = waiting.get(call.params.get("chat_id"))
        if call.method == "sendMessage" and call.outcome == "ok" and future is not None and not future.done():
            future.set_result(call)

    async def chat(n: int, uid: int) -> None:
        room = fake.private(uid)
        for i in range(per_chat):
            if think:
                await asyncio.sleep(rng.uniform(0, 2 * think))
            q = questions[(n * per_chat + i) % len(questions)]
            waiting[uid] = asyncio.get_running_loop().create_future()
            t = time.monotonic()
            fake.say(room, q)
            call = await asyncio.wait_for(waiting[uid], 120)
            latencies.append((call.at - t) * 1000)

    fake.watchers.append(watch)
    try:
        await asyncio.gather(*(chat(n, uid) for n, uid in enumerate(users)))
    finally:
        fake.watchers.remove(watch)
    return latencies


def run(work: Path, store: Path, questions: Sequence[str], log: Callable[[str], None], *,
        big_store: Path | None = None, quick: bool = False) -> dict[str, Any]:
    """Cold start, latency over 200 questions from 20 concurrent chats, and peak RSS (ISW; 100k if given)."""
    try:
        import bot.app  # noqa: F401

        _fake_api()
    except Exception as exc:  # the bot or its test server is not usable (yet)
        log(f"bot: not measured ({type(exc).__name__}: {exc})")
        return {"reason": f"the bot or the test Bot API server is not importable ({type(exc).__name__}: {exc})"}
    per_chat = 3 if quick else PER_CHAT
    got = asyncio.run(_session(store, work, questions, chats=CHATS, per_chat=per_chat, think=1.0, log=log,
                               tag="isw"))
    out: dict[str, Any] = {"chats": CHATS, "n": CHATS * per_chat, "flood_limit": FLOOD_LIMIT, **got}
    out["first_start_s"] = asyncio.run(_first_start(store, work, log))
    out["p50_ms"], out["p95_ms"] = got["closed"]["p50"], got["closed"]["p95"]
    if big_store is not None:
        big = asyncio.run(_session(big_store, work, questions, chats=CHATS, per_chat=1, think=0.0, log=log,
                                   tag="100k"))
        out["big"] = big
    return out
