"""The write side of ``Briefbot``: ingest files, directories, URLs and uploads, one writer at a time."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import chunk as chunking
from .catalog import ReportRecord
from .embed import Embedder
from .errors import LoadError, StoreBusy
from .fetch import fetch, kind_of
from .load import Document, Raw, iter_files, load_bytes, magic, read_file, unsupported
from .progress import Progress, Tracker
from .search import Searcher
from .settings import Settings
from .store import Commit, ReportVectors, Store
from .types import IngestItem, IngestSummary

log = logging.getLogger(__name__)

# An ingest encodes the sentences of several reports in one model call once this many are waiting:
# the model sorts a call's texts by length, so bigger calls waste less on padding (~2x faster
# than a call per report on the ISW assessments). The group is then written and committed together.
ENCODE_GROUP = 1024
# ... and at most this many reports, so a group's catalog write (3 records a report) stays well under
# Chroma's ~5,461 records a write however short the reports.
COMMIT_GROUP = 256


class Ingesting:
    """Ingest and the write lock, mixed into ``Briefbot`` (which sets these attributes)."""

    settings: Settings
    store: Store
    embedder: Embedder
    searcher: Searcher
    _write_lock: threading.Lock

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
            skipped: list[IngestItem] = []  # a directory's files of types not read
            store = self.settings.store.resolve()  # never read as a report, though it sits in a directory ingested
            for ref in inputs:
                if ref.startswith(("http://", "https://")):
                    jobs.append((ref, functools.partial(self._fetch_url, ref)))
                    continue
                path = Path(ref).expanduser()
                try:
                    if not path.exists():
                        summary.items.append(IngestItem(ref, "failed", reason=f"{ref}: no such file or directory"))
                        continue
                    found = [(f, read) for f, read in iter_files(path) if not f.resolve().is_relative_to(store)]
                except OSError as exc:  # a directory on the way that may not be read: this input fails alone
                    summary.items.append(IngestItem(ref, "failed", reason=f"{ref}: cannot read ({exc.strerror or exc})"))
                    continue
                files = [f for f, read in found if read]
                if path.is_dir() and not files:
                    summary.items.append(IngestItem(ref, "failed", reason=f"{ref}: no supported files inside"))
                for f in files:
                    jobs.append((str(f.resolve()), functools.partial(self._read_file, f)))
                skipped.extend(IngestItem(str(f.resolve()), "skipped", reason=f"{f}: {unsupported(f.suffix)}")
                               for f, read in found if not read)
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
            summary.items.extend(skipped)
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
        kind = kind_of(page) or magic(page.data)
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
                rec = catalog.reports.get(rid)
                if old == rid and rec is not None and (fixed := corrected(rec, doc)) is not None:
                    # The same source with its title, date or link corrected (front matter edited):
                    # the record follows, and the chunk rows' dates that date filters read.
                    if fixed["date"] != (rec.date or ""):
                        self.store.redate(rid, doc.date, rec.chunks)
                    commits.append(Commit(fixed, doc.text, key, doc.raw_sha))
                    stored[rid] = (doc.title, count)
                    items.append(IngestItem(key, "updated", rid, doc.title, count))
                    continue
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


def corrected(rec: ReportRecord, doc: Document) -> dict[str, Any] | None:
    """The stored record with ``doc``'s title, publisher, date and link, when any of them differ; else None."""
    fresh = {"title": doc.title[:300], "publisher": doc.publisher or "", "date": doc.date or "", "url": doc.url or ""}
    if fresh == {"title": rec.title, "publisher": rec.publisher or "", "date": rec.date or "", "url": rec.url or ""}:
        return None
    return {"report_id": rec.report_id, **fresh, "path": rec.path or "", "chunks": rec.chunks, "chars": rec.chars,
            "added_at": rec.added_at, "pages": json.dumps([list(p) for p in rec.pages]), "sentences": rec.sentences}


@dataclass(frozen=True, slots=True)
class Prepared:
    """A parsed, chunked report waiting for its sentence vectors."""

    key: str
    doc: Document
    chunks: list[chunking.Chunk]
    texts: list[str]  # sentence texts, in chunk order

