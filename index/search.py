"""Hybrid retrieval: dense chunk neighbours from Chroma and bm25s candidates, ranked on exact chunk
and sentence cosines, question-term coverage and the quote each chunk holds."""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import tempfile
import threading
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .catalog import Catalog
from .embed import Embedder, embed_questions
from .keyword import KeywordIndex, Terms, question_tokens, question_words
from .rows import RowCache
from .store import Store
from .types import Filters
from .when import date_words, windows

log = logging.getLogger(__name__)
T = TypeVar("T")

# Candidate depth per retriever: deep enough that the ranking rarely misses a chunk either one ranks
# highly, shallow enough that every candidate's sentences can be scored exactly (~80 chunks, read in
# one Chroma get). A third retriever, nearest sentences, found nothing these two miss once every
# candidate's sentences are scored (SQuAD tuning split hit@5 0.935 with it, 0.933 without).
DENSE_DEPTH = 40
KEYWORD_DEPTH = 40
# Ranking weights of (chunk cosine, best-sentence cosine, max-normalised BM25, share of the question's
# IDF mass present in the chunk), and below W_QUOTE. Chosen on tuning data only: the SQuAD tuning split
# (question id hash even; 800 sampled questions) and the ISW tuning questions
# (tests/data/calibration_ontopic.jsonl + tuning_ontopic.jsonl), never on the reported ISW questions
# or SQuAD's reported split. The optimum is a broad plateau (hit@1 within ~0.01 of it across many
# settings); BM25's own score adds nothing once coverage is in, so BM25 serves as a candidate source.
W_CHUNK, W_SENTENCE, W_KEYWORD, W_COVERAGE = 0.30, 0.90, 0.0, 0.50
# Added to chunks of reports dated inside a period the question names ("in mid-April 2022").
# Chosen on tests/data/calibration_ontopic.jsonl (ISW), not on the reported ISW questions.
W_DATE = 0.10
PERIOD_DEPTH = 15
# Neighbours scanned for the period's best when a question names one (see Searcher.search).
PERIOD_FETCH = 1000
# Weight of query-term coverage next to cosine in a sentence's score (which picks the quote).
LEXICAL_WEIGHT = 0.35
# Weight of the best sentence's score in the chunk's: a passage holding one sentence that answers
# both in meaning and in words beats one that is merely about the subject.
W_QUOTE = 1.0
# The leaders after the first ranking whose sentences are also scored for their words (the quote).
QUOTE_DEPTH = 12
# How long a question that finds the store at a new generation (another process wrote to it) waits
# for the keyword index it starts building, before it goes on with the previous generation's index
# (Searcher._index_for): a store of a few thousand chunks rebuilds well within it, 100k chunks in ~3-5 s.
KEYWORD_WAIT = 0.5
# Bump when what goes into the keyword index changes, so stale disk caches are not reused.
CACHE_VERSION = 3
# A keyword build reads chunk texts this many at a time, the next page in a thread while this one is
# tokenised: Chroma's read releases the GIL, so the two overlap (a full build at 100k chunks, from
# an empty cache: 22-33 s one after the other, 17-18 s overlapped).
READ_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Hit:
    """A ranked chunk and the evidence that ranked it."""

    chunk_id: str
    report_id: str
    score: float
    chunk_cos: float
    sentence_cos: float
    keyword: float
    coverage: float = 0.0
    meta: dict[str, Any] | None = None
    text: str = ""
    quote_score: float = 0.0  # the best sentence's cosine + LEXICAL_WEIGHT x its coverage
    vectors: np.ndarray | None = None  # the chunk's sentence vectors, one row per sentence
    sentences: tuple[tuple[int, int], ...] = ()  # absolute spans of the chunk's sentences
    sentence_scores: tuple[float, ...] = ()  # and each one's cosine + LEXICAL_WEIGHT x coverage


