"""The keyword index: a build that reuses the last saved index's tokens equals a build from the texts."""

from __future__ import annotations

import json
import random
import threading
from array import array
from collections.abc import Iterator
from pathlib import Path

import bm25s
import numpy as np
import pytest

from index import Answer, Briefbot, Settings
from index.keyword import ArrayBM25, KeywordIndex, tokenize
from index.search import report_of
from tests.conftest import check_consistent
from tests.helpers import write_md

WORDS = ("convoy grain corridor ships Odesa escort drones Kharkiv outages Wagner Bakhmut gains ammunition "
         "Prigozhin ministry insurance frontline artillery brigade reservists Zaporizhzhia counteroffensive "
         "Kherson bridgehead logistics railway sanctions pipeline tanker refinery Kremlin Duma mobilization").split()


def _corpus(rng: random.Random, reports: int) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """Reports of a few chunks each: report id -> (title, [(chunk id, text)])."""
    out = {}
    for r in range(reports):
        rid = f"r{r:02d}"
        # Each report has a word of its own, which goes from the vocabulary with the report.
        chunks = [(f"{rid}:{seq}", " ".join(rng.choices(WORDS, k=rng.randint(0, 40)) + [f"only{rid}"] * (seq == 0)))
                  for seq in range(rng.randint(1, 4))]
        out[rid] = (f"Title {rng.choice(WORDS)}", chunks)
    return out


def _same(a: KeywordIndex, b: KeywordIndex) -> None:
    assert a.ids == b.ids and a.report_ids == b.report_ids
    assert a._df == b._df and all(a._df.values())
    assert (a._bm25 is None) == (b._bm25 is None)
    if a._bm25 is not None and b._bm25 is not None:  # the same words, numbered in any order
        assert set(a._bm25.vocab_dict) == set(b._bm25.vocab_dict)
    words = sorted(set(a._df) | set(b._df))
    for query in [*words, "unknownword", "title grain convoy", " ".join(words)]:
        assert np.array_equal(a.scores(tokenize(query)), b.scores(tokenize(query))), query


