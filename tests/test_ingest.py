"""Ingest: formats, metadata, idempotency, updates, duplicates, forget and bad input."""

from __future__ import annotations

import io
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index import Briefbot, Filters, IngestProgress, LoadError, NotFound
from index.load import load_bytes
from index.progress import EMBED_STEP
from index.search import CACHE_VERSION
from tests.conftest import SAMPLES, check_consistent
from tests.helpers import check_verbatim, write_docx, write_md, write_pdf

GOOD = (
    "The ministry announced a new grain corridor through the Black Sea on Tuesday. "
    "Officials said the first convoy of twelve ships would leave Odesa within a week. "
    "Insurance rates for the route fell sharply after the announcement."
)


def test_sample_ingests_and_answers(service: Briefbot) -> None:
    summary = service.ingest([str(SAMPLES)])
    assert summary.line() == "1 new, 0 updated, 0 unchanged, 0 failed"
    (report,) = service.sources()
    assert report.title.startswith("ISW: Putin doesn’t secure")
    answer = service.ask("Xi praised Putin reaffirmed commitment UNSC")
    assert answer.answered
    check_verbatim(service, answer)
    assert "Xi praised Putin" in answer.passages[0].quote


def test_page_debris_is_never_stored(service: Briefbot) -> None:
    service.ingest([str(SAMPLES)])
    rid = service.sources()[0].report_id
    text = service.store.canonical_text(rid) or ""
    assert "back to top" not in text.lower()
    assert "more in section" not in text.lower()


def test_store_of_an_older_layout_is_read_and_upgraded(service: Briefbot, tmp_path: Path) -> None:
    # Older versions kept a report's text as the document of its report record.
    service.ingest([str(SAMPLES)])
    rid = service.sources()[0].report_id
    text = service.store.canonical_text(rid)
    cat = service.store.catalog
    meta = cat.get(ids=[f"report:{rid}"], include=["metadatas"])["metadatas"][0]
    cat.upsert(ids=[f"report:{rid}"], embeddings=[[1.0]], metadatas=[meta], documents=[text])
    cat.delete(ids=[f"text:{rid}"])
    assert service.store.canonical_text(rid) == text
    assert "Xi praised Putin" in service.ask("What did Xi commit to?").passages[0].quote

    service.ingest([str(write_md(tmp_path / "a.md", GOOD, title="Grain"))])  # an ingest upgrades the store
    assert cat.get(ids=[f"report:{rid}"], include=["documents"])["documents"] == [""]
    assert cat.get(ids=[f"text:{rid}"], include=["documents"])["documents"] == [text]
    assert service.store.canonical_text(rid) == text
    check_consistent(service)
    assert service.store.upgrade() == 0


