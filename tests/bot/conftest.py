"""Bot test fixtures: the fake Bot API server, settings pointing at it, a service, a running bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from bot_harness import SAMPLE, TOKEN, make_settings, running
from fake_bot_api import FakeBotAPI

from index import Briefbot, Settings


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    """A Bot API server on 127.0.0.1 and a free port."""
    api = FakeBotAPI(TOKEN)
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
def bot_settings(tmp_path: Path, fake: FakeBotAPI) -> Settings:
    """Settings for a bot on the fake server, with a fresh store and the hash embedder."""
    return make_settings(tmp_path / "store", fake)


@pytest.fixture
def svc(bot_settings: Settings) -> Briefbot:
    """The index service over a fresh store holding the sample report."""
    service = Briefbot(bot_settings)
    assert service.ingest([str(SAMPLE)]).line().startswith("1 new")
    return service


@pytest.fixture
async def bot(bot_settings: Settings, svc: Briefbot, fake: FakeBotAPI) -> AsyncIterator[Any]:
    """The real application, long polling the fake server."""
    async with running(bot_settings, svc) as app:
        yield app
