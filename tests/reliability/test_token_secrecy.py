"""The token never appears in a log line, an error or a crash report, beyond what tests/bot covers:
a handler that crashes with the token in its exception (and in the exception's cause and notes),
and ``briefbot serve`` dying of whatever a Bot API answers at start-up, traceback and all."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from bot_harness import QUESTION, SAMPLE, TOKEN, USER, make_settings, running
from fake_bot_api import FakeBotAPI

from index import Briefbot
from tests.reliability.botkit import replies_to

SECRET = TOKEN.split(":", 1)[1]


class LeakyService(Briefbot):
    """The real service, except that a question crashes with the token all over the exception."""

    def ask(self, *args: Any, **kwargs: Any) -> Any:
        try:
            raise ValueError(f"upstream rejected token {TOKEN}")
        except ValueError as cause:
            err = RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/sendMessage failed")
            err.add_note(f"secret was {SECRET}")
            raise err from cause


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    api = FakeBotAPI(TOKEN)
    await api.start()
    yield api
    await api.stop()


async def test_a_crashing_handler_logs_its_traceback_without_the_token(tmp_path: Path, fake: FakeBotAPI,
                                                                       caplog: pytest.LogCaptureFixture,
                                                                       figures: dict[str, Any]) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(tmp_path / "store", fake)
    Briefbot(settings).ingest([str(SAMPLE)])
    stream = io.StringIO()  # a deployment's own handler, formatting tracebacks itself
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        async with running(settings, LeakyService(settings)):
            asked = [fake.say(fake.private(USER), QUESTION) for _ in range(3)]
            await fake.wait_for(lambda: all(replies_to(fake, m) for m in asked))
    finally:
        logging.getLogger().removeHandler(handler)
    replies = [replies_to(fake, m)[0]["text"] for m in asked]
    assert all(r.startswith("Sorry, something went wrong on my side.") for r in replies)
    crashes = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert len(crashes) == 3  # the crash report (a traceback) was logged, once per question...
    output = stream.getvalue()
    assert "Traceback" in output and "<redacted>" in output  # ...with the token there to redact
    for text in (output, caplog.text, *replies, *(str(c.params) for c in fake.calls)):
        assert SECRET not in text
    figures.update(crashes_logged=len(crashes), token_found_in=0, replies_checked=len(replies))


async def start_api(answer: web.Response | None) -> tuple[web.AppRunner, int]:
    """A Bot API that answers every call with ``answer`` (None: drops the connection)."""
    async def handle(request: web.Request) -> web.StreamResponse:
        if answer is None:
            request.transport.abort()  # type: ignore[union-attr]
        return answer or web.Response()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


def echo(code: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": code, "description": description}, status=code)


STARTUPS = {
    "400 echoing the token": echo(400, f"Bad Request: invalid request /bot{TOKEN}/getMe"),
    "401 echoing the token": echo(401, f"Unauthorized: token {TOKEN} is revoked"),
    "403 echoing the token": echo(403, f"Forbidden: bot{TOKEN} was blocked"),
    "409 conflict": echo(409, f"Conflict: terminated by other getUpdates request; bot {TOKEN}"),
    "500 echoing the token": echo(500, f"Internal Server Error at /bot{TOKEN}/getMe"),
    "200 with garbage": web.Response(text=f"<html>proxy error for /bot{TOKEN}/getMe</html>", status=200),
    "200 with a wrong shape": web.json_response({"ok": True, "result": {"unexpected": TOKEN}}),
    "dropped connection": None,
}


CI_STARTUPS = ("403 echoing the token", "409 conflict", "200 with garbage")  # the three that leaked or could


@pytest.mark.parametrize("case", list(STARTUPS))
async def test_serve_crash_reports_never_show_the_token(tmp_path: Path, case: str, slow: bool,
                                                        figures: dict[str, Any]) -> None:
    if case not in CI_STARTUPS and not slow:  # each case starts a process (~3 s); 500s are retried for ~50 s
        pytest.skip("--slow only")
    runner, port = await start_api(STARTUPS[case])
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFBOT_")}
        env.update(BRIEFBOT_TELEGRAM_TOKEN=TOKEN, BRIEFBOT_TELEGRAM_API_URL=f"http://127.0.0.1:{port}",
                   BRIEFBOT_STORE=str(tmp_path / "store"), BRIEFBOT_MODEL="hash", BRIEFBOT_ALLOWED_USERS=str(USER),
                   PYTHONFAULTHANDLER="1")
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "index.cli", "-v", "serve", env=env,
                                                    cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 90)
        except TimeoutError:
            proc.kill()
            out, err = await proc.communicate()
    finally:
        await runner.cleanup()
    text = out.decode() + err.decode()
    assert proc.returncode != 0, text[-2000:]  # it did not start...
    assert SECRET not in text, text[-3000:]  # ...and its last words do not give the token away
    figures.update(case=case, exit_status=proc.returncode, output_chars=len(text), token_found=0)


def test_uncaught_crash_reports_are_scrubbed(tmp_path: Path, figures: dict[str, Any]) -> None:
    """Whatever escapes every handler (main thread or another) prints through hooks that redact."""
    script = tmp_path / "crash.py"
    script.write_text(
        "import threading\n"
        "from bot.net import protect_token\n"
        f"TOKEN = {TOKEN!r}\n"
        "protect_token(TOKEN)\n"
        "def worker():\n"
        "    raise RuntimeError(TOKEN)\n"
        "t = threading.Thread(target=worker)\n"
        "t.start()\n"
        "t.join()\n"
        "raise ValueError('cannot reach /bot' + TOKEN + '/getMe')\n")
    import subprocess

    run = subprocess.run([sys.executable, str(script)], cwd=Path(__file__).resolve().parents[2], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 1
    assert "ValueError: cannot reach /bot<redacted>/getMe" in run.stderr and "RuntimeError: <redacted>" in run.stderr
    assert SECRET not in run.stderr + run.stdout
    figures.update(crash_reports=2, token_found=0)
