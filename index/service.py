"""The index API that the CLI, the bot and the LangChain retriever share."""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from . import normalize
from .answer import MIN_SUPPORT, build_passages, distinct, support
from .digest import Digest, asks_digest, digest, publisher_words
from .embed import MINILM_GATE, Embedder, Gate, QuestionEncoder, embed_questions, make_embedder
from .errors import BriefbotError, NotFound, QuestionError, StoreUnavailable
from .ingest import Ingesting
from .recent import latest_since, resolve, span_start
from .search import Searcher
from .settings import Settings
from .store import Store, make_client
from .types import EMPTY, IN_ENGLISH, REFUSAL, Answer, Filters, Passage, ReportInfo
from .when import names_period, opens_at, too_late

log = logging.getLogger(__name__)

# Passages searched beyond the k shown, to fill the places of repeats that ``distinct`` drops.
SPARE = 4
# A search that raced a commit is repeated at the new generation, at most this many times in all.
SEARCH_ATTEMPTS = 3


class Briefbot(Ingesting):
    """Reports in, cited passages out. Synchronous; thread-safe for questions."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None, client: Any = None) -> None:
        self.settings = settings
        self.embedder = embedder or make_embedder(settings.model, onnx_questions=settings.onnx_questions,
                                                   cache_dir=settings.model_cache,
                                                   question_threads=settings.question_threads)
        self.encoder = QuestionEncoder(self.embedder, cache=settings.question_cache)
        self.store = Store(client if client is not None else make_client(settings), settings.collection_prefix)
        cache = settings.cache_dir or (None if settings.server_mode else settings.store / "cache")
        self.searcher = Searcher(self.store, self.embedder, cache,
                                 row_cache_bytes=int(settings.row_cache_mb * (1 << 20)))
        self.min_support = settings.min_support if settings.min_support is not None else MIN_SUPPORT
        self.gate: Gate = getattr(self.embedder, "gate", MINILM_GATE)
        self._write_lock = threading.Lock()
        self._newest_at: tuple[str, str | None] | None = None
        self._publishers: tuple[str | None, frozenset[str]] = (None, frozenset())
        self.asked = 0
        self.refused = 0
        self.latencies: deque[float] = deque(maxlen=1000)

    def warm_up(self) -> None:
        """Load the model and the keyword index now, so the first question does not wait for them; bring
        a store written by an older version up to date (questions are answered from it either way)."""
        embed_questions(self.embedder, ["warm up"])  # questions only: the model for reports loads at an ingest
        if self.store.legacy is not None:
            try:
                with self.writing():
                    self.store.upgrade()
            except Exception:  # another writer holds the store, or it is down: upgraded at the next ingest
                log.warning("store upgrade at start-up skipped", exc_info=True)
        try:
            self.searcher.keyword_index(self.store.snapshot())
        except Exception:  # a store that is down now is reported by the first question instead
            log.warning("keyword index warm-up failed", exc_info=True)

    # --- questions -------------------------------------------------------------------------------
    def ask(self, question: str, *, k: int | None = None, offset: int = 0, filters: Filters | None = None,
            ) -> Answer:
        """Up to ``k`` cited passages after the first ``offset``, or the refusal. "The latest on Kherson"
        comes from the last days' reports when they support an answer, else from all the reports;
        "What's the latest?" (no subject) gets the newest report's opening passages (``digest``)."""
        t0 = time.perf_counter()
        question = normalize.question_text(question)
        if not question:
            raise QuestionError("Ask a question in words, e.g. “What did Xi commit to?”")
        if len(question) > (limit := self.settings.max_question_chars):
            raise QuestionError(f"That question is {len(question):,} characters; the limit is {limit:,}.")
        k, filters = k or self.settings.top_k, filters or Filters()
        note, late, since, asked = "", None, None, question
        try:
            question, read = resolve(question, self._newest)  # "last month": the month before the newest report
            found = self._digest(question, filters, offset + k)
            if found is not None and found.passages:  # else searched: a weekly report may cover the day
                passages, p, note = found.passages, 1.0, found.note
            else:
                late = too_late(question, self._newest)
                qvec = self.encoder.encode(question)
                opened = opens_at(question) if self._newest() else None  # "since April 2023", in dated reports
                if opened and opened > (filters.since or ""):
                    filters, note = replace(filters, after=opened), f"From the reports dated {opened} or later."
                dated = filters.since or filters.until or filters.after
                starts = [] if dated else latest_since(question, self._newest)
                for scope in [replace(filters, since=start) for start in starts] + [filters]:
                    passages, p = self._search(question, scope, offset + k, qvec, late=bool(late))
                    if p >= self.min_support:
                        break
                since = scope.since if starts else None
                if starts and since is None:  # the latest asked for, and they had no answer: say so
                    note = (f"Nothing in the latest reports ({min(starts)} to {self._newest()}) answers that; "
                            "these passages are from all the reports.")
        except BriefbotError:
            raise
        except Exception as exc:  # chromadb raises plain exceptions when its server is away
            raise StoreUnavailable("The report store can't be searched right now; try again shortly.") from exc
        answered = bool(passages) and p >= self.min_support
        took = (time.perf_counter() - t0) * 1000
        self.asked += 1
        self.refused += not answered
        self.latencies.append(took)
        if not answered:
            told = f"The reports in the store don't say: the newest is dated {late}, before that period." if late else (
                found.note if found is not None and found.note else REFUSAL)
            if not self.store.snapshot(refresh=False).visible:  # nothing searched: not "the reports don't say"
                told = EMPTY
            elif normalize.non_latin(question):
                told = f"{told} {IN_ENGLISH}"
            return Answer(asked, False, f"{told} {read}".strip(), took, support=round(p, 4))
        shown = tuple(passages[offset:offset + k])
        message = note or f"{len(shown)} passage{'s' * (len(shown) != 1)} from the reports"
        if since:
            newest = self._newest()
            message = f"{message} of {since} to {newest} (the latest)"
            note = f"From the latest reports: {since} to {newest}."
        note = f"{read} {note}".strip()
        return Answer(asked, True, message if shown else "No more passages.", took, shown, round(p, 4), note)

    def _digest(self, question: str, filters: Filters, n: int) -> Digest | None:
        """A digest's passages when the question names no subject (see ``digest``), else None."""
        known = self.store.snapshot(refresh=False)
        if self._publishers[0] != known.generation:  # their names are no subject: "What did ISW assess…?"
            self._publishers = (known.generation, publisher_words(rec.publisher for rec in known.reports.values()))
        if not asks_digest(question, self._publishers[1]):
            return None
        catalog = self.store.snapshot()
        since = None if filters.since or filters.until else span_start(question, self._newest)  # "the past week"
        return digest(catalog, self.searcher.rows, self.searcher.allowed(catalog, filters), question, n,
                      self.embedder.dim, since)

    def _search(self, question: str, filters: Filters, n: int, qvec: np.ndarray, *, late: bool,
                ) -> tuple[list[Passage], float]:
        """The first ``n`` distinct passages (of those naming the period asked about, when that is
        ``late``: after the newest report) and the support gate's probability for the first."""
        for attempt in range(SEARCH_ATTEMPTS):
            # The first attempt searches the catalog last read; the generation check below proves it current.
            hits, catalog = self.searcher.search(question, filters, n + SPARE, qvec, fresh=attempt > 0)
            passages = distinct(build_passages(catalog, hits, question))
            passages = [x for x in passages if names_period(question, x.text)][:n] if late else passages[:n]
            # A commit or forget mid-search may have deleted its reports' vectors: search the new generation.
            if self.store.generation() == catalog.generation:
                break
        top = next((h for h in hits if passages and h.chunk_id == passages[0].chunk_id), None)
        return passages, support(self.gate, top.sentence_cos, top.coverage, top.chunk_cos) if top else 0.0

    def _newest(self) -> str | None:
        """The newest report date in the store, found once a generation: a dated question asks up to
        three times, and a scan costs 0.013 ms at the ISW store's 107 reports, ~0.5 ms at 4,491."""
        catalog = self.store.snapshot(refresh=False)
        known = self._newest_at
        if known is None or known[0] != catalog.generation:
            known = self._newest_at = (catalog.generation, max(
                filter(None, (catalog.reports[rid].date for rid in catalog.visible)), default=None))
        return known[1]

    def context(self, chunk_id: str, *, chars: int = 1500) -> tuple[str, ReportInfo]:
        """The text around one passage (its paragraph, widened to about ``chars``), and its report."""
        report_id = chunk_id.rsplit(":", 1)[0]
        catalog = self.store.snapshot()
        if report_id not in catalog.visible:
            raise NotFound("That report is no longer in the store.")
        text = self.store.canonical_text(report_id) or ""
        got = self.store.get([chunk_id])
        if chunk_id not in got:
            raise NotFound("That passage is no longer in the store.")
        meta = got[chunk_id][0]
        start, end = int(meta["start"]), int(meta["end"])
        pad = max(0, (chars - (end - start)) // 2)
        lo = text.rfind("\n\n", 0, max(0, start - pad))
        hi = text.find("\n\n", min(len(text), end + pad))
        lo = start if start - pad <= 0 else (0 if lo < 0 else lo + 2)
        hi = len(text) if hi < 0 else hi
        # A paragraph far longer than ``chars`` (a PDF's pages can run into one) is cut at a sentence
        # near the pad, and the cut is marked: else the passage could sit past what a message shows.
        head = tail = ""
        if start - lo > chars:
            lo, head = _sentence_start(text, start - pad, start), "… "
        if hi - end > chars:
            hi, tail = _sentence_end(text, end, end + pad), " …"
        return head + text[min(lo, start):max(hi, end)].strip() + tail, self._info(catalog, report_id)

    # --- catalog ---------------------------------------------------------------------------------
    def sources(self) -> list[ReportInfo]:
        """Visible reports, newest first (by report date, then by when they were added)."""
        catalog = self.store.snapshot()
        infos = [self._info(catalog, rid) for rid in catalog.visible]
        return sorted(infos, key=lambda r: (r.date or "", r.added_at), reverse=True)

    def _info(self, catalog: Any, rid: str) -> ReportInfo:
        rec = catalog.reports[rid]
        paths = catalog.sources_of(rid)
        path = rec.path or next((p for p in paths if not p.startswith(("http://", "https://"))), None)
        return ReportInfo(rid, rec.title, rec.publisher, rec.date, path, rec.url, rec.chunks, rec.chars, rec.added_at)

    def stats(self) -> dict[str, Any]:
        """Reports, chunks, questions answered and refused, median latency."""
        chunks, sentences = self.store.counts()
        lat = list(self.latencies)
        return {
            "reports": len(self.store.snapshot().visible), "chunks": chunks, "sentences": sentences,
            "asked": self.asked, "answered": self.asked - self.refused, "refused": self.refused,
            "median_ms": round(statistics.median(lat), 1) if lat else None,
        }

    def forget(self, ref: str) -> ReportInfo:
        """Remove one report (by id, id prefix, path or URL) from vectors, catalog and keyword index."""
        with self.writing():
            catalog = self.store.snapshot()
            rid = self._resolve(catalog, ref)
            info = self._info(catalog, rid)
            self.store.unlink(catalog.sources_of(rid))
            self.store.collect_garbage()
        self.refresh_keywords()
        return info

    def _resolve(self, catalog: Any, ref: str) -> str:
        ref = ref.strip()
        if ref in catalog.reports:
            return ref
        key = ref if ref.startswith(("http://", "https://")) else str(Path(ref).expanduser().resolve())
        if key in catalog.sources:
            found: str = catalog.sources[key]["report_id"]
            return found
        matches = [rid for rid in catalog.visible if len(ref) >= 6 and rid.startswith(ref)]
        if len(matches) == 1:
            return str(matches[0])
        raise NotFound(f"No report with id or path {ref!r}.")


def _sentence_start(text: str, lo: int, start: int) -> int:
    """The first sentence start in ``text[lo:start]`` (else the first word start there, else ``start``)."""
    found = [i + 2 for mark in (". ", "? ", "! ") if (i := text.find(mark, lo, start)) >= 0]
    if found:
        return min(found)
    space = text.find(" ", lo, start)
    return space + 1 if space >= 0 else start


def _sentence_end(text: str, end: int, hi: int) -> int:
    """The last sentence end in ``text[end:hi]`` (else the last word end there, else ``end``)."""
    found = [i + 1 for mark in (". ", "? ", "! ") if (i := text.rfind(mark, end, hi)) >= 0]
    if found:
        return max(found)
    space = text.rfind(" ", end, hi)
    return space if space >= 0 else end
