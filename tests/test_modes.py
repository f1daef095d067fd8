"""The same store behaviour, embedded and against a real ``chroma run`` server."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import Briefbot, Settings, StoreUnavailable
from tests.conftest import SAMPLES, check_consistent
from tests.helpers import check_verbatim, write_md

BODY = "Russian forces shelled Kherson City on Monday. Ukrainian officials reported damage to the port."


def test_ingest_update_forget(any_service: Briefbot, tmp_path: Path) -> None:
    svc = any_service
    svc.ingest([str(SAMPLES)])
    doc = write_md(tmp_path / "k.md", BODY, title="Kherson", date="2022-12-01")
    svc.ingest([str(doc)])
    check_consistent(svc)
    write_md(doc, BODY.replace("Monday", "Tuesday"), title="Kherson", date="2022-12-02")
    assert svc.ingest([str(doc)]).count("updated") == 1
    check_consistent(svc)
    answer = svc.ask("shelled Kherson port damage")
    check_verbatim(svc, answer)
    assert "Tuesday" in answer.passages[0].text
    svc.forget(str(doc))
    check_consistent(svc)
    assert [r.title for r in svc.sources()] == [svc.sources()[0].title] and len(svc.sources()) == 1


def test_two_processes_answer_identically(chroma_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two services over one server, each with its own disk cache: same answers (scale-out)."""
    def make(cache: str) -> Briefbot:
        return Briefbot(Settings(chroma_host="127.0.0.1", chroma_port=chroma_server.port, model="hash",
                                 collection_prefix="twin", cache_dir=tmp_path / cache, _env_file=None))

    a, b = make("a"), make("b")
    a.ingest([str(SAMPLES)])
    q = "Xi praised Putin commitment UNSC"
    assert a.ask(q).to_json()["passages"] == b.ask(q).to_json()["passages"]
    write_md(tmp_path / "n.md", BODY, title="Kherson")
    b.ingest([str(tmp_path / "n.md")])
    q2 = "Kherson port damage"
    assert a.ask(q2).to_json()["passages"] == b.ask(q2).to_json()["passages"]
    assert a.ask(q2).passages[0].title == "Kherson"


@pytest.mark.server
def test_server_restart_is_survived(tmp_path: Path) -> None:
    from tests.chroma_server import ChromaServer

    server = ChromaServer(tmp_path / "data")
    server.start()
    try:
        svc = Briefbot(Settings(chroma_host="127.0.0.1", chroma_port=server.port, model="hash", _env_file=None,
                                cache_dir=tmp_path / "cache"))
        svc.ingest([str(SAMPLES)])
        assert svc.ask("Xi praised Putin").answered
        server.stop()
        with pytest.raises(StoreUnavailable):
            svc.ask("Xi praised Putin")
        server.start()
        assert svc.ask("Xi praised Putin").answered
    finally:
        server.stop()


def test_every_chunk_is_read_once_across_pages(any_service: Briefbot, tmp_path: Path) -> None:
    svc = any_service
    for n in range(4):
        write_md(tmp_path / f"r{n}.md", "\n\n".join(f"Report {n} paragraph {p}: {BODY}" for p in range(3)),
                 title=f"Report {n}")
    assert not svc.ingest([str(tmp_path / f"r{n}.md") for n in range(4)]).failed
    everything = svc.store.chunks.get(include=["documents"])
    want = dict(zip(everything["ids"], everything["documents"], strict=True))
    assert len(want) >= 4
    for page in (1, 3, len(want), len(want) + 5):
        rows = list(svc.store.iter_chunks(page, metadatas=False))
        assert [cid for cid, _, _ in rows] == everything["ids"]  # Chroma's own order: ties rank alike
        assert {cid: text for cid, text, _ in rows} == want
    assert all(int(meta["end"]) > int(meta["start"]) for _, _, meta in svc.store.iter_chunks(3))