class Searcher:
    """Ranks chunks for a question; keeps a keyword index in step with the store's generation."""

    def __init__(self, store: Store, embedder: Embedder, cache_dir: Path | None = None, *,
                 row_cache_bytes: int = 64 << 20) -> None:
        self.store = store
        self.embedder = embedder
        # English words, which are never taken for typos: the model's vocabulary; none, no corrections.
        self.words: frozenset[str] = getattr(embedder, "words", frozenset)()
        self.rows = RowCache(store, row_cache_bytes)
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "briefbot-keyword"
        self._keyword: tuple[str, KeywordIndex] | None = None
        self._lock = threading.Lock()  # one build at a time
        self._builder: threading.Thread | None = None  # a build a question started, not waiting for it
        self._builder_lock = threading.Lock()

    def keyword_index(self, catalog: Catalog) -> KeywordIndex:
        """The BM25 index for the catalog's generation: in memory, from the disk cache, or rebuilt."""
        return self._index_for(catalog, None)[1]

    def _index_for(self, catalog: Catalog, wait: float | None) -> tuple[str, KeywordIndex]:
        """``(generation, index)``: the catalog's, or, with ``wait`` set and an index of an earlier
        generation at hand, that one while the new one is built: at once when a build is under way
        (a write's, or another question's), else after ``wait`` seconds of the build this starts.

        The build finishes in the background. Otherwise every question during it would wait: a write
        at 100k chunks rebuilds for ~3-5 s, and after another process's write the first question pays.
        """
        known = self._keyword
        if known is not None and known[0] == catalog.generation:
            return known
        if known is None or wait is None:
            return self._install(catalog)
        with self._builder_lock:
            if self._lock.locked() or (self._builder is not None and self._builder.is_alive()):
                return known
            self._builder = builder = threading.Thread(target=self._install_quietly, args=(catalog,),
                                                       name="keyword-index", daemon=True)
            builder.start()
        builder.join(wait)
        return self._keyword or known

    def _install(self, catalog: Catalog) -> tuple[str, KeywordIndex]:
        with self._lock:
            if self._keyword and self._keyword[0] == catalog.generation:
                return self._keyword
            path = self.cache_dir / f"gen-{catalog.generation or 'empty'}-v{CACHE_VERSION}"
            index = KeywordIndex.load(path) if path.exists() else None
            if index is None:
                index = self._build_keyword_index(catalog)
                release_memory()  # the build's temporary token lists: ~270 MB at 100k chunks
                try:
                    index.save(path)
                    for old in self.cache_dir.glob("gen-*"):
                        if old != path:
                            _rmtree(old)
                except OSError as exc:  # a read-only cache only costs a rebuild next start
                    log.warning("cannot cache the keyword index at %s: %s", path, exc)
            # The old index served questions during the build (``_index_for``); it goes now.
            self._keyword = (catalog.generation, index)
            return self._keyword

    def _install_quietly(self, catalog: Catalog) -> None:
        try:
            self._install(catalog)
        except Exception:  # the next question tries again, or reports the store's error itself
            log.warning("keyword index rebuild in the background failed", exc_info=True)

    def _build_keyword_index(self, catalog: Catalog) -> KeywordIndex:
        """Index the visible chunks, reading and tokenising only those the last saved index lacks."""
        visible = catalog.visible
        ids = [cid for cid in self.store.chunk_ids() if report_of(cid) in visible]
        rids = [report_of(cid) for cid in ids]
        # A report's chunks never change, but a report forgotten and added again is a new record.
        keys = {rid: json.dumps([catalog.reports[rid].added_at, catalog.reports[rid].title]) for rid in visible}
        saved = sorted(self.cache_dir.glob(f"gen-*-v{CACHE_VERSION}"), key=_mtime)

        def read(need: list[str]) -> Iterator[tuple[str, str]]:
            # The report title joins every chunk's keyword text: questions name the subject
            # ("the Normans", "Wagner") far more often than each paragraph repeats it.
            rows = read_ahead(lambda page: list(self.store.iter_chunks(READ_PAGE, metadatas=False, ids=page)),
                              need, READ_PAGE)
            for cid, text, _ in rows:
                yield cid, f"{catalog.reports[report_of(cid)].title}\n{text}"

        return KeywordIndex.update(ids, rids, keys, read, saved[-1] if saved else None)

    def allowed(self, catalog: Catalog, filters: Filters) -> AbstractSet[str]:
        """Visible report ids that pass the date and source filters."""
        visible = catalog.visible
        if not filters.active:
            return visible
        needle = (filters.source or "").casefold()
        out = set()
        for rid in visible:
            rec = catalog.reports[rid]
            if filters.since and (not rec.date or rec.date < filters.since):
                continue
            if filters.until and (not rec.date or rec.date > filters.until):
                continue
            if filters.after and rec.date and rec.date < filters.after:
                continue
            if needle and needle not in f"{rec.publisher or ''}\n{rec.title}".casefold():
                continue
            out.add(rid)
        return out

    def _nearest(self, qvec: np.ndarray, depth: int, allowed: AbstractSet[str], focus: AbstractSet[str],
                 restrict: list[str] | None) -> dict[str, float]:
        """The ``depth`` nearest chunks of allowed reports, plus the PERIOD_DEPTH nearest of ``focus``.

        Filters and periods are applied to a deeper unfiltered search first: a Chroma metadata
        filter costs 10-30 ms at 2k chunks and 0.1-2 s at 100k, against 5-7 ms for 1,000
        unfiltered neighbours. Only a filter too narrow to fill ``depth`` from those goes to Chroma.
        """
        if restrict is None and not focus:  # allowed: the visible reports (not one being written)
            return _nearest(self.store.query(qvec, depth), depth, allowed, focus)
        rows = self.store.query(qvec, PERIOD_FETCH)
        if restrict is not None and len(rows) == PERIOD_FETCH and sum(
                r.split(":", 1)[0] in allowed for r, _ in rows) < depth:
            rows = self.store.query(qvec, max(depth, PERIOD_FETCH) if focus else depth, restrict)
        return _nearest(rows, depth, allowed, focus)

    def search(self, question: str, filters: Filters, depth: int, qvec: np.ndarray | None = None, *,
               fresh: bool = True) -> tuple[list[Hit], Catalog]:
        """The best ``depth`` chunks for a question, from dense and keyword candidates.

        ``fresh=False`` searches the catalog last read, without asking the store whether it moved
        on: for a caller that checks the generation afterwards anyway (``Briefbot.ask``).
        """
        catalog = self.store.snapshot(refresh=fresh)
        allowed = self.allowed(catalog, filters)
        if not allowed:
            return [], catalog
        generation, keyword = self._index_for(catalog, KEYWORD_WAIT)
        if qvec is None:
            qvec = embed_questions(self.embedder, [question])[0]
        restrict = sorted(allowed) if len(allowed) < len(catalog.visible) else None

        # A question naming a period also gets the best candidates from reports of that period,
        # which a global top-40 can miss when every daily report discusses the same front.
        periods = windows(question)
        in_period = catalog.dated(lambda d: any(w.contains(d) for w in periods)) & allowed if periods else set()
        narrow = bool(in_period) and len(in_period) < len(allowed)
        focus = in_period if narrow else set()
        dense = self._nearest(qvec, DENSE_DEPTH, allowed, focus, restrict)

        tokens = keyword.spelled(question_words(question), self.words)
        terms = Terms(tokens, keyword)
        dated = frozenset(question_tokens(date_words(question))) if periods else frozenset()
        bm25 = keyword.scores(tokens)
        if filters.active or len(allowed) < len(catalog.reports) or generation != catalog.generation:
            bm25 = np.where(keyword.in_reports(allowed), bm25, 0.0)  # an older index may hold forgotten reports
        top = top_k(bm25, KEYWORD_DEPTH)
        if narrow:
            top = np.union1d(top, top_k(np.where(keyword.in_reports(in_period), bm25, 0.0), PERIOD_DEPTH))
        top_bm25 = float(bm25[top].max()) if len(top) else 0.0
        keyword_hits = {keyword.ids[i]: float(bm25[i]) / top_bm25 for i in top if bm25[i] > 0}

        # Every candidate is scored on exact evidence: its chunk cosine (its stored vector, for those
        # BM25 alone found), its best sentence's cosine and its share of the question's terms.
        ids = sorted(dense.keys() | keyword_hits.keys())
        rows = self.rows.rows(ids, catalog.generation, len(qvec), need_embedding=keyword_hits.keys() - dense.keys())
        hits = []
        for cid in ids:
            row = rows.get(cid)
            if row is None:  # deleted between query and fetch
                continue
            c = dense[cid] if cid in dense else float(np.dot(qvec, row.embedding))  # type: ignore[arg-type]
            sv = row.vectors
            s = float(np.max(sv @ qvec)) if len(sv) else c
            # A report dated in the period the question names holds its date words, whether or not
            # its text repeats them ("What happened in Kherson in March 2023?").
            in_window = any(w.contains(catalog.reports[report_of(cid)].date) for w in periods)
            cov = terms.coverage(row.text, dated) if in_window else terms.coverage(row.text)
            bonus = W_DATE if in_window else 0.0
            k = keyword_hits.get(cid, 0.0)
            score = W_CHUNK * c + W_SENTENCE * s + W_KEYWORD * k + W_COVERAGE * cov + bonus
            hits.append(Hit(cid, report_of(cid), score, c, s, k, cov, row.meta, row.text, vectors=sv))
        hits.sort(key=rank_key)

        # The leaders' sentences are scored for their words too: the best is the passage's quote and
        # adds to the passage's own score.
        scored = []
        for h in hits[:max(depth, QUOTE_DEPTH)]:
            spans, scores = sentence_scores(h.meta or {}, h.text, h.vectors, qvec, terms)
            best = max(scores, default=0.0)
            scored.append(replace(h, score=h.score + W_QUOTE * best, quote_score=best, sentences=spans,
                                  sentence_scores=scores))
        scored.sort(key=rank_key)
        return scored[:depth], catalog


