"""Shared fixtures: no BRIEFBOT_* env leaks in, every test gets its own store, no network."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"

# CI replays the same examples every run (a red CI then means a regression, not a new draw);
# local and --slow runs keep exploring new inputs.
if os.environ.get("CI"):
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, database=None)
    _hypothesis_settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLES = ROOT / "samples"
ISW = SHARED / "corpus" / "isw-assessments"
SQUAD = SHARED / "eval" / "squad2-dev"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Clear BRIEFBOT_* variables and run from a temp dir so no .env is picked up."""
    for key in list(os.environ):
        if key.startswith("BRIEFBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="run the long versions of reliability tests")


@pytest.fixture
def slow(request: pytest.FixtureRequest) -> bool:
    """True under --slow (make test-long): tests scale their trials up."""
    return bool(request.config.getoption("--slow"))


def check_consistent(service) -> None:  # type: ignore[no-untyped-def]
    """Store invariants: one copy per report, no orphan vectors, keyword index agrees with Chroma."""
    store = service.store
    catalog = store.snapshot()
    visible = catalog.visible
    assert set(catalog.reports) == visible, "a committed report no source points at"
    chunk_ids, chunk_metas = _all_rows(store.chunks)
    by_report: dict[str, int] = {}
    for m in chunk_metas:
        by_report[m["report_id"]] = by_report.get(m["report_id"], 0) + 1
    assert set(by_report) == visible, "orphan or missing chunk vectors"
    for rid, n in by_report.items():
        assert n == catalog.reports[rid].chunks, f"report {rid} has {n} chunks, catalog says {catalog.reports[rid].chunks}"
    from index.store import SENTENCE_VECTORS, unpack_vectors

    for m in chunk_metas:
        vectors = unpack_vectors(m[SENTENCE_VECTORS], service.embedder.dim)
        assert len(vectors) == m["n_sent"] == len(json.loads(m["sents"])), "a chunk's sentence vectors are incomplete"
    assert store.legacy is None or not store.legacy.count(), "sentence vectors left in the old collection"
    texts = store.catalog.get(where={"kind": "text"}, include=["metadatas"])["metadatas"]
    assert sorted(m["report_id"] for m in texts) == sorted(visible), "orphan or missing report texts"
    keyword = service.searcher.keyword_index(catalog)
    assert sorted(keyword.ids) == sorted(chunk_ids), "keyword index disagrees with Chroma"


def _all_rows(collection, page: int = 10_000):  # type: ignore[no-untyped-def]
    """Every id and metadata of a collection, paged (one get of >32k rows hits SQLite's variable limit)."""
    ids, metas = [], []
    while True:
        got = collection.get(include=["metadatas"], limit=page, offset=len(ids))
        if not got["ids"]:
            return ids, metas
        ids += got["ids"]
        metas += got["metadatas"]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One real ``chroma run`` server for the session (CI starts it through this fixture too)."""
    from tests.chroma_server import ChromaServer

    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["embedded", "server"])
def any_service(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The same Briefbot API over an embedded store and over a real Chroma server."""
    import uuid

    from index import Briefbot, Settings

    if request.param == "embedded":
        return Briefbot(Settings(store=tmp_path / "store", model="hash", _env_file=None))  # type: ignore[call-arg]
    server = request.getfixturevalue("chroma_server")
    return Briefbot(Settings(  # type: ignore[call-arg]
        chroma_host="127.0.0.1", chroma_port=server.port, model="hash", _env_file=None,
        collection_prefix=f"t{uuid.uuid4().hex[:10]}", cache_dir=tmp_path / "cache",
    ))
