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
