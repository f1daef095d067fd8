"""Chroma as the one source of truth: chunk vectors (each carrying its sentences' vectors), and a
catalog that commits reports.

A report becomes visible in one ``upsert`` of the catalog (its report record, the source record
that points at it and a new generation) after all its vectors are written, so a search never sees
half a report, and an update switches a source from the old version to the new one at once. An
ingest commits the reports it encoded together in that one upsert.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings

from .catalog import Catalog, record_of
from .embed import chunk_vectors
from .errors import StoreUnavailable
from .settings import Settings

if TYPE_CHECKING:
    from .chunk import Chunk
    from .load import Document

# Chroma refuses batches over ~5,461 records per add; stay well under it.
BATCH = 2000
_DUMMY = [1.0]  # catalog records carry no meaningful vector
CATALOG_PAGE = 500
# HNSW candidate list per query. Chroma's default of 100 returned only 96.8% of the exact 40 nearest
# chunks on the ISW questions (worst question: 62%), and the graph differs between processes, so a
# question could rank differently after a restart. 500 gives 99.8%, for ~0.3 ms more per query at
# 100k chunks.
EF_SEARCH = 500
# A chunk's sentence vectors ride in its own metadata as float16 (cosines move by < 0.001), not in
# a collection of their own: Chroma holds a whole HNSW index in memory once a collection is touched,
# and one over ~4.5 sentences per chunk cost 910 MB of RSS at 100k chunks. Search never needed a
# nearest-neighbour index over sentences: scoring every candidate chunk's sentences exactly ranked
# as well on the tuning questions (SQuAD tuning split hit@1 0.835 either way; ISW tuning sets
# within one question).
SENTENCE_VECTORS = "svec"


@dataclass(frozen=True, slots=True)
class ReportVectors:
    """One report's chunk rows, texts and vectors, as ``write_vectors`` stores them."""

    report_id: str
    rows: list[dict[str, Any]]
    texts: list[str]
    vectors: np.ndarray

    @classmethod
    def of(cls, doc: Document, chunks: Sequence[Chunk], sentence_vecs: np.ndarray) -> ReportVectors:
        """A chunked report in the chunk record layout; ``sentence_vecs`` holds its sentences' vectors in order."""
        date = int(doc.date.replace("-", "")) if doc.date else 0
        rows, at, rid = [], 0, doc.report_id  # the id hashes the whole text: once, not once a chunk
        for seq, c in enumerate(chunks):
            n = len(c.sentences)
            rows.append({"report_id": rid, "seq": seq, "start": c.start, "end": c.end, "n_sent": n, "date": date,
                         "sents": json.dumps([list(span) for span in c.sentences], separators=(",", ":")),
                         SENTENCE_VECTORS: pack_vectors(sentence_vecs[at:at + n])})
            if (page := doc.page_at(c.start)) is not None:
                rows[-1]["page"] = page
            at += n
        owners = np.repeat(np.arange(len(chunks)), [len(c.sentences) for c in chunks])
        lengths = [e - s for c in chunks for s, e in c.sentences]
        return cls(rid, rows, [doc.text[c.start:c.end] for c in chunks],
                   chunk_vectors(sentence_vecs, owners, lengths, len(chunks)))


@dataclass(frozen=True, slots=True)
class Commit:
    """What ``commit`` makes visible: a source pointing at a report, with the report's record and
    text when they are new (``text`` None: the report is stored already)."""

    record: dict[str, Any]
    text: str | None
    source_key: str
    raw_sha: str