@pytest.mark.parametrize("seed", range(12))
def test_an_update_reads_only_what_changed_and_equals_a_fresh_build(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    before = _corpus(rng, 8)
    keys = {rid: json.dumps([1.0, title]) for rid, (title, _) in before.items()}

    def flat(corpus: dict[str, tuple[str, list[tuple[str, str]]]]) -> list[tuple[str, str, str]]:
        return [(cid, rid, f"{title}\n{text}") for rid, (title, chunks) in corpus.items() for cid, text in chunks]

    def index(corpus: dict[str, tuple[str, list[tuple[str, str]]]], keys: dict[str, str], base: Path | None,
              asked: list[str]) -> KeywordIndex:
        rows = flat(corpus)
        texts = {cid: text for cid, _, text in rows}

        def read(need: list[str]) -> Iterator[tuple[str, str]]:
            asked.extend(need)
            yield from ((cid, texts[cid]) for cid in need)

        return KeywordIndex.update([c for c, _, _ in rows], [r for _, r, _ in rows], keys, read, base)

    first = index(before, keys, None, [])
    first.save(tmp_path / "gen-1")
    # Forget some reports, add new ones (at the end, as Chroma lists new chunks), and re-title one
    # (a report forgotten and added again under another title is a new record).
    after = {rid: v for rid, v in before.items() if rng.random() > 0.3}
    added = {f"n{rid}": v for rid, v in _corpus(rng, 3).items()}
    after.update({rid: (title, [(f"n{cid}", text) for cid, text in chunks]) for rid, (title, chunks) in added.items()})
    keys2 = {rid: keys.get(rid, json.dumps([2.0, after[rid][0]])) for rid in after}
    retitled = next(iter(after))
    after[retitled] = ("Another title", after[retitled][1])
    keys2[retitled] = json.dumps([3.0, "Another title"])
    asked: list[str] = []
    updated = index(after, keys2, tmp_path / "gen-1", asked)
    assert asked == [cid for rid, (_, chunks) in after.items() for cid, _ in chunks
                     if rid in added or rid == retitled]
    _same(updated, KeywordIndex.build(flat(after)))
    # And what the update saves serves the next one as well.
    updated.save(tmp_path / "gen-2")
    again: list[str] = []
    _same(index(after, keys2, tmp_path / "gen-2", again), updated)
    assert again == []


def test_unreadable_saved_tokens_mean_reading_everything(tmp_path: Path) -> None:
    rows = [("a:0", "a", "grain convoy"), ("b:0", "b", "drones Kharkiv")]
    KeywordIndex.build(rows).save(tmp_path / "gen-1")
    (tmp_path / "gen-1" / "tokens" / "flat.npy").write_bytes(b"not numpy")
    asked: list[str] = []

    def read(need: list[str]) -> Iterator[tuple[str, str]]:
        asked.extend(need)
        yield from ((cid, text) for cid, _, text in rows if cid in need)

    got = KeywordIndex.update(["a:0", "b:0"], ["a", "b"], {"a": "", "b": ""}, read, tmp_path / "gen-1")
    assert asked == ["a:0", "b:0"]
    _same(got, KeywordIndex.build(rows))


def test_chunks_without_a_counted_word_index_to_nothing(tmp_path: Path) -> None:
    rows = [("a:0", "a", "what did they say"), ("b:0", "b", "")]
    empty = KeywordIndex.build(rows)
    assert empty._df == {} and not empty.scores(tokenize("grain")).any()
    KeywordIndex.build([("c:0", "c", "grain convoy")]).save(tmp_path / "gen-1")
    # The saved vocabulary's words all go, with the only report that held them.
    _same(KeywordIndex.update(["a:0", "b:0"], ["a", "b"], {}, lambda need: (
        (cid, text) for cid, _, text in rows if cid in need), tmp_path / "gen-1"), empty)


def test_a_chunk_gone_before_it_is_read_is_left_out(tmp_path: Path) -> None:
    """A concurrent forget between listing the ids and reading the texts loses only that chunk."""
    rows = [("a:0", "a", "grain convoy"), ("b:0", "b", "drones Kharkiv"), ("c:0", "c", "Wagner Bakhmut")]
    got = KeywordIndex.update([c for c, _, _ in rows], [r for _, r, _ in rows], {}, lambda need: (
        (cid, text) for cid, _, text in rows if cid in need and cid != "b:0"), None)
    _same(got, KeywordIndex.build([rows[0], rows[2]]))


def test_the_store_s_index_after_adds_and_forgets_equals_a_fresh_build(service: Briefbot, tmp_path: Path) -> None:
    """Through the searcher: each write leaves an index built from the last one's tokens, equal to
    one built from every chunk text in the store."""
    rng = random.Random(7)
    paths = []
    for n in range(6):
        body = ". ".join(" ".join(rng.choices(WORDS, k=12)) for _ in range(rng.randint(2, 30))) + "."
        paths.append(write_md(tmp_path / f"r{n}.md", body, title=f"Report {n} {rng.choice(WORDS)}"))
    service.ingest([str(p) for p in paths[:3]])
    service.ingest([str(p) for p in paths[3:]])
    service.forget(str(paths[1]))
    write_md(paths[4], "A new text about grain ships and tankers near Odesa.", title="Report 4 again")
    service.ingest([str(paths[4])])
    check_consistent(service)
    catalog = service.store.snapshot()
    rows = [(cid, report_of(cid), f"{catalog.reports[report_of(cid)].title}\n{text}")
            for cid, text, _ in service.store.iter_chunks(metadatas=False) if report_of(cid) in catalog.visible]
    _same(service.searcher.keyword_index(catalog), KeywordIndex.build(rows))


@pytest.mark.parametrize("seed", range(8))
def test_the_array_build_is_the_matrix_bm25s_builds(seed: int) -> None:
    """ArrayBM25 builds bm25s's own score matrix, bit for bit: repeated words, empty chunks, and a
    chunk holding every word included."""
    rng = random.Random(seed)
    words = rng.randint(1, 60)
    corpus = [array("I", rng.choices(range(words), k=rng.choice([0, 1, rng.randint(2, 80)]))) for _ in range(rng.randint(1, 90))]
    corpus.append(array("I", range(words)))
    vocab = {f"w{n}": n for n in range(words)}
    ours, theirs = ArrayBM25(), bm25s.BM25()
    ours.index((corpus, dict(vocab)), show_progress=False)
    theirs.index(([list(doc) for doc in corpus], dict(vocab)), show_progress=False)  # lists: bm25s's own build
    assert ours.vocab_dict == theirs.vocab_dict and ours.scores["num_docs"] == theirs.scores["num_docs"]
    for key in ("data", "indices", "indptr"):
        assert ours.scores[key].dtype == theirs.scores[key].dtype, key
        assert np.array_equal(ours.scores[key], theirs.scores[key]), key
    for query in (["w0"], list(vocab), rng.choices(list(vocab), k=5)):
        assert np.array_equal(ours.get_scores(query), theirs.get_scores(query))



def test_the_index_scores_as_bm25s_over_tokenize() -> None:
    """The index (its own vocabulary ids, the array build) scores as bm25s over ``tokenize``'s tokens:
    case, stop words, words too long to count, digits and accents included."""
    rng = random.Random(3)
    extra = ["The", "what", "WAGNER", "Wagner's", "x" * 45, "2023", "Zaporizhzhia—Kherson", "café", "did", "brigades"]
    rows = [(f"r{n}:0", f"r{n}", " ".join(rng.choices(WORDS + extra, k=rng.randint(0, 30)))) for n in range(40)]
    ours = KeywordIndex.build(rows)
    theirs = bm25s.BM25()
    theirs.index([tokenize(text) for _, _, text in rows], show_progress=False)
    for query in [*WORDS, *extra, " ".join(extra), "grain convoy Odesa the"]:
        tokens = tokenize(query)
        if not tokens:  # a stop word alone: no token to score (bm25s refuses an empty query)
            assert not ours.scores(tokens).any()
            continue
        assert np.allclose(ours.scores(tokens), theirs.get_scores(tokens), rtol=1e-6, atol=0), query

def test_a_question_during_a_rebuild_is_answered_from_the_index_before(service: Briefbot, settings: Settings,
                                                                       tmp_path: Path) -> None:
    """Another process's write moved the store on, and a build of its keyword index is under way (it
    holds the build lock, as a write's rebuild does): a question goes on with the index it has
    instead of waiting, and a question after the build gets the new one."""
    service.ingest([str(write_md(tmp_path / "a.md", "Twelve grain ships left Odesa under naval escort.", title="Grain"))])
    before = service.store.generation()
    assert service.searcher._keyword is not None and service.searcher._keyword[0] == before
    other = Briefbot(settings)  # another writer over the same store
    other.ingest([str(write_md(tmp_path / "b.md", "Wagner fighters made marginal gains in Bakhmut.", title="Wagner"))])
    after = service.store.generation()
    assert after != before
    answers: list[Answer] = []
    with service.searcher._lock:
        asking = threading.Thread(target=lambda: answers.append(service.ask("Where did Wagner make gains?")))
        asking.start()
        asking.join(30)
        assert not asking.is_alive() and answers, "the question waited for the rebuild"
        assert service.searcher._keyword[0] == before
    assert any(p.title == "Wagner" for p in answers[0].passages)  # the dense side has the new report
    answers.clear()
    service.ask("Where did Wagner make gains?")  # starts the build, as no build is under way
    builder = service.searcher._builder
    assert builder is not None
    builder.join(30)
    assert service.searcher._keyword[0] == after
    got = service.ask("Where did Wagner make gains?")
    assert got.answered and got.passages[0].title == "Wagner"


def test_a_misspelt_name_stands_for_the_indexed_word_one_edit_away() -> None:
    from index.keyword import question_words

    index = KeywordIndex.build([
        ("a:0", "a", "Russian forces shelled Kharkiv again. Kharkiv residents sheltered."),
        ("b:0", "b", "Kharkiv power stations were hit. Belief in a quick war faded."),
        ("c:0", "c", "Avril Haines said the war would slow. Beliefs about the belief persist."),
        ("d:0", "d", "Prigozhin complained about ammunition."),
        ("d:1", "d", "Prigozhin threatened to withdraw from Bakhmut."),
    ])
    known = frozenset({"shelling", "relief", "haines", "war"})  # English words, as the model's vocabulary

    def spelled(question: str) -> list[str]:
        return index.spelled(question_words(question), known)

    assert spelled("Kharkov shelling") == ["kharkiv", "shell"]  # a name spelt otherwise: one edit
    assert spelled("Prigozin's war") == ["prigozhin", "war"]
    assert spelled("Avril Haines") == ["avril", "hain"]  # a name one chunk holds is no typo of "April"
    assert spelled("relief") == ["relief"]  # an English word stays, whatever is indexed one edit away
    assert spelled("Kharkovvv") == ["kharkovvv"]  # three edits: nothing near enough
    assert spelled("Kiev war") == ["kiev", "war"]  # too short to tell from a typo
    assert index.spelled(question_words("Kharkov shelling"), frozenset()) == ["kharkov", "shell"]  # no vocabulary


def test_the_models_vocabulary_holds_english_words_not_names(real_embedder: object) -> None:
    words = real_embedder.words()  # type: ignore[attr-defined]
    assert {"relief", "hollow", "winter", "war"} <= words
    assert not {"kharkov", "prigozin", "unkown", "##ing"} & words


def test_a_question_with_a_name_spelt_otherwise_is_answered(settings: Settings, real_embedder: object,
                                                            tmp_path: Path) -> None:
    service = Briefbot(settings, embedder=real_embedder)  # type: ignore[arg-type]
    write_md(tmp_path / "a.md", "Russian forces shelled Kharkiv City with rocket artillery overnight. "
             "Kharkiv Oblast officials reported damage to power stations.", title="Kharkiv shelled", date="2022-05-01")
    write_md(tmp_path / "b.md", "Russian forces continued assaults on Bakhmut. Kharkiv was quiet.",
             title="Bakhmut assaults", date="2022-05-02")
    write_md(tmp_path / "c.md", "The grain corridor reopened and ships left Odesa.", title="Grain", date="2022-05-03")
    assert not service.ingest([str(tmp_path)]).failed
    answer = service.ask("What about Kharkov?")
    assert answer.answered and all("Kharkiv" in p.text for p in answer.passages[:2])
    service.searcher.words = frozenset()  # no vocabulary: "Kharkov" is just a word no report holds
    assert not service.ask("What about Kharkov?").answered


def test_words_that_ask_for_the_newest_reporting_are_no_subject() -> None:
    from index.keyword import question_tokens

    assert question_tokens("Kherson over the past week") == question_tokens("Kherson") == ["kherson"]
    assert question_tokens("What is Wagner doing these days, right now?") == ["wagner"]
    assert question_tokens("What happened in the last days of Azovstal?") == ["last", "day", "azovst"]
