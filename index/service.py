"""The index API that the CLI, the bot and the LangChain retriever share."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import chunk as chunking
from . import normalize
from .answer import MIN_SUPPORT, build_passages, distinct, support
from .embed import MINILM_GATE, Embedder, Gate, QuestionEncoder, embed_questions, make_embedder
from .errors import BriefbotError, LoadError, NotFound, QuestionError, StoreBusy, StoreUnavailable
from .fetch import fetch, kind_of
from .load import Document, Raw, iter_files, load_bytes, read_file
from .progress import Progress, Tracker
from .search import Searcher
from .settings import Settings
from .store import Commit, ReportVectors, Store, make_client
from .types import REFUSAL, Answer, Filters, IngestItem, IngestSummary, Passage, ReportInfo
from .when import latest_since, names_period, too_late

log = logging.getLogger(__name__)

# Passages searched beyond the k shown, to fill the places of repeats that ``distinct`` drops.
SPARE = 4
# A search that raced a commit is repeated at the new generation, at most this many times in all.
SEARCH_ATTEMPTS = 3
# An ingest encodes the sentences of several reports in one model call once this many are waiting:
# the model sorts a call's texts by length, so bigger calls waste less on padding (~2x faster
# than a call per report on the ISW assessments). The group is then written and committed together.
ENCODE_GROUP = 1024
# ... and at most this many reports, so a group's catalog write (3 records a report) stays well under
# Chroma's ~5,461 records a write however short the reports.
COMMIT_GROUP = 256


class Briefbot:
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
        comes from the last days' reports when they support an answer, else from all the reports."""
        t0 = time.perf_counter()
        question = normalize.question_text(question)
        if not question:
            raise QuestionError("Ask a question in words, e.g. “What did Xi commit to?”")
        if len(question) > (limit := self.settings.max_question_chars):
            raise QuestionError(f"That question is {len(question):,} characters; the limit is {limit:,}.")
        k, filters = k or self.settings.top_k, filters or Filters()
        try:
            late = too_late(question, self._newest)
            qvec = self.encoder.encode(question)
            since = None if filters.since or filters.until else latest_since(question, self._newest)
            for scope in [replace(filters, since=since)] * bool(since) + [filters]:
                passages, p = self._search(question, scope, offset + k, qvec, late=bool(late))
                if p >= self.min_support:
                    break
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
            told = f"The reports in the store don't say: the newest is dated {late}, before that period." if late else REFUSAL
            return Answer(question, False, told, took, support=round(p, 4))
        shown = tuple(passages[offset:offset + k])
        message = f"{len(shown)} passage{'s' * (len(shown) != 1)} from the reports"
        if scope.since and since:
            message += f" of {since} to {self._newest()} (the latest)"
        return Answer(question, True, message if shown else "No more passages.", took, shown, round(p, 4))

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
        """The newest report date in the store."""
        catalog = self.store.snapshot(refresh=False)
        return max(filter(None, (catalog.reports[rid].date for rid in catalog.visible)), default=None)

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
        return text[min(lo, start):max(hi, end)].strip(), self._info(catalog, report_id)

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

    # --- ingest ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Serialise writers: a thread lock, plus a file lock for an embedded store on disk."""
        if not self._write_lock.acquire(timeout=600):
            raise StoreBusy("Another ingest is still running; try again when it has finished.")
        try:
            if self.settings.server_mode:
                yield
                return
            self.settings.store.mkdir(parents=True, exist_ok=True)
            with open(self.settings.store / ".write.lock", "w") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError as exc:
                    raise StoreBusy(f"Another ingest is writing to {self.settings.store}; try again later.") from exc
                fh.write(str(os.getpid()))
                fh.flush()
                yield
        finally:
            self._write_lock.release()

    def ingest(self, inputs: Sequence[str], progress: Progress | None = None) -> IngestSummary:
        """Ingest files, directories and URLs; a bad input is reported and the rest still lands."""
        summary = IngestSummary()
        with self.writing():
            before = self.store.generation()
            self.store.collect_garbage()  # leftovers of an ingest that crashed
            self.store.upgrade()  # a store written by an older version
            jobs: list[tuple[str, Callable[[], Raw]]] = []
            for ref in inputs:
                if ref.startswith(("http://", "https://")):
                    jobs.append((ref, functools.partial(self._fetch_url, ref)))
                    continue
                path = Path(ref).expanduser()
                if not path.exists():
                    summary.items.append(IngestItem(ref, "failed", reason=f"{ref}: no such file or directory"))
                    continue
                files = list(iter_files(path))
                if path.is_dir() and not files:
                    summary.items.append(IngestItem(ref, "failed", reason=f"{ref}: no supported files inside"))
                for f in files:
                    jobs.append((str(f.resolve()), functools.partial(self._read_file, f)))
            results: list[IngestItem | None] = [None] * len(jobs)
            group: list[tuple[int, Prepared]] = []
            track = Tracker(progress, len(jobs))

            def flush() -> None:
                texts = [t for _, prep in group for t in prep.texts]
                vectors = track.embed(self.embedder, texts, group[0][1].key, len(group))
                bounds = np.cumsum([0] + [len(prep.texts) for _, prep in group])
                done = self._finish([(prep, vectors[bounds[n]:bounds[n + 1]]) for n, (_, prep) in enumerate(group)])
                for (slot, _), item in zip(group, done, strict=True):
                    results[slot] = item
                group.clear()

            for n, (key, reader) in enumerate(jobs):
                track.tell("reading", key, current=n + 1)
                got = self._prepare(key, reader)
                if isinstance(got, IngestItem):
                    results[n] = got
                    track.finished += 1
                    continue
                group.append((n, got))
                if sum(len(prep.texts) for _, prep in group) >= ENCODE_GROUP or len(group) >= COMMIT_GROUP:
                    flush()
            if group:
                flush()
            summary.items.extend(item for item in results if item is not None)
        track.tell("indexing")
        self.refresh_keywords(unless_at=before)
        track.tell("done")
        return summary

    def ingest_bytes(self, data: bytes, name: str, source_key: str, *, url: str | None = None,
                     progress: Progress | None = None) -> IngestItem:
        """Ingest one uploaded document (the bot's /add); ``source_key`` identifies it for updates."""
        if len(data) > self.settings.max_file_mb * 1e6:
            return IngestItem(source_key, "failed", reason=f"{name}: over the {self.settings.max_file_mb:.0f} MB limit")
        track = Tracker(progress, 1)
        with self.writing():
            before = self.store.generation()
            track.tell("reading", name, current=1)
            got = self._prepare(source_key, lambda: Raw(data, name, None, url))
            item = got if isinstance(got, IngestItem) else self._finish(
                [(got, track.embed(self.embedder, got.texts, name, 1))])[0]
        track.tell("indexing")
        self.refresh_keywords(unless_at=before)
        track.tell("done")
        return item

    def refresh_keywords(self, *, unless_at: str | None = None) -> None:
        """Bring the keyword index up to the store's generation now (and save it to the cache),
        unless the generation is still ``unless_at`` (the write changed nothing).

        The writer pays for the rebuild, so the next question, in this process or in one that
        starts later and loads the cache, does not.
        """
        try:
            if unless_at is not None and self.store.generation() == unless_at:
                return
            self.searcher.keyword_index(self.store.snapshot())
        except Exception:  # the write itself succeeded; the next question rebuilds instead
            log.warning("keyword index refresh after a write failed", exc_info=True)

    def _read_file(self, path: Path) -> Raw:
        return Raw(read_file(path, max_bytes=int(self.settings.max_file_mb * 1e6)), str(path), None, None)

    def _fetch_url(self, url: str) -> Raw:
        s = self.settings
        page = fetch(url, max_bytes=int(s.max_page_mb * 1e6), timeout=s.fetch_timeout,
                     allow_private=s.allow_private_urls, allowed_hosts=s.allowed_url_hosts)
        kind = kind_of(page)
        if kind is None:
            raise LoadError(f"{url}: unsupported content type {page.content_type or 'unknown'}")
        return Raw(page.data, url, kind, page.url)

    def _prepare(self, key: str, reader: Callable[[], Raw]) -> IngestItem | Prepared:
        """Read, parse and chunk one input; an IngestItem when nothing needs embedding."""
        catalog = self.store.snapshot()
        old = catalog.sources.get(key)
        try:
            raw = reader()
            # Unchanged bytes under the same source: a no-op that skips parsing entirely.
            if old and old["report_id"] in catalog.reports and old.get("raw_sha") == hashlib.sha256(raw.data).hexdigest():
                rec = catalog.reports[old["report_id"]]
                return IngestItem(key, "unchanged", rec.report_id, rec.title, rec.chunks)
            doc = load_bytes(raw.data, raw.name, kind=raw.kind, url=raw.url)
        except LoadError as exc:
            return IngestItem(key, "failed", reason=str(exc))
        except Exception as exc:  # a loader bug must not sink the batch; the log keeps the trace
            log.exception("unexpected error loading %s", key)
            return IngestItem(key, "failed", reason=f"{key}: unexpected error ({type(exc).__name__})")
        if not key.startswith(("http://", "https://")) and Path(key).is_absolute():
            doc.path = key
        if doc.report_id in catalog.reports:  # stored already: nothing to embed
            return self._finish([(Prepared(key, doc, [], []), np.zeros((0, 0), dtype=np.float32))])[0]
        chunks = chunking.chunk_text(doc.text)
        return Prepared(key, doc, chunks, [doc.text[s:e] for c in chunks for s, e in c.sentences])

    def _finish(self, prepared: Sequence[tuple[Prepared, np.ndarray]]) -> list[IngestItem]:
        """Store prepared reports (or just point their sources at stored copies) and commit them in
        one catalog write; an item per report, in order."""
        catalog = self.store.snapshot()  # fresh: a report prepared a moment ago may be stored since
        points = {key: s["report_id"] for key, s in catalog.sources.items()}
        stored = {rid: (rec.title, rec.chunks) for rid, rec in catalog.reports.items()}
        writes: list[ReportVectors] = []
        commits: list[Commit] = []
        items: list[IngestItem] = []
        orphans = False
        for prep, vectors in prepared:
            key, doc, rid = prep.key, prep.doc, prep.doc.report_id
            old = points.get(key)
            orphans |= old is not None and old != rid
            points[key] = rid
            if rid in stored:  # same text: new bytes, a new source, or a copy earlier in this group
                title, count = stored[rid]
                commits.append(Commit({"report_id": rid}, None, key, doc.raw_sha))
                items.append(IngestItem(key, "unchanged" if old == rid else "duplicate", rid, title, count))
                continue
            chunks = prep.chunks
            if not chunks:  # prepared as a copy of a stored report that has gone since: chunk and embed it now
                chunks = chunking.chunk_text(doc.text)
                vectors = self.embedder.embed([doc.text[s:e] for c in chunks for s, e in c.sentences])
            writes.append(ReportVectors.of(doc, chunks, vectors))
            record = {
                "report_id": rid, "title": doc.title[:300], "publisher": doc.publisher or "", "date": doc.date or "",
                "url": doc.url or "", "path": doc.path or "", "chunks": len(chunks), "chars": len(doc.text),
                "added_at": time.time(), "pages": json.dumps(doc.pages), "sentences": len(vectors),
            }
            commits.append(Commit(record, doc.text, key, doc.raw_sha))
            stored[rid] = (doc.title, len(chunks))
            items.append(IngestItem(key, "new" if old is None else "updated", rid, doc.title, len(chunks)))
        self.store.write_vectors(writes)
        self.store.commit(commits)
        if orphans:  # a source moved to another report: the old one may have no source left
            self.store.collect_garbage()
        return items


@dataclass(frozen=True, slots=True)
class Prepared:
    """A parsed, chunked report waiting for its sentence vectors."""

    key: str
    doc: Document
    chunks: list[chunking.Chunk]
    texts: list[str]  # sentence texts, in chunk order