def test_catalog_is_read_in_pages(service: Briefbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(5):
        write_md(tmp_path / f"r{n}.md", f"Report number {n} says the convoy had {n + 3} ships.", title=f"R{n}")
    service.ingest([str(tmp_path)])
    whole = service.store.snapshot()
    monkeypatch.setattr("index.store.CATALOG_PAGE", 2)
    service.store._snapshot = None
    paged = service.store.snapshot()
    assert paged.reports == whole.reports and paged.sources == whole.sources and len(paged.reports) == 5


def test_reingest_unchanged_is_a_noop(service: Briefbot, tmp_path: Path) -> None:
    src = write_md(tmp_path / "a.md", GOOD, title="Grain", date="2023-05-01")
    first = service.ingest([str(src)])
    counts = service.store.counts()
    gen = service.store.generation()
    again = service.ingest([str(src)])
    assert first.count("new") == 1
    assert again.count("unchanged") == 1 and again.count("new") == 0
    assert service.store.counts() == counts
    assert service.store.generation() == gen  # nothing was written


def test_writes_leave_the_keyword_index_ready_for_the_next_question(service: Briefbot, tmp_path: Path) -> None:
    # The writer rebuilds the keyword index and caches it, so neither this process's next question
    # nor a process started later (it loads the cache) pays for the rebuild.
    cache = service.searcher.cache_dir
    for write in (lambda: service.ingest([str(write_md(tmp_path / "a.md", GOOD, title="Grain"))]),
                  lambda: service.ingest_bytes(b"Wheat prices in Egypt rose in March after the harvest failed.",
                                               "b.txt", "upload:b"),
                  lambda: service.forget(str(tmp_path / "a.md"))):
        write()
        gen = service.store.generation()
        assert service.searcher._keyword is not None and service.searcher._keyword[0] == gen
        assert [p.name for p in cache.glob("gen-*")] == [f"gen-{gen}-v{CACHE_VERSION}"]
    again = service.ingest_bytes(b"Wheat prices in Egypt rose in March after the harvest failed.", "b.txt", "upload:b")
    assert again.status == "unchanged" and service.store.generation() == gen


def test_changed_file_replaces_old_version(service: Briefbot, tmp_path: Path) -> None:
    src = write_md(tmp_path / "a.md", GOOD, title="Grain", date="2023-05-01")
    service.ingest([str(src)])
    old_id = service.sources()[0].report_id
    write_md(src, GOOD.replace("twelve", "twenty"), title="Grain", date="2023-05-02")
    summary = service.ingest([str(src)])
    assert summary.count("updated") == 1
    (report,) = service.sources()
    assert report.report_id != old_id and report.date == "2023-05-02"
    # No orphans anywhere: vectors, catalog, keyword index.
    assert service.store.canonical_text(old_id) is None
    assert not service.store.chunks.get(where={"report_id": old_id})["ids"]
    catalog = service.store.snapshot()
    keyword = service.searcher.keyword_index(catalog)
    assert all(not cid.startswith(old_id) for cid in keyword.ids)
    answer = service.ask("how many ships in the first convoy")
    assert all(p.report_id == report.report_id for p in answer.passages)
    assert "twenty" in answer.passages[0].text


def test_corrected_front_matter_lands(service: Briefbot, tmp_path: Path) -> None:
    src = write_md(tmp_path / "a.md", GOOD, title="Typo", date="2032-05-01")
    service.ingest([str(src)])
    (before,) = service.sources()
    write_md(src, GOOD, title="Grain", date="2023-05-01", url="https://example.org/grain")  # the same text
    summary = service.ingest([str(src)])
    assert [i.status for i in summary.items] == ["updated"] and summary.items[0].title == "Grain"
    (after,) = service.sources()
    assert (after.report_id, after.title, after.date, after.url) == (
        before.report_id, "Grain", "2023-05-01", "https://example.org/grain")
    chunk_dates = {m["date"] for m in service.store.chunks.get(where={"report_id": after.report_id},
                                                               include=["metadatas"])["metadatas"]}
    assert chunk_dates == {20230501}  # what Chroma's date filter reads
    assert service.ingest([str(src)]).line() == "0 new, 0 updated, 1 unchanged, 0 failed"
    dated = service.ask("how many ships in the first convoy", filters=Filters(since="2023-04-01", until="2023-06-01"))
    assert dated.answered and dated.passages[0].url == "https://example.org/grain"
    check_consistent(service)


def test_same_content_two_paths_stored_once(service: Briefbot, tmp_path: Path) -> None:
    a = write_md(tmp_path / "a.md", GOOD, title="Grain")
    b = tmp_path / "copy" / "b.md"
    b.parent.mkdir()
    shutil.copy(a, b)
    summary = service.ingest([str(a), str(b)])
    assert summary.count("new") == 1 and summary.count("duplicate") == 1
    assert len(service.sources()) == 1
    chunks, _ = service.store.counts()
    assert chunks == service.sources()[0].chunks
    # Forgetting by one path keeps nothing behind; the report goes with all its sources.
    service.forget(str(a))
    assert service.sources() == []
    assert service.store.counts() == (0, 0)


def test_forget_by_id_removes_everywhere(service: Briefbot, tmp_path: Path) -> None:
    write_md(tmp_path / "a.md", GOOD, title="Grain")
    write_md(tmp_path / "b.md", "A different report about wheat prices in Egypt rising in March.", title="Wheat")
    service.ingest([str(tmp_path)])
    grain = next(r for r in service.sources() if r.title == "Grain")
    service.forget(grain.report_id)
    assert [r.title for r in service.sources()] == ["Wheat"]
    assert not service.store.chunks.get(where={"report_id": grain.report_id})["ids"]
    keyword = service.searcher.keyword_index(service.store.snapshot())
    assert all(not cid.startswith(grain.report_id) for cid in keyword.ids)
    with pytest.raises(NotFound):
        service.forget(grain.report_id)


def test_bad_inputs_fail_alone(service: Briefbot, tmp_path: Path) -> None:
    (tmp_path / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage \x00\x01")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text("   \n\n  \n")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 50)
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    write_md(tmp_path / "good.md", GOOD, title="Grain")
    summary = service.ingest([str(tmp_path), str(tmp_path / "missing.pdf")])
    failed = {Path(i.source).name: i.reason for i in summary.items if i.status == "failed"}
    assert set(failed) == {"corrupt.pdf", "empty.txt", "blank.md", "binary.txt", "broken.docx", "missing.pdf"}
    for reason in failed.values():
        assert reason and "\n" not in reason and len(reason) < 300
    assert [r.title for r in service.sources()] == ["Grain"]
    assert summary.failed


def test_oversize_file_is_refused(service: Briefbot, tmp_path: Path) -> None:
    service.settings.max_file_mb = 0.001
    big = tmp_path / "big.txt"
    big.write_text("word " * 1000)
    (item,) = service.ingest([str(big)]).items
    assert item.status == "failed" and "limit" in (item.reason or "")


def test_markdown_front_matter(tmp_path: Path) -> None:
    doc = load_bytes(
        b"---\ntitle: T\npublisher: ISW\ndate: 2023-03-21\nurl: https://example.org/r\n---\n# T\n\nBody **bold** [link](https://x.y).\n",
        "r.md",
    )
    assert (doc.title, doc.publisher, doc.date, doc.url) == ("T", "ISW", "2023-03-21", "https://example.org/r")
    assert doc.text == "T\n\nBody bold link."


def test_html_metadata_and_main_text() -> None:
    html = (
        "<html><head><title>Site | Xi in Moscow</title><link rel='canonical' href='https://example.org/xi'>"
        "<meta property='article:published_time' content='2023-03-22'></head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav><article><h1>Xi in Moscow</h1>"
        + "".join(f"<p>{GOOD} Paragraph {n}.</p>" for n in range(4))
        + "</article><footer>Back to top</footer></body></html>"
    )
    doc = load_bytes(html.encode(), "page.html")
    assert doc.url == "https://example.org/xi"
    assert doc.date == "2023-03-22"
    assert "Xi in Moscow" in doc.title
    assert "grain corridor" in doc.text and "Back to top" not in doc.text


def test_pdf_pages_are_cited(service: Briefbot, tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "r.pdf", ["Introduction to the assessment of the front line. " * 3, GOOD])
    service.ingest([str(pdf)])
    (report,) = service.sources()
    assert report.title == "A PDF report"
    answer = service.ask("grain corridor convoy Odesa ships")
    check_verbatim(service, answer)
    assert answer.passages[0].page == 2


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_encrypted_pdfs_open_unless_they_need_a_password(tmp_path: Path, algorithm: str) -> None:
    import pypdf

    plain = write_pdf(tmp_path / "plain.pdf", [GOOD, "Second page of the report."])
    for user_password in ("", "secret"):  # permissions only, as official PDFs often are; or locked to open
        writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(str(plain)))
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
        out = io.BytesIO()
        writer.write(out)
        if not user_password:
            assert load_bytes(out.getvalue(), "protected.pdf").text.startswith(GOOD[:40])
        else:
            with pytest.raises(LoadError, match=r"^locked.pdf: the PDF is locked with a password; load a copy"):
                load_bytes(out.getvalue(), "locked.pdf")


def test_the_content_says_what_a_file_is_not_its_name(service: Briefbot, tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "a.pdf", [GOOD, "A second page."])
    docx = write_docx(tmp_path / "b.docx", ["Heading", GOOD])
    misnamed = [pdf.rename(tmp_path / "export.txt"), docx.rename(tmp_path / "notes.md")]
    assert [i.status for i in service.ingest([str(p) for p in misnamed]).items] == ["new", "new"]
    assert load_bytes(misnamed[0].read_bytes(), str(misnamed[0])).pages  # read as a PDF: it has pages
    (tmp_path / "fake.docx").write_bytes(b"PK\x03\x04" + bytes(200))  # a zip's magic, no Word document in it
    [item] = service.ingest([str(tmp_path / "fake.docx")]).items
    assert item.status == "failed" and "corrupt or unreadable .docx" in (item.reason or "")


def test_docx(service: Briefbot, tmp_path: Path) -> None:
    path = write_docx(tmp_path / "r.docx", ["Heading", GOOD, "Another paragraph about the harvest in 2023."])
    summary = service.ingest([str(path)])
    assert summary.count("new") == 1
    assert service.sources()[0].title == "A Word report"


def test_text_date_from_file_name(tmp_path: Path) -> None:
    doc = load_bytes(GOOD.encode(), str(tmp_path / "brief-2022-11-09.txt"))
    assert doc.date == "2022-11-09"


@pytest.mark.parametrize(("value", "day"), [
    ("21.03.2023", "2023-03-21"), ("3.4.2023", "2023-04-03"), ("21/03/2023", "2023-03-21"),
    ("03/21/2023", "2023-03-21"), ("03/04/2023", None), ("31.02.2023", None), ("2023-03-21", "2023-03-21"),
    ("March 21, 2023", "2023-03-21"), ("21 March 2023", "2023-03-21"), ("sometime in spring", None),
])
def test_front_matter_dates(value: str, day: str | None) -> None:
    doc = load_bytes(f"---\ntitle: T\ndate: {value}\n---\n\n{GOOD}\n".encode(), "r.md")
    assert doc.date == day


def test_a_text_is_dated_by_its_dateline_not_by_a_date_in_its_prose() -> None:
    prose = "On February 24, 2022, Russia launched its full-scale invasion of Ukraine from three directions."
    assert load_bytes(f"{prose}\n\n{GOOD}\n".encode(), "background.txt").date is None
    dated = load_bytes(f"Weekly brief\n\nKyiv, March 3, 2023\n\n{prose}\n".encode(), "brief.txt")
    assert dated.date == "2023-03-03"


def test_a_docx_is_not_dated_by_the_python_docx_template(tmp_path: Path) -> None:
    import docx

    plain = write_docx(tmp_path / "generated.docx", ["Heading", GOOD])
    assert load_bytes(plain.read_bytes(), "generated.docx").date is None  # python-docx's template: 2013-12-23
    assert load_bytes(plain.read_bytes(), "brief-2023-05-02.docx").date == "2023-05-02"
    document = docx.Document(str(plain))
    document.core_properties.created = datetime(2023, 3, 21, 9, 30, tzinfo=UTC)
    document.save(str(plain))
    assert load_bytes(plain.read_bytes(), "saved.docx").date == "2023-03-21"


@pytest.mark.parametrize("junk", ["Microsoft Word - draft3.docx", "Untitled-1", "Document1", "brief_final.pdf",
                                  r"C:\Users\analyst\Desktop\brief.doc", "PowerPoint Presentation", "-"])
def test_a_title_no_one_chose_gives_way_to_the_first_line(tmp_path: Path, junk: str) -> None:
    path = write_pdf(tmp_path / "r.pdf", [f"Grain corridor outlook {GOOD}"], title=junk)
    text = "Grain corridor outlook\n\n" + GOOD
    assert load_bytes(path.read_bytes(), "r.pdf").title == "r"  # the page's first line is a sentence: the file name
    assert load_bytes(f"<html><head><title>{junk}</title></head><body><p>{text}</p></body></html>".encode(),
                      "page.html").title != junk
    md = load_bytes(f"---\ntitle: {json.dumps(junk)}\n---\n\n{text}\n".encode(), "note.md")
    assert md.title == "Grain corridor outlook"
    assert load_bytes(write_pdf(tmp_path / "k.pdf", [GOOD], title="Kherson after the dam").read_bytes(),
                      "k.pdf").title == "Kherson after the dam"


@pytest.mark.parametrize("banner", [
    "We use cookies to improve your experience on our website. By continuing to browse, you agree to our use of cookies.",
    "This website uses cookies to personalise content and ads and to analyse our traffic. Accept all cookies",
    "Manage your cookie preferences",
])
def test_cookie_banners_inside_the_article_are_not_text(banner: str) -> None:
    html = f"<html><body><article><h1>Grain</h1><p>{GOOD}</p><p>{banner}</p><p>{GOOD} Again.</p></article></body></html>"
    doc = load_bytes(html.encode(), "page.html")
    assert "cookie" not in doc.text.lower() and GOOD in doc.text
    essay = ("Regulators in the EU argue that sites which use cookies to track visitors must ask first; the court "
             "agreed in 2019, and the ruling reshaped how publishers earn money from advertising.")
    assert essay in load_bytes(f"{essay}\n\n{GOOD}\n".encode(), "essay.txt").text  # about cookies, to no visitor


def test_typeset_ligatures_are_stored_as_letters() -> None:
    doc = load_bytes("The ofﬁcial ﬁgures show ﬂows of ﬀ and ﬃ.\n".encode(), "ligatures.txt")
    assert "The official figures show flows of ff and ffi." in doc.text


def test_undecodable_bytes_are_refused() -> None:
    with pytest.raises(LoadError, match="binary|undecodable"):
        load_bytes(b"\x00\xff\xfe\x00" * 500, "x.txt")


@pytest.mark.parametrize("group", [1, 10_000])
def test_batched_encoding_keeps_input_order_and_every_report(service: Briefbot, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch, group: int) -> None:
    """Reports are embedded in groups; items still come back in input order, each report whole."""
    import index.ingest

    monkeypatch.setattr(index.ingest, "ENCODE_GROUP", group)
    paths = []
    for n in range(6):
        if n == 3:
            bad = tmp_path / "d3-bad.pdf"
            bad.write_bytes(b"%PDF-1.4 broken")
            paths.append(bad)
        else:
            paths.append(write_md(tmp_path / f"d{n}.md", GOOD.replace("grain", f"grain lot {n}"), title=f"Lot {n}"))
    summary = service.ingest([str(p) for p in paths])
    assert [Path(i.source).name for i in summary.items] == [p.name for p in paths]
    assert [i.status for i in summary.items] == ["new", "new", "new", "failed", "new", "new"]
    check_consistent(service)
    assert {r.title for r in service.sources()} == {f"Lot {n}" for n in range(6) if n != 3}


@pytest.mark.parametrize(("group", "reports"), [(1, 256), (10_000, 256), (10_000, 2)])
def test_a_group_committed_together_keeps_every_status(service: Briefbot, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, group: int, reports: int) -> None:
    """Updates, copies and a path named twice come out the same whether reports are committed one
    by one, in one write, or in writes of two: the old version goes, a copy is stored once."""
    import index.ingest

    monkeypatch.setattr(index.ingest, "ENCODE_GROUP", group)
    monkeypatch.setattr(index.ingest, "COMMIT_GROUP", reports)
    changed = write_md(tmp_path / "changed.md", GOOD, title="Grain", date="2023-05-01")
    kept = write_md(tmp_path / "kept.md", GOOD.replace("grain", "rice"), title="Rice")
    service.ingest([str(changed), str(kept)])
    old_id = next(r.report_id for r in service.sources() if r.title == "Grain")
    write_md(changed, GOOD.replace("twelve", "twenty"), title="Grain", date="2023-05-02")
    new = write_md(tmp_path / "new.md", GOOD.replace("grain", "wheat"), title="Wheat")
    copy = tmp_path / "copy" / "new.md"
    copy.parent.mkdir()
    shutil.copy(new, copy)
    summary = service.ingest([str(changed), str(new), str(copy), str(new), str(kept)])
    assert [i.status for i in summary.items] == ["updated", "new", "duplicate", "unchanged", "unchanged"]
    check_consistent(service)
    assert sorted(r.title for r in service.sources()) == ["Grain", "Rice", "Wheat"]
    assert service.store.canonical_text(old_id) is None
    grain = next(r.report_id for r in service.sources() if r.title == "Grain")
    assert "twenty ships" in (service.store.canonical_text(grain) or "")


def _to_legacy_layout(service: Briefbot, *, drop_spans: bool = False) -> None:
    """Rewrite a store the way versions before sentence vectors moved into chunk metadata wrote it."""
    from index.store import SENTENCE_VECTORS, unpack_vectors

    store = service.store
    legacy = store.client.create_collection("briefbot_sentences", configuration={"hnsw": {"space": "cosine"}},
                                            embedding_function=None)
    got = store.chunks.get(include=["metadatas", "documents", "embeddings"])
    store.chunks.delete(ids=got["ids"])  # (upsert would merge the old metadata with the new)
    for cid, meta, doc, emb in zip(got["ids"], got["metadatas"], got["documents"], got["embeddings"], strict=True):
        vectors = unpack_vectors(meta[SENTENCE_VECTORS], service.embedder.dim)
        spans = json.loads(meta["sents"])
        legacy.add(ids=[f"{cid}:{n}" for n in range(len(spans))], embeddings=vectors,
                   metadatas=[{"report_id": meta["report_id"], "seq": meta["seq"], "n": n, "start": s, "end": e}
                              for n, (s, e) in enumerate(spans)])
        old = {k: v for k, v in meta.items() if k != SENTENCE_VECTORS and not (drop_spans and k == "sents")}
        store.chunks.add(ids=[cid], metadatas=[old], documents=[doc], embeddings=[emb])
    assert SENTENCE_VECTORS not in store.chunks.get(include=["metadatas"])["metadatas"][0]
    reports = store.catalog.get(where={"kind": "report"})["ids"]
    store.catalog.update(ids=reports, metadatas=[{"sentences": 0}] * len(reports))  # not counted back then


@pytest.mark.parametrize("drop_spans", [False, True])
def test_a_store_with_the_old_sentence_collection_serves_and_upgrades(settings: Any, tmp_path: Path,
                                                                     drop_spans: bool) -> None:
    from index import Briefbot

    docs = tmp_path / "docs"
    docs.mkdir()
    write_md(docs / "a.md", GOOD, title="Grain", date="2023-05-01")
    write_md(docs / "b.md", "Wagner fighters advanced in Bakhmut. Prigozhin blamed the ministry for shell shortages.",
             title="Bakhmut", date="2023-05-02")
    first = Briefbot(settings)
    assert not first.ingest([str(docs)]).failed
    question = "how many ships left Odesa in the first convoy"
    before = [(p.chunk_id, p.quote) for p in first.ask(question, k=3).passages]
    _to_legacy_layout(first, drop_spans=drop_spans)
    del first

    old = Briefbot(settings)  # a process started on the old layout answers from it unchanged
    assert old.store.legacy is not None
    assert [(p.chunk_id, p.quote) for p in old.ask(question, k=3).passages] == before
    assert old.stats()["sentences"] == 0  # not counted by the old layout
    old.warm_up()  # serving processes upgrade at start-up; ingest does too
    assert old.store.legacy is None
    assert "briefbot_sentences" not in {c.name for c in old.store.client.list_collections()}
    assert [(p.chunk_id, p.quote) for p in old.ask(question, k=3).passages] == before
    assert old.stats()["sentences"] == sum(len(json.loads(m["sents"])) for m in old.store.chunks.get()["metadatas"]) > 0
    check_consistent(old)


def test_progress_follows_the_encoding_of_a_long_report(service: Briefbot, tmp_path: Path) -> None:
    # 1,300 sentences: more than one model call's worth, so a single report moves the bar as it encodes.
    long = " ".join(f"Convoy {n} of the grain corridor carried {n * 7} tonnes past buoy {n % 13}." for n in range(1300))
    write_md(tmp_path / "a-long.md", long, title="Long")
    write_md(tmp_path / "b-short.md", GOOD, title="Grain")
    (tmp_path / "c-empty.md").write_text("")
    write_md(tmp_path / "d-short.md", "Wagner fighters made marginal gains in Bakhmut on Friday.", title="Wagner")
    steps: list[IngestProgress] = []
    summary = service.ingest([str(tmp_path)], steps.append)
    assert summary.line() == "3 new, 0 updated, 0 unchanged, 1 failed"

    assert [(s.stage, Path(s.what).name, s.current) for s in steps if s.stage == "reading"] == [
        ("reading", name, n) for n, name in enumerate(["a-long.md", "b-short.md", "c-empty.md", "d-short.md"], 1)]
    assert [s.stage for s in steps[-2:]] == ["indexing", "done"] and steps[-1].done == steps[-1].total == 4
    assert all(s.total == 4 for s in steps)
    assert [s.done for s in steps] == sorted(s.done for s in steps), "the bar went backwards"
    encoding = [s for s in steps if s.stage == "embedding"]
    long_steps = [s for s in encoding if Path(s.what).name == "a-long.md"]
    assert len(long_steps) == 1 + -(-long_steps[0].sentences // EMBED_STEP) >= 4  # announced, then each call
    assert [s.encoded for s in long_steps] == sorted({s.encoded for s in long_steps})
    assert long_steps[0].encoded == long_steps[0].done == 0
    assert long_steps[-1].encoded == long_steps[-1].sentences and long_steps[-1].batch == 1
    assert 0 < long_steps[1].done < 1 and long_steps[-1].done == 1  # counted by sentences, not only when done
    assert encoding[-1].encoded == encoding[-1].sentences and encoding[-1].done == 4

    # Encoded in several calls, longest texts first: every sentence still has its own vector. Stored as
    # float16, hence the tolerance; another sentence's vector is off by a whole word's weight (~0.2) in
    # some bucket, since each names its own numbers.
    catalog = service.store.snapshot()
    ids = [cid for cid in service.store.chunk_ids() if catalog.reports[cid.rsplit(":", 1)[0]].title == "Long"]
    rows = service.searcher.rows.rows(ids, catalog.generation, service.embedder.dim)
    for row in rows.values():
        base = int(row.meta["start"])
        texts = [row.text[s - base:e - base] for s, e in json.loads(row.meta["sents"])]
        assert np.allclose(row.vectors, service.embedder.embed(texts), atol=2e-3)
    assert sum(len(r.vectors) for r in rows.values()) == long_steps[-1].sentences


def test_an_upload_reports_its_encoding(service: Briefbot) -> None:
    steps: list[IngestProgress] = []
    body = " ".join(f"Convoy {n} of the grain corridor carried {n * 7} tonnes past buoy {n % 13}." for n in range(600))
    item = service.ingest_bytes(body.encode(), "upload.txt", "telegram:abc/upload.txt", progress=steps.append)
    assert item.status == "new"
    n = steps[1].sentences
    assert n > EMBED_STEP
    assert [(s.stage, s.encoded, s.done) for s in steps] == [
        ("reading", 0, 0), ("embedding", 0, 0), ("embedding", EMBED_STEP, EMBED_STEP / n), ("embedding", n, 1),
        ("indexing", 0, 1),
        ("done", 0, 1)]


def test_a_failing_progress_display_does_not_sink_the_ingest(service: Briefbot, tmp_path: Path) -> None:
    seen: list[str] = []

    def broken(step: IngestProgress) -> None:
        seen.append(step.stage)
        raise RuntimeError("the terminal went away")

    write_md(tmp_path / "a.md", GOOD, title="Grain")
    write_md(tmp_path / "b.md", "Wagner fighters made marginal gains in Bakhmut on Friday.", title="Wagner")
    assert service.ingest([str(tmp_path)], broken).line() == "2 new, 0 updated, 0 unchanged, 0 failed"
    assert seen == ["reading"]  # told once, then left alone
    check_consistent(service)
