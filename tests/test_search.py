"""Search and answers over a real embedded Chroma store with the hash embedder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from index import REFUSAL, Briefbot, Filters, QuestionError
from index.types import IN_ENGLISH
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


def test_the_title_line_is_never_the_quote(service: Briefbot, tmp_path: Path) -> None:
    # A dated question's words are the title's too ("June 26, 2022"): the title line must not be quoted.
    title = "Daily Assessment, June 26, 2022"
    write_md(tmp_path / "june.md", f"# {title}\n\nColonel-General Zhidko likely commands the Russian forces in "
             "Ukraine. He replaced Dvornikov in June.", title=title, date="2022-06-26")
    assert not service.ingest([str(tmp_path / "june.md")]).failed
    answer = service.ask("Who commanded the Russian forces on June 26, 2022?")
    assert answer.answered
    check_verbatim(service, answer)
    assert answer.passages[0].quote.startswith("Colonel-General Zhidko likely commands")
    assert title not in answer.passages[0].quote


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


def test_context_of_a_passage_inside_a_very_long_paragraph_shows_the_passage(service: Briefbot, tmp_path: Path) -> None:
    towns = ["Kupiansk", "Lyman", "Siversk", "Bakhmut", "Avdiivka", "Marinka", "Vuhledar", "Kherson", "Nova Kakhovka",
             "Zaporizhzhia", "Orikhiv", "Huliaipole", "Kreminna", "Svatove", "Chasiv Yar", "Toretsk"]
    filler = " ".join(f"Russian forces shelled {town} and nearby settlements on day {n} of the month."
                      for n in range(1, 4) for town in towns)
    fact = "The Wagner Group recruited eleven thousand prisoners from penal colonies in Siberia during the winter."
    path = write_md(tmp_path / "long.md", f"{filler} {fact} {filler}", title="One long paragraph")
    assert service.ingest([str(path)]).count("new") == 1
    p = service.ask("How many prisoners did Wagner recruit from penal colonies?").passages[0]
    text, _ = service.context(p.chunk_id, chars=1500)
    assert fact in text and p.quote in text
    assert text.startswith("… Russian forces shelled") and text.endswith("of the month. …")
    assert len(text) < 2 * 1500 + len(p.text), len(text)


@pytest.mark.parametrize("question", ["", "   ", "x" * 5000])
def test_bad_questions_get_a_reason(loaded: Briefbot, question: str) -> None:
    with pytest.raises(QuestionError) as err:
        loaded.ask(question)
    assert "\n" not in str(err.value)


def test_html_in_a_question_is_markup_not_words(loaded: Briefbot) -> None:
    tagged = loaded.ask("<b>Prigozhin</b> <script>alert(1)</script> ammunition")
    check_verbatim(loaded, tagged)
    assert tagged.question == "Prigozhin alert(1) ammunition"
    plain = loaded.ask("Prigozhin alert(1) ammunition")
    assert tagged.answered and (tagged.passages, tagged.support) == (plain.passages, plain.support)
    assert loaded.ask("Is a<3 Prigozhin's ammunition?").question == "Is a<3 Prigozhin's ammunition?"
    with pytest.raises(QuestionError):
        loaded.ask("<br/><b> </b>")


def test_empty_store_refuses(service: Briefbot) -> None:
    answer = service.ask("What did Xi commit to?")
    assert not answer.answered and answer.passages == ()


def test_a_refused_question_in_another_script_is_told_to_ask_in_english(loaded: Briefbot) -> None:
    for question in ("Что Пригожин сказал о боеприпасах?", "普里戈任对弹药说了什么？", "ماذا قال بريغوجين؟"):
        answer = loaded.ask(question)
        assert not answer.answered and answer.message == f"{REFUSAL} {IN_ENGLISH}", question
    assert loaded.ask("What did Xi commit to?").message == REFUSAL  # English: the plain refusal
    for mostly_latin in ("Qu'a dit Prigozhin? Étonnant, non?", "Prigozhin: что он сказал о ammunition shortages?"):
        assert IN_ENGLISH not in loaded.ask(mostly_latin).message, mostly_latin


def test_langchain_retriever(loaded: Briefbot) -> None:
    from index.retriever import BriefbotRetriever

    docs = BriefbotRetriever(service=loaded, k=2).invoke("Prigozhin ammunition shortages")
    assert docs and docs[0].metadata["quote"] in docs[0].page_content
    assert docs[0].metadata["title"] == "Wagner in Bakhmut"


def _filler(topic: str, n: int) -> str:
    """``n`` distinct sentences about ``topic``, none sharing a word with the repeated sentence."""
    return " ".join(f"The {topic} bulletin item {i} lists routine figures number {i * 7}." for i in range(n))


def test_a_repeated_sentence_is_shown_once(service: Briefbot, tmp_path: Path) -> None:
    # ISW reports restate their prose in "Key Takeaways", and daily reports repeat each other.
    repeated = "Wagner fighters captured the salt mine at Soledar after weeks of costly assaults on the town."
    docs = tmp_path / "docs"
    docs.mkdir()
    body = (f"Key Takeaways\n\n{repeated}\n\n{_filler('weather', 40)}\n\n"
            f"{repeated} Prigozhin claimed the salt mine as his own victory.\n\n{_filler('harvest', 40)}")
    write_md(docs / "a.md", body, title="Daily report A", date="2023-01-11")
    write_md(docs / "b.md", f"{repeated}\n\n{_filler('railway', 40)}", title="Daily report B", date="2023-01-12")
    write_md(docs / "c.md", "Wagner assaults continued near the salt mine town, with fighters dug in at the mine.",
             title="Daily report C", date="2023-01-13")
    assert not service.ingest([str(docs)]).failed

    answer = service.ask("Did Wagner fighters capture the salt mine at Soledar?", k=5)
    assert answer.answered
    quotes = [" ".join(p.quote.split()).casefold() for p in answer.passages]
    with_it = [q for q in quotes if repeated.casefold().rstrip(".") in q]
    assert len(with_it) == 1, quotes
    # The slot a repeat would have taken goes to a passage with something new.
    assert "Daily report C" in {p.title for p in answer.passages}
    # Paging ("More") walks the same de-duplicated list.
    paged = [p.chunk_id for n in range(len(answer.passages)) for p in service.ask(
        "Did Wagner fighters capture the salt mine at Soledar?", k=1, offset=n).passages]
    assert paged == [p.chunk_id for p in answer.passages]
    check_verbatim(service, answer)


def test_a_quote_starts_after_a_heading_glued_on_by_a_bare_comma(service: Briefbot, tmp_path: Path) -> None:
    # ISW's exports join headings and datelines to the next paragraph with a bare comma.
    body = ("Key Takeaways,Wagner fighters captured the salt mine at Soledar after weeks of costly assaults.\n\n"
            f"{_filler('weather', 30)}\n\n"
            "April 13, 4:30pm ET,Russian forces captured the Ilyich steel plant in northern Mariupol on April 13.\n\n"
            f"{_filler('harvest', 30)}")
    write_md(tmp_path / "a.md", body, title="Daily report", date="2023-04-13")
    assert not service.ingest([str(tmp_path / "a.md")]).failed

    for question, quote in [("Did Wagner fighters capture the salt mine at Soledar?", "Wagner fighters captured"),
                            ("When did Russian forces capture the Ilyich steel plant in Mariupol?",
                             "Russian forces captured the Ilyich")]:
        answer = service.ask(question, k=1)
        assert answer.passages[0].quote.startswith(quote), answer.passages[0].quote
        check_verbatim(service, answer)  # the passage keeps the text as the report has it
    assert "Key Takeaways,Wagner" in service.ask("Wagner salt mine Soledar", k=1).passages[0].text


def test_only_a_glued_heading_is_skipped() -> None:
    from index.answer import after_glued_heads

    def quote(text: str) -> str:
        return text[after_glued_heads(text, 100, 100, 100 + len(text)) - 100:]

    tail = "Russian forces attacked Bakhmut from three directions on Monday."
    assert quote(f"Key Takeaways,{tail}") == tail
    assert quote(f"Supporting Effort #3—Kherson and west:,“{tail}”") == f"“{tail}”"
    assert quote(f"Main Effort—Eastern Ukraine (two supporting efforts);,Subordinate Main Effort,{tail}") == tail
    assert quote(f",{tail}") == quote(f";, {tail}") == tail  # the comma a sentence split left in front
    for kept in (f"In 2022,{tail}",  # a digit before the comma: a number or a year, not a heading
                 f"The U.S.,UK and France agreed. {tail}",  # a sentence end inside: not a heading
                 f"Russian forces attacked, Ukrainian forces held. {tail}",  # a comma with a space: prose
                 "Key Takeaways,Wagner advanced.",  # too little would be left after it
                 f"{'x' * 151},{tail}"):  # longer than any heading
        assert quote(kept) == kept


def test_a_repeated_sentence_with_another_neighbour_is_still_a_repeat() -> None:
    from index.answer import distinct
    from index.types import Passage

    def cited(n: int, quote: str, core: str) -> tuple[Passage, str]:
        return Passage(f"r{n}", f"Report {n}", None, None, None, None, None, 0, len(quote), quote, quote, 0,
                       len(quote), 1.0 - n / 10, f"r{n}:0"), core

    said = "Wagner fighters captured the salt mine at Soledar after weeks of costly assaults on the town."
    other = "The railway bulletin for the oblast lists the routine freight figures for the week."
    claim = "Prigozhin claimed the salt mine as his own victory."
    shown = distinct([
        cited(1, f"{said} {claim}", said),
        cited(2, f"{said} {other}", said),  # the same answer again, beside another neighbour
        cited(3, f"{other} {said}", other),  # a new answer (its quote holds the old one too)
        cited(4, claim, claim),  # its whole quote sits inside 1's
        # Short best sentences (headings) are compared with the neighbour they are quoted with.
        cited(5, f"Southern axis. {claim} Kherson.", "Southern axis."),
        cited(6, "Southern axis. Ukrainian forces struck a ferry crossing near Nova Kakhovka.", "Southern axis."),
    ])
    assert [p.report_id for p in shown] == ["r1", "r3", "r5", "r6"]


def test_a_sentence_restated_with_a_small_word_changed_is_a_repeat() -> None:
    from index.answer import distinct
    from index.types import Passage

    def cited(n: int, quote: str) -> tuple[Passage, str]:
        return Passage(f"r{n}", f"Report {n}", None, None, None, None, None, 0, len(quote), quote, quote, 0,
                       len(quote), 1.0 - n / 10, f"r{n}:0"), quote

    prose = ("Russia’s withdrawal from Kherson City is igniting an ideological fracture between pro-war figures "
             "and Russian President Vladimir Putin, eroding confidence in Putin’s commitment to and ability to "
             "deliver on his war promises.")
    takeaway = prose.replace("commitment to and", "commitment and").replace("deliver on his", "deliver his")
    shown = distinct([
        cited(1, prose),
        cited(2, takeaway),  # the Key Takeaways line: the same sentence, two small words dropped
        cited(3, prose.replace("eroding confidence", "not eroding confidence")),  # "not" says otherwise
        cited(5, "Russian forces attacked in Bakhmut."),  # too short to compare but whole
        cited(6, "Russian forces attacked near Bakhmut."),
    ])
    assert [p.report_id for p in shown] == ["r1", "r3", "r5", "r6"]


def test_ranking_does_not_depend_on_the_hash_seed(service: Briefbot, settings: Any, tmp_path: Path) -> None:
    # Daily reports repeat whole paragraphs, so chunks tie on every score; the tie must break the
    # same way in every process, or a restart reorders answers (and "More" pages).
    common = " ".join(f"Convoy {w} crossed the river bridge near the depot at dawn." for w in
                      ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"))
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(8):
        write_md(docs / f"r{n}.md", f"{common}\n\n{_filler(f'district{n}', 12)}", title=f"Report {n}")
    assert not service.ingest([str(docs)]).failed
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from index import Briefbot, Settings\n"
        "svc = Briefbot(Settings(store=Path(sys.argv[1]), model='hash', _env_file=None))\n"
        "print(json.dumps([p.chunk_id for p in svc.ask('convoy river bridge depot dawn', k=5).passages]))\n"
    )
    runs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        out = subprocess.run([sys.executable, "-c", script, str(settings.store)], env=env, capture_output=True,
                             text=True, check=True, timeout=120)
        runs.add(out.stdout.strip().splitlines()[-1])
    assert len(runs) == 1, runs
    assert len(json.loads(next(iter(runs)))) >= 1


def test_collections_search_a_wide_candidate_list() -> None:
    # Chroma's default ef_search of 100 misses a few percent of the true nearest neighbours.
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from index.store import EF_SEARCH, Store

    client = chromadb.EphemeralClient(ChromaSettings(anonymized_telemetry=False))
    client.create_collection("old_chunks", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
    store = Store(client, "old")
    assert store.chunks.configuration_json["hnsw"]["ef_search"] == EF_SEARCH
    assert store.chunks.configuration_json["hnsw"]["space"] == "cosine"


def test_top_k_is_a_stable_sort_cut_short() -> None:
    import numpy as np

    from index.search import top_k

    rng = np.random.default_rng(0)
    for trial in range(500):
        n, k = int(rng.integers(0, 120)), int(rng.integers(1, 50))
        # Half the draws are heavily tied (BM25 gives many chunks the same score).
        scores = rng.integers(0, 4, n).astype(np.float32) if trial % 2 else rng.random(n).astype(np.float32)
        assert top_k(scores, k).tolist() == np.argsort(-scores, kind="stable")[:k].tolist()


QUESTIONS = ("Which ammunition shortages did Prigozhin complain about?", "grain corridor convoy",
             "power outages in Kharkiv", "what happened", "naval escort from Odesa")


def _shown(answer: Any) -> dict[str, Any]:
    data = answer.to_json()
    data.pop("took_ms")
    return data


def test_rows_kept_from_earlier_questions_answer_as_a_fresh_read(loaded: Briefbot, settings: Any) -> None:
    cold = [_shown(loaded.ask(q, k=5)) for q in QUESTIONS]
    rows = loaded.searcher.rows
    assert rows.misses and len(rows) == rows.misses  # each candidate read once
    before = rows.hits
    warm = [_shown(loaded.ask(q, k=5)) for q in QUESTIONS]
    assert rows.hits > before and len(rows) == rows.misses
    assert warm == cold
    uncached = Briefbot(settings.model_copy(update={"row_cache_mb": 0}), client=loaded.store.client)
    assert [_shown(uncached.ask(q, k=5)) for q in QUESTIONS] == cold
    assert len(uncached.searcher.rows) == 0


def test_a_forgotten_report_leaves_no_rows_behind(loaded: Briefbot) -> None:
    question = "Which ammunition shortages did Prigozhin complain about?"
    assert loaded.ask(question).passages[0].title == "Wagner in Bakhmut"
    wagner = next(r for r in loaded.sources() if r.title == "Wagner in Bakhmut")
    assert any(cid.startswith(wagner.report_id) for cid in loaded.searcher.rows._rows)
    loaded.forget(wagner.report_id)
    answer = loaded.ask(question, k=5)
    assert "Wagner in Bakhmut" not in {p.title for p in answer.passages}
    assert not any(cid.startswith(wagner.report_id) for cid in loaded.searcher.rows._rows)


def test_the_row_cache_keeps_to_its_budget(settings: Any, tmp_path: Path) -> None:
    small = Briefbot(settings.model_copy(update={"row_cache_mb": 0.05}))  # 50 KB: a few rows
    docs = tmp_path / "many"
    docs.mkdir()
    for n in range(12):
        write_md(docs / f"r{n}.md", f"Report {n} covers the grain corridor, convoy {n} and its escort. "
                 f"{_filler(f'topic{n}', 30)}", title=f"Report {n}", date=f"2023-01-{n + 1:02d}")
    assert not small.ingest([str(docs)]).failed
    for q in QUESTIONS:
        small.ask(q, k=5)
    rows = small.searcher.rows
    assert 0 < len(rows) < rows.misses
    assert rows.nbytes <= rows.max_bytes


def test_chunk_pages_are_read_ahead_in_order() -> None:
    from index.search import read_ahead

    ids = [f"c{n}" for n in range(10)]
    for page in (1, 3, 5, 10, 20):
        assert list(read_ahead(lambda part: [x.upper() for x in part], ids, page)) == [x.upper() for x in ids]
    assert list(read_ahead(lambda part: part, [], 4)) == []

    # The next page is read while the caller still works on this one (the keyword build's tokenising).
    started: dict[str, threading.Event] = {x: threading.Event() for x in ("c0", "c4", "c8")}

    def read(part: list[str]) -> list[str]:
        started[part[0]].set()
        return part

    rows = read_ahead(read, ids, 4)
    assert next(rows) == "c0"
    assert started["c4"].wait(10), "the second page was not read ahead"
    rows.close()  # a caller that stops early leaves no reader behind

    def failing(part: list[str]) -> list[str]:
        if part[0] == "c4":
            raise RuntimeError("the store went away")
        return part

    got: list[str] = []
    with pytest.raises(RuntimeError, match="went away"):
        got.extend(read_ahead(failing, ids, 4))
    assert got == ids[:4]  # the error comes at its place in the order, after the page before it