def source_id(key: str) -> str:
    """Catalog id of a source key (a resolved path or a URL)."""
    return "source:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def make_client(settings: Settings) -> Any:
    """A Chroma client: a server when ``chroma_host`` is set, else a persistent store on disk."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.chroma_host:
            return chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, ssl=settings.chroma_ssl,
                settings=chroma_settings,
            )
        settings.store.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.store), settings=chroma_settings)
    except Exception as exc:  # connection refused, locked directory, incompatible store
        raise StoreUnavailable(f"cannot open the store: {type(exc).__name__}") from exc


def pack_vectors(vectors: np.ndarray) -> str:
    """Unit vectors as base64 float16, to ride in a metadata string."""
    return base64.b64encode(np.asarray(vectors, dtype="<f2").tobytes()).decode("ascii")


def unpack_vectors(text: str, dim: int) -> np.ndarray:
    """The float32 rows ``pack_vectors`` wrote."""
    return np.frombuffer(base64.b64decode(text), dtype="<f2").astype(np.float32).reshape(-1, dim)


class Store:
    """Typed access to the chunk and catalog collections; every method is synchronous."""

    def __init__(self, client: Any, prefix: str = "briefbot") -> None:
        self.client = client
        self.legacy_name = f"{prefix}_sentences"
        try:
            hnsw = {"hnsw": {"space": "cosine", "ef_search": EF_SEARCH}}
            self.chunks = client.get_or_create_collection(f"{prefix}_chunks", configuration=hnsw,
                                                          embedding_function=None)
            self.catalog = client.get_or_create_collection(f"{prefix}_catalog", embedding_function=None)
            _widen_search(self.chunks)
            # Stores written before sentence vectors moved into chunk metadata keep them in a
            # collection of their own until the next ingest runs ``upgrade``; until then they are read from it.
            names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
            self.legacy = client.get_collection(self.legacy_name, embedding_function=None) if self.legacy_name in names else None
        except Exception as exc:
            raise StoreUnavailable(f"cannot open the store: {type(exc).__name__}") from exc
        self._snapshot: Catalog | None = None
        self._reading = threading.Lock()

    # --- catalog ---------------------------------------------------------------------------------
    def generation(self) -> str:
        """An opaque token that changes whenever a report is committed or forgotten."""
        got = self.catalog.get(ids=["meta:generation"], include=["metadatas"])
        return str(got["metadatas"][0]["value"]) if got["ids"] else ""

    def snapshot(self, *, refresh: bool = True) -> Catalog:
        """The catalog, re-read only when the generation moved (once, for threads asking at once)."""
        gen = self.generation() if refresh or self._snapshot is None else self._snapshot.generation
        if self._snapshot is not None and self._snapshot.generation == gen:
            return self._snapshot
        with self._reading:
            gen = self.generation() if refresh else gen  # another thread's read may have moved past it
            if self._snapshot is not None and self._snapshot.generation == gen:
                return self._snapshot
            cat = Catalog(generation=gen)
            # Ids, then records by id in pages: memory grows with the page (8,752 records at once keep ~120 MB
            # of RSS, pages of 500 ~30 MB), and pages by offset under a filter took 1.4 s, not 0.8, at 100k chunks.
            ids = self.catalog.get(where={"kind": {"$in": ["report", "source"]}}, include=[])["ids"]
            for n in range(0, len(ids), CATALOG_PAGE):
                for meta in self.catalog.get(ids=ids[n:n + CATALOG_PAGE], include=["metadatas"])["metadatas"]:
                    if meta["kind"] == "report":
                        cat.reports[meta["report_id"]] = record_of(meta)
                    else:
                        cat.sources[meta["key"]] = dict(meta)
            self._snapshot = cat
            return cat

    def canonical_text(self, report_id: str) -> str | None:
        """The canonical text of a report, or None when it is not stored."""
        got = self.catalog.get(ids=[f"text:{report_id}", f"report:{report_id}"], include=["documents"])
        # Stores written before texts got records of their own keep the text on the report record.
        docs = {i: d for i, d in zip(got["ids"], got["documents"], strict=True) if d}
        return docs.get(f"text:{report_id}", docs.get(f"report:{report_id}")) if got["ids"] else None

    # --- writing ---------------------------------------------------------------------------------
    def write_vectors(self, reports: Sequence[ReportVectors]) -> None:
        """Write reports' chunks, each row carrying its packed sentence vectors (invisible until ``commit``);
        leftovers of a crash go first. The reports share each Chroma write: one costs ~25 ms however small
        (a SQLite commit), and writing report by report was ~15% of an ISW ingest."""
        if not reports:
            return
        rids = [r.report_id for r in reports]
        self.catalog.upsert(ids=[f"pending:{rid}" for rid in rids], embeddings=[_DUMMY] * len(rids),
                            metadatas=[{"kind": "pending", "report_id": rid, "at": time.time()} for rid in rids])
        self.delete_vectors(*rids)
        rows = [row for r in reports for row in r.rows]
        ids = [f"{row['report_id']}:{row['seq']}" for row in rows]
        texts = [t for r in reports for t in r.texts]
        vectors = np.concatenate([r.vectors for r in reports])
        for i in range(0, len(ids), BATCH):
            self.chunks.add(ids=ids[i:i + BATCH], embeddings=vectors[i:i + BATCH],
                            documents=texts[i:i + BATCH], metadatas=rows[i:i + BATCH])

    def commit(self, commits: Sequence[Commit]) -> None:
        """Make reports visible and point each source key at its report, in one catalog write."""
        if not commits:
            return
        records: dict[str, tuple[dict[str, Any], str]] = {}  # a key named twice: the last one wins
        pending = []
        for c in commits:
            rid = c.record["report_id"]
            records[source_id(c.source_key)] = (
                {"kind": "source", "key": c.source_key, "report_id": rid, "raw_sha": c.raw_sha}, "")
            if c.text is not None:
                # The text has a record of its own: Chroma reads a record's document along with its
                # metadata, so a text on the report record would make every catalog read load every
                # report's text (~260 MB of transient memory at 4,000 reports).
                records[f"report:{rid}"] = ({"kind": "report", **c.record}, "")
                records[f"text:{rid}"] = ({"kind": "text", "report_id": rid}, c.text)
                pending.append(f"pending:{rid}")
        records["meta:generation"] = ({"kind": "meta", "value": uuid.uuid4().hex}, "")
        self.catalog.upsert(ids=list(records), embeddings=[_DUMMY] * len(records),
                            metadatas=[m for m, _ in records.values()], documents=[d for _, d in records.values()])
        if pending:
            self.catalog.delete(ids=pending)

    def unlink(self, source_keys: Sequence[str]) -> None:
        """Remove sources (their reports vanish from search once nothing else points at them)."""
        if source_keys:
            self.catalog.delete(ids=[source_id(k) for k in source_keys])
            self.bump()

    def bump(self) -> None:
        """A new generation: every process re-reads the catalog."""
        self.catalog.upsert(
            ids=["meta:generation"], embeddings=[_DUMMY],
            metadatas=[{"kind": "meta", "value": uuid.uuid4().hex}], documents=[""],
        )

    def upgrade(self) -> int:
        """Bring a store written by an older version up to date; returns how many records moved."""
        from . import legacy

        return legacy.upgrade(self)

    def collect_garbage(self) -> list[str]:
        """Delete reports no source points at, and vectors of ingests that never committed."""
        cat = self.snapshot()
        referenced = {s["report_id"] for s in cat.sources.values()}
        doomed = [rid for rid in cat.reports if rid not in referenced]
        pending = self.catalog.get(where={"kind": "pending"}, include=["metadatas"])
        doomed += [m["report_id"] for m in pending["metadatas"] if m["report_id"] not in cat.reports]
        for rid in doomed:
            self.delete_vectors(rid)
            self.catalog.delete(ids=[f"report:{rid}", f"text:{rid}", f"pending:{rid}"])
        if doomed:
            self.bump()
        return doomed

    def redate(self, report_id: str, date: str | None, chunks: int) -> None:
        """Give a stored report's chunk rows a new date (its record's comes with the next ``commit``)."""
        ids = [f"{report_id}:{seq}" for seq in range(chunks)]
        value = int(date.replace("-", "")) if date else 0
        for i in range(0, len(ids), BATCH):
            self.chunks.update(ids=ids[i:i + BATCH], metadatas=[{"date": value}] * len(ids[i:i + BATCH]))

    def delete_vectors(self, *report_ids: str) -> None:
        """Remove every chunk (and so every sentence vector) of these reports."""
        where = {"report_id": report_ids[0]} if len(report_ids) == 1 else {"report_id": {"$in": list(report_ids)}}
        self.chunks.delete(where=where)
        if self.legacy is not None:
            self.legacy.delete(where=where)

    # --- reading ---------------------------------------------------------------------------------
    def query(self, vector: np.ndarray, n: int, report_ids: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """Nearest chunks as ``(id, cosine)``.

        Ids carry what a search needs (``report:seq``), so no metadata is read: that costs Chroma
        three times the nearest-neighbour search itself.
        """
        where = None
        if report_ids is not None:
            if not report_ids:
                return []
            where = {"report_id": {"$in": list(report_ids)}} if len(report_ids) > 1 else {"report_id": report_ids[0]}
        got = self.chunks.query(query_embeddings=[vector], n_results=n, where=where, include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(got["ids"][0], got["distances"][0], strict=True)]

    def get(self, ids: Sequence[str], *, embeddings: bool = False, documents: bool = False,
            ) -> dict[str, tuple[dict[str, Any], Any, Any]]:
        """Chunks by id: ``{id: (metadata, embedding or None, document or None)}``."""
        if not ids:
            return {}
        include = ["metadatas"] + (["embeddings"] if embeddings else []) + (["documents"] if documents else [])
        got = self.chunks.get(ids=list(ids), include=include)
        embs = got.get("embeddings")
        docs = got.get("documents")
        return {
            i: (got["metadatas"][n], None if embs is None else embs[n], None if docs is None else docs[n])
            for n, i in enumerate(got["ids"])
        }

    def sentence_vectors(self, metas: dict[str, dict[str, Any]], dim: int) -> dict[str, np.ndarray]:
        """Each chunk's sentence vectors (``n_sent`` rows), from its metadata or, in a store not yet
        upgraded, from the old sentence collection."""
        out = {cid: unpack_vectors(m[SENTENCE_VECTORS], dim) for cid, m in metas.items() if SENTENCE_VECTORS in m}
        missing = {cid: m for cid, m in metas.items() if cid not in out}
        if missing and self.legacy is not None:
            from . import legacy

            for cid, (vectors, spans) in legacy.sentence_rows(self, missing).items():
                out[cid] = vectors
                if "sents" not in metas[cid]:  # stores older still kept the spans with the vectors
                    metas[cid]["sents"] = json.dumps([list(span) for span in spans])
        return out

    def chunk_ids(self) -> list[str]:
        """Every stored chunk id, in Chroma's order."""
        return list(self.chunks.get(include=[])["ids"])

    def iter_chunks(self, page: int = 1000, *, metadatas: bool = True,
                    ids: Sequence[str] | None = None) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every stored chunk, or those of ``ids`` in that order, as ``(id, text, metadata or {})``,
        paged (to rebuild the keyword index, which needs no metadata: a chunk's metadata carries
        its sentence vectors, ~5 KB).

        The ids come first, in one read, then the rows by id: Chroma reads a page by id faster than by
        offset (100k chunks: 9.5 s against 17.8 s, in the same order)."""
        ids = self.chunk_ids() if ids is None else ids
        for at in range(0, len(ids), page):
            want = ids[at:at + page]
            got = self.chunks.get(ids=list(want), include=["documents", *(["metadatas"] if metadatas else [])])
            metas = got["metadatas"] if metadatas else [{}] * len(got["ids"])
            rows = {cid: (cid, text, meta) for cid, text, meta in zip(got["ids"], got["documents"], metas, strict=True)}
            yield from (rows[cid] for cid in want if cid in rows)

    def counts(self) -> tuple[int, int]:
        """Stored chunk and sentence vectors (of visible reports)."""
        cat = self.snapshot()
        return self.chunks.count(), sum(cat.reports[rid].sentences for rid in cat.visible)


def _widen_search(col: Any) -> None:
    """Raise a collection's ``ef_search`` to EF_SEARCH (collections created by older versions have 100)."""
    hnsw = (col.configuration_json or {}).get("hnsw") or {}
    if int(hnsw.get("ef_search") or 0) < EF_SEARCH:
        col.modify(configuration={"hnsw": {"ef_search": EF_SEARCH}})