def read_ahead(read: Callable[[list[str]], list[T]], ids: list[str], page: int) -> Iterator[T]:
    """``read`` of ``ids`` a page at a time, in order, each page read in a thread while the caller
    works on the one before; a read's error is raised here, at its place in the order."""
    pages = [ids[at:at + page] for at in range(0, len(ids), page)]
    if not pages:
        return
    with ThreadPoolExecutor(1, thread_name_prefix="chunk-read") as pool:  # closed early: waits for one read
        ahead = pool.submit(read, pages[0])
        for following in pages[1:]:
            rows = ahead.result()
            ahead = pool.submit(read, following)
            yield from rows
        yield from ahead.result()


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first, ties by index (a partition, then a sort of
    ``k``: a full sort of 100k BM25 scores cost 7 ms a question)."""
    if len(scores) <= k:
        return np.lexsort((np.arange(len(scores)), -scores))
    part = np.argpartition(-scores, k - 1)[:k]
    # Scores tied with the k-th may sit on either side of the cut: take every one of them, then cut.
    kth = scores[part].min()
    part = np.union1d(part[scores[part] > kth], np.flatnonzero(scores == kth))
    return part[np.lexsort((part, -scores[part]))][:k]


def rank_key(hit: Hit) -> tuple[float, float, str]:
    """Best score first; ties (daily reports repeat whole paragraphs, which then tie on every score)
    broken by keyword score, then chunk id, so a question ranks the same in every process whatever
    its hash seed."""
    return (-hit.score, -hit.keyword, hit.chunk_id)


def sentence_scores(meta: dict[str, Any], text: str, vectors: np.ndarray | None, qvec: np.ndarray,
                    terms: Terms) -> tuple[tuple[tuple[int, int], ...], tuple[float, ...]]:
    """Each sentence of a chunk: its absolute span, and cosine + LEXICAL_WEIGHT x its coverage."""
    base = int(meta["start"])
    spans = tuple((int(s), int(e)) for s, e in json.loads(meta.get("sents") or "[]"))
    if vectors is None or len(vectors) != len(spans):
        return (), ()
    cosines = vectors @ qvec
    return spans, tuple(float(cos) + LEXICAL_WEIGHT * terms.coverage(text[s - base:e - base])
                        for (s, e), cos in zip(spans, cosines, strict=True))


def _nearest(rows: list[tuple[str, float]], depth: int, allowed: AbstractSet[str], in_period: AbstractSet[str],
             ) -> dict[str, float]:
    """The first ``depth`` allowed rows, plus the first PERIOD_DEPTH of the period's reports."""
    out: dict[str, float] = {}
    taken = in_taken = 0
    for rid_seq, cos in rows:
        rid = rid_seq.split(":", 1)[0]
        if rid not in allowed:
            continue
        if taken < depth or (rid in in_period and in_taken < PERIOD_DEPTH):
            out[rid_seq] = cos
        taken += 1
        in_taken += rid in in_period
    return out


def report_of(chunk_id: str) -> str:
    """The report id inside a chunk id (``report:seq``)."""
    return chunk_id.rsplit(":", 1)[0]


def release_memory() -> None:
    """Hand freed heap back to the OS (glibc keeps it otherwise), so a rebuild's peak does not stay."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: the process reuses it instead
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
