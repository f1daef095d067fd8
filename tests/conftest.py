"""Shared fixtures: no BRIEFBOT_* env leaks in, every test gets its own store, no network."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLES = ROOT / "samples"
ISW = SHARED / "corpus" / "isw-assessments"
SQUAD = SHARED / "eval" / "squad2-dev"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Clear BRIEFBOT_* variables and run from a temp dir so no .env is picked up."""
    for key in list(os.environ):
        if key.startswith("BRIEFBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings for a fresh embedded store in a temp dir, with the fast hash embedder."""
    from index import Settings

    return Settings(store=tmp_path / "store", model="hash", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def service(settings):  # type: ignore[no-untyped-def]
    """A Briefbot over a fresh embedded Chroma store and the deterministic hash embedder."""
    from index import Briefbot

    return Briefbot(settings)


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    """The real all-MiniLM-L6-v2, loaded once per test session."""
    from index.embed import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder()
    emb.embed(["warm up"])
    return emb


def need_shared(path: Path) -> Path:
    """Skip (visibly) when ../shared data is absent on this machine."""
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path
