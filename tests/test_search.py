"""Search and answers over a real embedded Chroma store with the hash embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import Briefbot, Filters, QuestionError
from tests.helpers import check_verbatim, write_md

REPORTS = {
    "grain.md": ("Grain deal", "2023-01-10", "Kyiv Post",
                 "The ministry announced a new grain corridor through the Black Sea. "
                 "The first convoy of twelve ships left Odesa under naval escort."),
    "energy.md": ("Energy strikes", "2023-02-15", "ISW",
                  "Russian forces struck energy infrastructure in Kharkiv with drones. "
                  "Power outages lasted for three days across the oblast."),
    "wagner.md": ("Wagner in Bakhmut", "2023-03-20", "ISW",
                  "Wagner Group fighters made marginal gains in northern Bakhmut. "
                  "Prigozhin complained publicly about ammunition shortages."),
}


@pytest.fixture
def loaded(service: Briefbot, tmp_path: Path) -> Briefbot:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, (title, date, publisher, body) in REPORTS.items():
        write_md(docs / name, body, title=title, date=date, publisher=publisher)
    assert not service.ingest([str(docs)]).failed
    return service


def test_best_passage_and_quote(loaded: Briefbot) -> None:
    answer = loaded.ask("Which ammunition shortages did Prigozhin complain about?")
    assert answer.answered
    first = answer.passages[0]
    assert first.title == "Wagner in Bakhmut"
    assert "Prigozhin complained" in first.quote
    check_verbatim(loaded, answer)


def test_json_shape(loaded: Briefbot) -> None:
    data = loaded.ask("grain corridor convoy", k=2).to_json()
    assert set(data) >= {"question", "answered", "message", "took_ms", "passages"}
    assert len(data["passages"]) <= 2
    assert set(data["passages"][0]) >= {
        "report_id", "title", "publisher", "date", "url", "path", "page", "start", "end", "text", "quote",
        "quote_start", "quote_end", "score",
    }


def test_filters(loaded: Briefbot) -> None:
    since = loaded.ask("what happened", k=5, filters=Filters(since="2023-02-01"))
    assert {p.title for p in since.passages} <= {"Energy strikes", "Wagner in Bakhmut"}
    until = loaded.ask("Wagner Bakhmut Prigozhin", k=5, filters=Filters(until="2023-02-20"))
    assert "Wagner in Bakhmut" not in {p.title for p in until.passages}
    by_source = loaded.ask("convoy ships grain", k=5, filters=Filters(source="isw"))
    assert all(p.publisher == "ISW" for p in by_source.passages)
    nothing = loaded.ask("anything", filters=Filters(since="2030-01-01"))
    assert not nothing.answered and not nothing.passages


def test_filters_agree_whether_chroma_or_the_deeper_search_applies_them(loaded: Briefbot,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Filters are applied to a deeper unfiltered search first, and go to Chroma's metadata filter
    # only when that search holds too few allowed records; with a depth of 2 every filter here does.
    asks = [("what happened", Filters(since="2023-02-01")), ("convoy ships grain", Filters(source="isw")),
            ("Wagner Bakhmut Prigozhin", Filters(until="2023-02-20")),
            ("What happened in Kharkiv in mid-February 2023?", Filters(source="isw"))]
    def ranked() -> list[list[str]]:
        return [[h.chunk_id for h in loaded.searcher.search(q, f, 5)[0]] for q, f in asks]

    deep = ranked()
    monkeypatch.setattr("index.search.PERIOD_FETCH", 2)
    assert ranked() == deep
    assert all(deep)
    titles = {h.chunk_id: loaded.store.snapshot().reports[h.report_id].title
              for q, f in asks for h in loaded.searcher.search(q, f, 5)[0]}
    assert {titles[c] for c in deep[0]} <= {"Energy strikes", "Wagner in Bakhmut"}
    assert "Grain deal" not in {titles[c] for c in deep[1] + deep[3]}


def test_more_pages_through_passages(loaded: Briefbot) -> None:
    first = loaded.ask("energy drones outages", k=1)
    second = loaded.ask("energy drones outages", k=1, offset=1)
    assert first.passages and second.passages
    assert first.passages[0].chunk_id != second.passages[0].chunk_id


def test_context_returns_surrounding_text(loaded: Briefbot) -> None:
    p = loaded.ask("Prigozhin ammunition").passages[0]
    text, info = loaded.context(p.chunk_id)
    assert p.quote in text and info.report_id == p.report_id


@pytest.mark.parametrize("question", ["", "   ", "x" * 5000])
def test_bad_questions_get_a_reason(loaded: Briefbot, question: str) -> None:
    with pytest.raises(QuestionError) as err:
        loaded.ask(question)
    assert "\n" not in str(err.value)


def test_html_in_a_question_is_just_text(loaded: Briefbot) -> None:
    answer = loaded.ask("<b>Prigozhin</b> <script>alert(1)</script> ammunition")
    check_verbatim(loaded, answer)


def test_empty_store_refuses(service: Briefbot) -> None:
    answer = service.ask("What did Xi commit to?")
    assert not answer.answered and answer.passages == ()


def test_langchain_retriever(loaded: Briefbot) -> None:
    from index.retriever import BriefbotRetriever

    docs = BriefbotRetriever(service=loaded, k=2).invoke("Prigozhin ammunition shortages")
    assert docs and docs[0].metadata["quote"] in docs[0].page_content
    assert docs[0].metadata["title"] == "Wagner in Bakhmut"
